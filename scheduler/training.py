"""Training and evaluating a scikit-learn model on a Frame, deterministically.

The estimator is named by import path (`sklearn.ensemble.RandomForestClassifier`
or a `module:function` returning an estimator/Pipeline) with params from the
config. The split depends only on `seed` and `test_size`, so the version in
production can be scored on exactly the rows the candidate was held out on.
Every problem raises TrainingError with one line for the stage record.
"""

from __future__ import annotations

import importlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lookout.scheduler import safefs, serving, usercode
from lookout.scheduler.frame import Frame
from lookout.scheduler.workspace import Workspace
from lookout.storage.records import Version

ARTIFACT_FORMAT = 1


class TrainingError(Exception):
    """Why a model could not be trained or scored, in one line."""


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions
    test: np.ndarray


@dataclass
class Trained:
    """What `train` produced: the bundle saved as the artifact, and where it is."""

    bundle: dict[str, Any]
    path: Path
    sha256: str


def build_estimator(path: str, params: dict[str, Any], code: Path | None = None) -> Any:
    """Import `package.module.Class` (or `module:factory`, which may live in the workspace's
    code folder `code`) and construct it with `params`."""
    parts = usercode.split(path)
    if parts is None:
        raise TrainingError(f'estimator "{path}": expected an import path like "sklearn.svm.SVC"')
    module_name, attr = parts
    try:
        module = (
            usercode.import_module(code, module_name)
            if code is not None
            else importlib.import_module(module_name)
        )
    except Exception as exc:
        raise TrainingError(f'estimator "{path}": cannot import {module_name}: {exc}') from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise TrainingError(f'estimator "{path}": {module_name} has no callable {attr}')
    try:
        estimator = factory(**params)
    except Exception as exc:
        raise TrainingError(f'estimator "{path}": bad params: {exc}') from None
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise TrainingError(f'estimator "{path}": not an estimator (no fit/predict)')
    return estimator


def feature_names(
    frame: Frame, model_cfg: dict[str, Any], exclude: tuple[str, ...] = ()
) -> list[str]:
    """The configured features, or every column but the target (and timestamp)."""
    target = model_cfg["target"]
    features = list(model_cfg.get("features") or [])
    if not features:
        features = [n for n in frame.names if n != target and n not in exclude]
    missing = [f for f in [*features, target] if f not in frame.columns]
    if missing:
        raise TrainingError(f"data has no column {', '.join(repr(m) for m in missing)}")
    if not features:
        raise TrainingError("no feature columns (the data holds only the target)")
    return features


def encoders(frame: Frame, categorical: list[str]) -> dict[str, list[str]]:
    """For each categorical feature, its known values (their position is the code)."""
    return {
        c: sorted({str(v) for v in frame[c].tolist()}) for c in categorical if c in frame.columns
    }


def matrix(frame: Frame, features: list[str], codes: dict[str, list[str]]) -> np.ndarray:
    """A float matrix for scikit-learn; categories become codes (-1 when unseen)."""
    cols = []
    for name in features:
        values = frame[name]
        if name in codes:
            index = {v: i for i, v in enumerate(codes[name])}
            cols.append(np.array([index.get(str(v), -1) for v in values.tolist()], dtype=float))
        elif frame.kinds.get(name) == "string":
            raise TrainingError(
                f'feature "{name}" holds text; list it under the model\'s "categorical" features'
            )
        else:
            cols.append(values.astype(float))
    x = np.column_stack(cols) if cols else np.empty((frame.rows, 0))
    if np.isinf(x).any():
        bad = [features[i] for i in np.where(np.isinf(x).any(axis=0))[0]]
        raise TrainingError(f"feature {', '.join(repr(b) for b in bad)} has infinite values")
    return x


def target(frame: Frame, name: str, task: str) -> np.ndarray:
    y = frame[name]
    if frame.kinds.get(name) == "string":
        if task == "regression":
            raise TrainingError(f'target "{name}" holds text, a regression needs numbers')
        if (y == "").any():
            raise TrainingError(f'target "{name}" has {int((y == "").sum())} missing values')
        return y
    y = y.astype(float)
    if not np.isfinite(y).all():
        raise TrainingError(
            f'target "{name}" has {int((~np.isfinite(y)).sum())} missing or infinite values'
        )
    return y


