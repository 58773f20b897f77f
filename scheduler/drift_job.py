"""The scheduled drift job: one model's window of logged inputs against its production profile.

`run_drift(ws, model)` loads the window (`models.X.drift.window` as a time
span when set, else the last `window_rows` rows), compares it with the
reference profile of the version `production` points at, adds prediction
drift (logged `prediction` vs the profiled target) and the primary metric on
rows whose labels arrived (joined by `prediction_id`), and records the
result. The model's level is its features' raised by its predictions' drift
(`lookout.scheduler.drift.model_level`).

Two ways to read a window. Up to `exact_rows` rows (default 100 000), while
every batch still has its raw rows, the rows are read and compared exactly;
a time window then keeps exactly the rows inside it. Larger windows, or
windows reaching past the raw rows' retention, merge the batches' profiles
(`lookout.scheduler.profiles`): the cost follows the number of batches, not
rows, each batch counts whole, and KS and Wasserstein carry the sketch's
bound (`FeatureDrift.bound`). The result's window says which (`"mode"`). The first result at `drift` raises one timeline event (dedup key
``drift:MODEL``) and asks for a run of every pipeline of this model with
``triggers.drift = true``, the drift summary in the request (an Airflow DAG gets
it in its conf); later windows of the same episode do neither. The
event is resolved when the model is back to `ok`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from lookout.scheduler.batches import profile_backlog, window_metrics
from lookout.scheduler.config import default_metric
from lookout.scheduler.drift import (
    category_key,
    compare_feature,
    compare_profile,
    model_level,
    summarize,
)
from lookout.scheduler.frame import Frame
from lookout.scheduler.profiles import Window, compare_window, compare_window_feature
from lookout.scheduler.workspace import Workspace
from lookout.storage import drift as drift_store
from lookout.storage import events, registry, scheduling
from lookout.storage.db import now
from lookout.storage.records import Batch, DriftResult, FeatureDrift
from lookout.storage.text import sanitize

DEFAULTS: dict[str, Any] = {
    "window_rows": 5000,
    "window": None,
    "exact_rows": 100_000,
    "method": "auto",
    "share_threshold": 0.5,
    "features": {},
}
REQUESTED_BY = "drift-monitor"
BACKLOG = 50  # batches logged without a profile, profiled per pass before the window is read


def _column(batches: list[Batch], name: str, release: bool = False) -> np.ndarray | None:
    """One column over the window: a zero-copy view for one batch, else one concatenation.

    With `release`, the batches let go of the column's parts as it is built,
    so a window of many batches never holds much more than its own size.
    """
    if any(name not in b.columns for b in batches):
        return None
    parts: list[np.ndarray] = []
    for b in batches:
        raw = b.columns.pop(name) if release else b.columns[name]
        if isinstance(raw, memoryview):
            parts.append(np.frombuffer(raw, dtype="<f8"))
        else:
            parts.append(np.array(raw, dtype=str))
    if len({p.dtype.kind for p in parts}) > 1:
        parts = [p.astype(str) for p in parts]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def window_frame(
    batches: list[Batch], names: list[str], max_rows: int | None, since: float | None
) -> Frame:
    """The window as a Frame of the named columns (those every batch holds), newest rows kept.

    It takes the columns out of the batches as it goes (see `_column`).
    """
    total = sum(b.rows for b in batches)
    keep = slice(max(0, total - max_rows), total) if max_rows is not None else slice(0, total)
    mask: np.ndarray | None = None
    if since is not None:
        ts = _column(batches, drift_store.TIMESTAMP)
        if ts is not None and ts.dtype.kind == "f":
            mask = ~(ts < since)  # rows without a timestamp stay (their batch is recent)
    cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name in names:
        col = _column(batches, name, release=True)
        if col is None:
            continue
        col = col[keep] if mask is None else col[mask]
        cols[name] = col
        kinds[name] = "string" if col.dtype.kind in "US" else "number"
    return Frame(cols, kinds)


def _metrics(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as m

    if task == "regression":
        yf, pf = y.astype(float), pred.astype(float)
        out = {
            "rmse": float(np.sqrt(m.mean_squared_error(yf, pf))),
            "mae": float(m.mean_absolute_error(yf, pf)),
        }
        if len(yf) > 1:
            out["r2"] = float(m.r2_score(yf, pf))
        return out
    if y.dtype.kind == "f" and pred.dtype.kind == "f":
        ys, ps = y, pred
    else:
        ys = np.array([category_key(v) if isinstance(v, float) else str(v) for v in y.tolist()])
        ps = np.array([category_key(v) if isinstance(v, float) else str(v) for v in pred.tolist()])
    labels = np.unique(np.concatenate([ys, ps]))
    out = {"accuracy": float(m.accuracy_score(ys, ps))}
    if len(labels) == 2:
        out["f1"] = float(m.f1_score(ys, ps, pos_label=labels[1]))
    else:
        out["f1"] = float(m.f1_score(ys, ps, average="macro"))
    return out


def performance(
    ws: Workspace, model: str, batches: list[Batch], frame: Frame, task: str, metric: str
) -> dict[str, Any]:
    """The primary metric on window rows whose labels arrived (joined by prediction id)."""
    ids = frame.columns.get(drift_store.PREDICTION_ID)
    pred = frame.columns.get(drift_store.PREDICTION)
    if ids is None or pred is None or not batches:
        return {}
    labels = drift_store.load_window(ws.store, model, "labels", logged_since=batches[0].at)
    if not labels:
        return {"metric": metric, "value": None, "labelled_rows": 0}
    label_ids = _column(labels, drift_store.PREDICTION_ID)
    label_values = _column(labels, drift_store.LABEL)
    if label_ids is None or label_values is None:
        return {"metric": metric, "value": None, "labelled_rows": 0}
    # the newest label wins when one prediction was labelled twice
    rev_ids = label_ids[::-1]
    uniq, first = np.unique(rev_ids, return_index=True)
    _, in_window, in_labels = np.intersect1d(ids, uniq, return_indices=True)
    if not len(in_window):
        return {"metric": metric, "value": None, "labelled_rows": 0}
    y = label_values[::-1][first[in_labels]]
    computed = _metrics(task, y, pred[in_window])
    return {
        "metric": metric,
        "value": computed.get(metric),
        "labelled_rows": len(in_window),
        "metrics": computed,
        "at": now(),
    }


def _error_features(names: list[str], message: str) -> list[FeatureDrift]:
    return [
        FeatureDrift(
            name=n, method="auto", score=None, threshold=math.nan, level="error", error=message
        )
        for n in names
    ]


def run_drift(ws: Workspace, model: str) -> DriftResult | None:
    """Compare the model's current window with its production profile; None if nothing is logged."""
    store = ws.store
    mcfg = ws.config.models.get(model) or {}
    dcfg = {**DEFAULTS, **{k: v for k, v in (mcfg.get("drift") or {}).items() if v is not None}}
    since = now() - float(dcfg["window"]) if dcfg["window"] else None
    max_rows = None if since is not None else int(dcfg["window_rows"])
    production = registry.aliases(store, model).get("production")
    profile = registry.get_profile(store, model, production) if production is not None else None
    names = list((profile or {}).get("features") or mcfg.get("features") or [])
    if not store.readonly:
        profile_backlog(store, BACKLOG, model)
    rows, count, raw = drift_store.window_size(store, model, "inputs", max_rows, since)
    if count and (not raw or rows > int(dcfg["exact_rows"])):
        return _from_profiles(ws, model, dcfg, production, profile, names, max_rows, since)
    special = [drift_store.PREDICTION_ID, drift_store.PREDICTION, drift_store.TIMESTAMP]
    wanted = names + special if names else None
    batches = drift_store.load_window(
        store, model, "inputs", max_rows=max_rows, since=since, columns=wanted
    )
    if not batches:
        return None
    frame = window_frame(batches, names + special, max_rows, since)
    window = _window_info(dcfg, since, frame.rows, batches, "exact")
    error = _no_reference(model, production, profile)
    prediction: dict[str, Any] = {}
    perf: dict[str, Any] = {}
    if error is not None:
        features = _error_features(names, error)
    else:
        assert profile is not None
        features = compare_profile(
            profile, frame, names, method=dcfg["method"], overrides=dcfg["features"]
        )
        reference, against = prediction_reference(profile)
        if reference is not None and drift_store.PREDICTION in frame.columns:
            p = compare_feature(drift_store.PREDICTION, reference, frame)
            prediction = {k: v for k, v in p.__dict__.items() if k != "name"}
            prediction["reference"] = against
        task, metric = _task_and_metric(ws, model, mcfg)
        perf = performance(ws, model, batches, frame, task, metric)
    return _summarize_and_record(
        ws, model, dcfg, production, frame.rows, window, features, prediction, perf, error
    )


