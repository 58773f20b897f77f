"""Logging a batch of inference inputs or labels: checked, profiled once, stored.

`log_batch` is what every way of logging ends in (`lookout log`, the SDK, the
daemon's `log` action): it takes columns (a Frame's, or name -> NumPy arrays
or sequences), checks them against what the model expects, computes the
batch's mergeable profile (`lookout.scheduler.profiles`) and stores both in
one transaction. Drift windows then merge profiles instead of reading rows.

Labels are matched to their predictions when they are logged: the newest
input batches that still hold raw rows (up to ``MATCH_ROWS`` predictions) are
searched for the labels' prediction ids, and per input batch the labelled outcomes are summarised in
mergeable form — a confusion table for classification, sums for regression.
A window's labelled metric merges the summaries of its batches
(`window_metrics`). A prediction labelled twice counts twice in the merged
metric (the raw-rows path keeps the newest label only); within one label
batch the last label of an id wins.

Batches stored without a profile (by an older Lookout, or the standard-library
SDK writing the store directly) are profiled from their raw rows by
`profile_backlog`, which the scheduler runs before pruning raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from lookout.scheduler.drift import category_key
from lookout.scheduler.frame import Frame
from lookout.scheduler.profiles import PROFILE_FORMAT, batch_profile
from lookout.storage import drift as drift_store
from lookout.storage import registry
from lookout.storage.db import Store
from lookout.storage.drift import LABEL, PREDICTION, PREDICTION_ID, TIMESTAMP, BatchError
from lookout.storage.registry import encode_profile

NOT_PROFILED = (PREDICTION_ID, TIMESTAMP)
MATCH_ROWS = 10_000_000  # newest logged predictions searched for a label batch's ids


def as_array(name: str, values: Any) -> np.ndarray:
    """A column as a float64 array (numbers, None as NaN) or a text array."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr
    if arr.dtype == object:
        items = arr.tolist()
        if all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in items
        ):
            return np.array([math.nan if v is None else float(v) for v in items], dtype=float)
        return np.array(["" if v is None else str(v) for v in items], dtype=str)
    if arr.dtype.kind in "US":
        return arr
    raise BatchError(f'column "{name}" has unsupported type {arr.dtype}')


def log_batch(
    store: Store,
    model: str,
    columns: Mapping[str, Any] | Frame,
    kind: str = "inputs",
    first_ts: float | None = None,
    last_ts: float | None = None,
    expected: Mapping[str, str] | None = None,
    task: str | None = None,
) -> int:
    """Check, profile and store one batch; returns its id. Raises BatchError (one line).

    `expected` is `lookout.storage.drift.expected_features`; `task`
    ("classification" or "regression") decides how labels are summarised
    (default: the model's registered task).
    """
    raw = columns.columns if isinstance(columns, Frame) else columns
    if not raw:
        raise BatchError("the batch has no columns")
    cols = {name: as_array(name, values) for name, values in raw.items()}

    def profile() -> bytes:
        if kind == "labels":
            return encode_profile(label_profile(store, model, cols, task))
        return encode_profile(input_profile(store, model, cols, expected))

    return drift_store.append_batch(
        store, model, cols, kind, first_ts, last_ts, expected, profile=profile
    )


def _production_profile(store: Store, model: str) -> dict[str, Any] | None:
    production = registry.aliases(store, model).get("production")
    return registry.get_profile(store, model, production) if production is not None else None