def split(y: np.ndarray, test_size: float, seed: int, task: str) -> Split:
    """The same rows for the same data, seed and size; stratified for classification."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    if n < 4:
        raise TrainingError(f"{n} rows are too few to split into training and test data")
    idx = np.arange(n)
    stratify = None
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        if len(counts) < 2:
            raise TrainingError("the target has a single class; a classifier needs two or more")
        if counts.min() >= 2 and math.ceil(n * test_size) >= len(counts):
            stratify = y
    try:
        train_idx, test_idx = train_test_split(
            idx, test_size=test_size, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise TrainingError(f"cannot split the data: {exc}") from None
    return Split(np.sort(train_idx), np.sort(test_idx))


def fit(estimator: Any, x: np.ndarray, y: np.ndarray, features: list[str]) -> Any:
    try:
        estimator.fit(x, y)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        nan_cols = [features[i] for i in np.where(np.isnan(x).any(axis=0))[0]]
        hint = f" (missing values in {', '.join(nan_cols[:5])})" if nan_cols else ""
        raise TrainingError(f"fit failed: {type(exc).__name__}: {first}{hint}") from None
    return estimator


def save(bundle: dict[str, Any], base: Path, path: Path) -> str:
    """Write the bundle with joblib at `path` under the artifacts directory `base`: to a
    temporary name, flushed, then renamed, never through a symlink. Returns its sha256."""
    import joblib

    # The umask decides the mode (a shared workspace's daemon runs with 027: the group
    # reads the artifact, nobody else).
    tmp = f".{path.name}.{os.getpid()}.tmp"
    with safefs.directory(base, path.parent, create=True) as dfd:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(tmp, flags, safefs.FILE_MODE, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                joblib.dump(bundle, f)
                f.flush()
                os.fsync(f.fileno())
            safefs.rename(dfd, tmp, path.name)
        except BaseException:
            safefs.unlink(dfd, tmp)
            raise
    return safefs.sha256(base, path)


def load_version(ws: Workspace, version: Version) -> dict[str, Any]:
    """A version's bundle: its artifact is read once and checked against the recorded
    sha256 before joblib unpickles it (a pickle runs code; only the approved one may)."""
    import joblib

    try:
        data = serving.load_verified(ws, version)
    except serving.ServingError as exc:
        raise TrainingError(str(exc)) from None
    try:
        bundle = joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise TrainingError(f"{version.artifact_path}: cannot load the model: {exc}") from None
    if not isinstance(bundle, dict) or "estimator" not in bundle:
        raise TrainingError(f"{version.artifact_path}: not a Lookout model artifact")
    return bundle


def predict(bundle: dict[str, Any], frame: Frame, rows: np.ndarray) -> np.ndarray:
    """The bundle's predictions for these rows."""
    x = matrix(frame.take(rows), bundle["features"], bundle["codes"])
    try:
        return np.asarray(bundle["estimator"].predict(x))
    except Exception as exc:
        raise TrainingError(f"predict failed: {type(exc).__name__}: {exc}") from None


def metrics(bundle: dict[str, Any], frame: Frame, rows: np.ndarray) -> dict[str, float]:
    """Accuracy/F1/ROC AUC for classifiers, RMSE/MAE/R² for regressors, on these rows."""
    from sklearn import metrics as m

    part = frame.take(rows)
    x = matrix(part, bundle["features"], bundle["codes"])
    y = target(part, bundle["target"], bundle["task"])
    est = bundle["estimator"]
    pred = predict(bundle, frame, rows)
    if bundle["task"] == "regression":
        pred = np.asarray(pred, dtype=float)
        return {
            "rmse": float(np.sqrt(m.mean_squared_error(y, pred))),
            "mae": float(m.mean_absolute_error(y, pred)),
            "r2": float(m.r2_score(y, pred)) if len(y) > 1 else float("nan"),
        }
    labels = np.unique(y)
    out = {"accuracy": float(m.accuracy_score(y, pred))}
    if len(labels) == 2:
        out["f1"] = float(m.f1_score(y, pred, pos_label=labels[1]))
    else:
        out["f1"] = float(m.f1_score(y, pred, average="macro"))
    auc = _roc_auc(est, x, y, labels)
    if auc is not None:
        out["roc_auc"] = auc
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _roc_auc(est: Any, x: np.ndarray, y: np.ndarray, labels: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    try:
        if hasattr(est, "predict_proba"):
            proba = est.predict_proba(x)
            classes = list(getattr(est, "classes_", labels))
            if len(labels) == 2:
                return float(roc_auc_score(y, proba[:, classes.index(labels[1])]))
            return float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
        if hasattr(est, "decision_function") and len(labels) == 2:
            return float(roc_auc_score(y, est.decision_function(x)))
    except (ValueError, IndexError):
        return None
    return None


def train(
    frame: Frame,
    *,
    model_cfg: dict[str, Any],
    estimator_path: str,
    params: dict[str, Any],
    test_size: float,
    seed: int,
    artifact: Path,
    artifacts: Path,
    exclude: tuple[str, ...] = (),
    code: Path | None = None,
) -> tuple[Trained, Split]:
    """Fit on the training split and save the bundle; returns it with the split used."""
    if frame.rows == 0:
        raise TrainingError("the dataset has no rows")
    task = model_cfg["task"]
    features = feature_names(frame, model_cfg, exclude)
    y_all = target(frame, model_cfg["target"], task)
    sp = split(y_all, test_size, seed, task)
    train_part = frame.take(sp.train)
    codes = encoders(train_part, [c for c in model_cfg.get("categorical") or [] if c in features])
    x = matrix(train_part, features, codes)
    estimator = fit(build_estimator(estimator_path, params, code), x, y_all[sp.train], features)
    bundle = {
        "format": ARTIFACT_FORMAT,
        "estimator": estimator,
        "features": features,
        "codes": codes,
        "target": model_cfg["target"],
        "task": task,
        "estimator_path": estimator_path,
        "params": params,
    }
    sha = save(bundle, artifacts, artifact)
    return Trained(bundle, artifact, sha), sp