def _window_info(
    dcfg: dict[str, Any], since: float | None, rows: int, batches: Sequence[Any], mode: str
) -> dict[str, Any]:
    """What a drift result says of its window; `batches` (raw or profiled) oldest first."""
    return {
        "rows": rows,
        "batches": len(batches),
        "kind": "time" if since is not None else "rows",
        "size": dcfg["window"] if since is not None else dcfg["window_rows"],
        "from": batches[0].first_ts or batches[0].at,
        "to": batches[-1].last_ts or batches[-1].at,
        "mode": mode,
    }


def _no_reference(model: str, production: int | None, profile: dict[str, Any] | None) -> str | None:
    """Why there is nothing to compare the window with, or None."""
    if production is None:
        return f"{model}: no production version to compare with"
    if not (profile or {}).get("features"):
        return f"{model} v{production}: no reference profile"
    return None


def prediction_reference(profile: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """What logged predictions are compared with, and which it is: the model's own
    predictions on held-out rows (`"predictions"`), or for a version registered before those
    were kept, its training target (`"target"`: shown, but it does not move the model's level,
    since a regressor's predictions are narrower than its target even on unchanged data)."""
    if "prediction" in profile:
        return profile["prediction"], "predictions"
    if "target" in profile:
        return profile["target"], "target"
    return None, ""


def _summarize_and_record(
    ws: Workspace,
    model: str,
    dcfg: dict[str, Any],
    production: int | None,
    rows: int,
    window: dict[str, Any],
    features: list[FeatureDrift],
    prediction: dict[str, Any],
    perf: dict[str, Any],
    error: str | None,
) -> DriftResult:
    level, share = summarize(features, float(dcfg["share_threshold"]))
    counted = prediction.get("level") if prediction.get("reference") == "predictions" else None
    level = model_level(level, counted)
    if error is None and level == "error":
        error = next((f.error for f in features if f.level == "error"), "no features to compare")
    return _record(
        ws, model, production, level, share, rows, window, features, prediction, perf, error
    )


def _task_and_metric(ws: Workspace, model: str, mcfg: dict[str, Any]) -> tuple[str, str]:
    info = registry.get_model(ws.store, model)
    task = info.task if info else mcfg.get("task", "classification")
    metric = (info.primary_metric if info else "") or mcfg.get("primary_metric") or ""
    return task, metric or default_metric(task)


def _from_profiles(
    ws: Workspace,
    model: str,
    dcfg: dict[str, Any],
    production: int | None,
    profile: dict[str, Any] | None,
    names: list[str],
    max_rows: int | None,
    since: float | None,
) -> DriftResult | None:
    """The window from its batches' profiles (see the module docstring)."""
    store = ws.store
    profiled = drift_store.load_profiles(store, model, "inputs", max_rows=max_rows, since=since)
    if not profiled:
        return None
    window = Window([b.profile for b in profiled])
    info = _window_info(dcfg, since, window.rows, profiled, "profiles")
    error = _no_reference(model, production, profile)
    prediction: dict[str, Any] = {}
    perf: dict[str, Any] = {}
    if error is not None:
        features = _error_features(names, error)
    else:
        assert profile is not None
        features = compare_window(
            profile, window, names, method=dcfg["method"], overrides=dcfg["features"]
        )
        reference, against = prediction_reference(profile)
        if reference is not None and window.has(drift_store.PREDICTION):
            p = compare_window_feature(drift_store.PREDICTION, reference, window)
            prediction = {k: v for k, v in p.__dict__.items() if k != "name"}
            prediction["reference"] = against
        task, metric = _task_and_metric(ws, model, ws.config.models.get(model) or {})
        labels = drift_store.load_profiles(store, model, "labels", logged_since=profiled[0].at)
        found = window_metrics([b.profile for b in labels], {b.batch_id for b in profiled}, task)
        if labels and drift_store.PREDICTION in (profiled[-1].profile.get("features") or {}):
            if found is None:
                perf = {"metric": metric, "value": None, "labelled_rows": 0}
            else:
                computed, labelled = found
                perf = {
                    "metric": metric,
                    "value": computed.get(metric),
                    "labelled_rows": labelled,
                    "metrics": computed,
                    "at": now(),
                }
    return _summarize_and_record(
        ws, model, dcfg, production, window.rows, info, features, prediction, perf, error
    )


def _record(
    ws: Workspace,
    model: str,
    version: int | None,
    level: str,
    share: float,
    rows: int,
    window: dict[str, Any],
    features: list[FeatureDrift],
    prediction: dict[str, Any],
    perf: dict[str, Any],
    error: str | None,
) -> DriftResult:
    """Store the result; open the episode (event + retraining requests) or close it, atomically."""
    store = ws.store
    key = f"drift:{model}"
    with store.write() as conn:
        result = drift_store.record_result(
            conn, model, version, level, share, rows, window, features, prediction, perf, error
        )
        if level == "drift" and events.open_event(conn, key) is None:
            drifted = [f.name for f in features if f.level == "drift"]
            message = f"{model}: {len(drifted)} of {len(features)} features drifted"
            if drifted:
                message += f" ({', '.join(drifted[:5])}{', …' if len(drifted) > 5 else ''})"
            if prediction.get("level") == "drift":
                message += (
                    f"; predictions drifted ({prediction['method']} {prediction['score']:.3g})"
                )
            events.raise_event(
                conn, "drift", model, sanitize(message, 300, single_line=True), "warn", key
            )
            summary = {
                "model": model,
                "version": version,
                "level": level,
                "share": share,
                "drifted": drifted,
                "rows": rows,
                "at": result.at,
            }
            for name, p in sorted(ws.config.pipelines.items()):
                if p.get("model") == model and (p.get("triggers") or {}).get("drift"):
                    scheduling.submit_request(
                        store,
                        "run_pipeline",
                        name,
                        REQUESTED_BY,
                        {"trigger": "drift", "drift": summary},
                    )
        elif level == "ok":
            events.resolve(conn, key)
    return result