def input_profile(
    store: Store,
    model: str,
    cols: Mapping[str, np.ndarray],
    expected: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An input batch's profile, binned on the production profile's edges."""
    reference = _production_profile(store, model)
    categorical = [n for n, k in (expected or {}).items() if k == "categorical"]
    target = (reference or {}).get("target") or {}
    if target.get("kind") == "categorical":
        categorical.append(PREDICTION)
    if reference and target:  # prediction drift bins on the target's edges
        reference = {"features": {**reference.get("features", {}), PREDICTION: target}}
    return batch_profile(cols, reference, skip=NOT_PROFILED, categorical=categorical)


# -- labels ---------------------------------------------------------------------------


def _keys(values: np.ndarray) -> list[Any]:
    """Labels or predictions as table keys: floats stay numbers, anything else text."""
    if values.dtype.kind == "f":
        return values.tolist()
    return [str(v) for v in values.tolist()]


def _text_keys(values: np.ndarray) -> list[str]:
    if values.dtype.kind == "f":
        return [category_key(v) if math.isfinite(v) else "" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def outcome_stats(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Labelled outcomes in mergeable form (see `merge_stats` and `metrics_from_stats`)."""
    if task == "regression":
        yf, pf = y.astype(float), pred.astype(float)
        err = yf - pf
        mean = float(yf.mean())
        return {  # sums of squares without np.dot, as in profiles (BLAS threads spin)
            "n": len(yf),
            "sq": float(np.square(err).sum()),
            "abs": float(np.abs(err).sum()),
            "mean": mean,
            "m2": float(np.square(yf - mean).sum()),
        }
    if y.dtype.kind == "f" and pred.dtype.kind == "f":
        ys, ps = _keys(y), _keys(pred)
    else:
        ys, ps = _text_keys(y), _text_keys(pred)
    table: dict[tuple[Any, Any], int] = {}
    for pair in zip(ys, ps, strict=True):
        table[pair] = table.get(pair, 0) + 1
    return {"n": len(ys), "confusion": [[a, b, c] for (a, b), c in table.items()]}


def merge_stats(task: str, parts: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Several summaries as one (Chan's formula for the regression target's spread)."""
    parts = [p for p in parts if p.get("n")]
    if not parts:
        return None
    if task == "regression":
        n, mean, m2, sq, ab = 0, 0.0, 0.0, 0.0, 0.0
        for p in parts:
            nb = p["n"]
            delta = p["mean"] - mean
            total = n + nb
            mean += delta * nb / total
            m2 += p["m2"] + delta * delta * n * nb / total
            sq += p["sq"]
            ab += p["abs"]
            n = total
        return {"n": n, "sq": sq, "abs": ab, "mean": mean, "m2": m2}
    table: dict[tuple[Any, Any], int] = {}
    for p in parts:
        for a, b, c in p["confusion"]:
            table[(a, b)] = table.get((a, b), 0) + int(c)
    return {"n": sum(table.values()), "confusion": [[a, b, c] for (a, b), c in table.items()]}


def metrics_from_stats(task: str, stats: Mapping[str, Any]) -> dict[str, float]:
    """The metrics `lookout.scheduler.drift_job` computes from rows, from a summary.

    Regression: rmse, mae, r2 (as scikit-learn: 1.0 for a perfect fit of a
    constant target, else 0.0 when the target does not vary). Classification:
    accuracy, and f1 of the second of the sorted labels when there are two
    (macro f1 otherwise), with 0 where a class was never predicted or seen.
    """
    n = int(stats["n"])
    if task == "regression":
        out = {"rmse": math.sqrt(stats["sq"] / n), "mae": stats["abs"] / n}
        if n > 1:
            ss_tot = stats["m2"]
            if ss_tot:
                out["r2"] = 1 - stats["sq"] / ss_tot
            else:
                out["r2"] = 1.0 if stats["sq"] == 0 else 0.0
        return out
    table = {(a, b): int(c) for a, b, c in stats["confusion"]}
    labels = sorted({a for a, _ in table} | {b for _, b in table})
    correct = sum(c for (a, b), c in table.items() if a == b)
    out = {"accuracy": correct / n}

    def f1(label: Any) -> float:
        tp = table.get((label, label), 0)
        fp = sum(c for (a, b), c in table.items() if b == label and a != label)
        fn = sum(c for (a, b), c in table.items() if a == label and b != label)
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    if len(labels) == 2:
        out["f1"] = f1(labels[1])
    else:
        out["f1"] = float(np.mean([f1(label) for label in labels]))
    return out


def _model_task(store: Store, model: str) -> str:
    info = registry.get_model(store, model)
    return info.task if info else "classification"


def label_profile(
    store: Store, model: str, cols: Mapping[str, np.ndarray], task: str | None = None
) -> dict[str, Any]:
    """A label batch's profile: per input batch holding its predictions, the outcomes' summary."""
    task = task or _model_task(store, model)
    ids = _text_keys(cols[PREDICTION_ID])
    labels = cols[LABEL]
    # the last label of an id in this batch wins
    last: dict[str, int] = {}
    for i, k in enumerate(ids):
        last[k] = i
    wanted = np.array(list(last), dtype=str)
    at = np.fromiter(last.values(), dtype=np.int64, count=len(last))
    matched: dict[str, Any] = {}
    searched = 0
    for batch_id, rows in drift_store.recent_batches(store, model, "inputs"):
        if not len(wanted) or searched >= MATCH_ROWS:
            break
        searched += rows
        batch = drift_store.load_batch(store, batch_id, (PREDICTION_ID, PREDICTION))
        if batch is None or PREDICTION_ID not in batch.columns or PREDICTION not in batch.columns:
            continue
        found_ids = np.asarray(batch.columns[PREDICTION_ID], dtype=str)
        raw_pred = batch.columns[PREDICTION]
        pred = (
            np.frombuffer(raw_pred, dtype="<f8")
            if isinstance(raw_pred, memoryview)
            else np.asarray(raw_pred, dtype=str)
        )
        _, in_batch, in_wanted = np.intersect1d(found_ids, wanted, return_indices=True)
        if not len(in_batch):
            continue
        matched[str(batch_id)] = outcome_stats(task, labels[at[in_wanted]], pred[in_batch])
        keep = np.ones(len(wanted), dtype=bool)
        keep[in_wanted] = False
        wanted, at = wanted[keep], at[keep]
    return {
        "format": PROFILE_FORMAT,
        "rows": len(ids),
        "features": {},
        "task": task,
        "matched": matched,
    }


def window_metrics(
    labels: list[Mapping[str, Any]], input_batches: set[int], task: str
) -> tuple[dict[str, float], int] | None:
    """Merged metrics of the labels matched to `input_batches`, and how many rows they cover."""
    parts = [
        stats
        for profile in labels
        for batch_id, stats in (profile.get("matched") or {}).items()
        if int(batch_id) in input_batches
    ]
    merged = merge_stats(task, parts)
    if merged is None:
        return None
    return metrics_from_stats(task, merged), int(merged["n"])


# -- batches logged without a profile --------------------------------------------------


def profile_backlog(store: Store, limit: int = 10, model: str | None = None) -> int:
    """Profile up to `limit` batches stored without one, from their raw rows; returns how many."""
    done = 0
    for batch_id in drift_store.unprofiled_batches(store, limit, model):
        batch = drift_store.load_batch(store, batch_id)
        if batch is None:
            continue
        cols: dict[str, np.ndarray] = {}
        for name, raw in batch.columns.items():
            if isinstance(raw, memoryview):
                cols[name] = np.frombuffer(raw, dtype="<f8")
            else:
                cols[name] = np.asarray(raw, dtype=str)
        if batch.kind == "labels":
            profile = label_profile(store, batch.model, cols)
        else:
            expected = drift_store.expected_features(store, batch.model)
            profile = input_profile(store, batch.model, cols, expected)
        drift_store.set_batch_profile(store, batch, encode_profile(profile))
        done += 1
    return done
