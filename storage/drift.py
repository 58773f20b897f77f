"""Logged inference batches and drift results.

A batch is stored as one row holding its columns as a compressed NumPy
archive, so a window of a million rows is a handful of rows to read.
"""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any

from storage.db import Store, now
from storage.records import DriftResult, FeatureDrift


def _pack(columns: dict[str, Any]) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    arrays = {f"c{i}": np.asarray(v) for i, v in enumerate(columns.values())}
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _unpack(names: list[str], blob: bytes) -> dict[str, Any]:
    import numpy as np

    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {n: z[f"c{i}"] for i, n in enumerate(names)}


def append_batch(
    store: Store,
    model: str,
    columns: dict[str, Any],
    kind: str = "inputs",
    first_ts: float | None = None,
    last_ts: float | None = None,
) -> int:
    """Append one batch (column name -> 1-d array, all the same length); returns its id.

    Arrays must be numeric or fixed-width unicode (no Python objects), so a
    stored batch can never execute anything when it is read back.
    """
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError("every column of a batch must have the same number of rows")
    rows = lengths.pop()
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO inference_batches (model, kind, at, rows, first_ts, last_ts,"
            " columns_json, data) VALUES (?,?,?,?,?,?,?,?)",
            (
                model,
                kind,
                now(),
                rows,
                first_ts,
                last_ts,
                json.dumps(list(columns)),
                _pack(columns),
            ),
        )
        return int(cur.lastrowid or 0)


def load_window(
    store: Store,
    model: str,
    kind: str = "inputs",
    max_rows: int | None = None,
    since: float | None = None,
) -> list[dict[str, Any]]:
    """The newest batches covering at least `max_rows` rows (or since a time), oldest first."""
    sql = "SELECT rows, columns_json, data FROM inference_batches WHERE model = ? AND kind = ?"
    args: list[Any] = [model, kind]
    if since is not None:
        sql += " AND at >= ?"
        args.append(since)
    sql += " ORDER BY id DESC"
    out: list[dict[str, Any]] = []
    total = 0
    for row in store.conn.execute(sql, args):
        out.append(_unpack(json.loads(row["columns_json"]), row["data"]))
        total += row["rows"]
        if max_rows is not None and total >= max_rows:
            break
    out.reverse()
    return out


def logged_rows(store: Store, model: str, kind: str = "inputs") -> int:
    row = store.conn.execute(
        "SELECT coalesce(sum(rows), 0) FROM inference_batches WHERE model = ? AND kind = ?",
        (model, kind),
    ).fetchone()
    return int(row[0])


def _feature(d: dict[str, Any]) -> FeatureDrift:
    return FeatureDrift(**d)


def _drift(row: sqlite3.Row) -> DriftResult:
    return DriftResult(
        id=row["id"],
        model=row["model"],
        version=row["version"],
        at=row["at"],
        level=row["level"],
        share=row["share"],
        rows=row["rows"],
        window=json.loads(row["window_json"]),
        features=tuple(_feature(f) for f in json.loads(row["features_json"])),
        prediction=json.loads(row["prediction_json"]),
        performance=json.loads(row["performance_json"]),
        error=row["error"],
    )


def record_result(
    conn: sqlite3.Connection,
    model: str,
    version: int | None,
    level: str,
    share: float,
    rows: int,
    window: dict[str, Any],
    features: list[FeatureDrift],
    prediction: dict[str, Any] | None = None,
    performance: dict[str, Any] | None = None,
    error: str | None = None,
) -> DriftResult:
    """Store one drift computation (caller's transaction, so its event commits with it)."""
    cur = conn.execute(
        "INSERT INTO drift_results (model, version, at, level, share, rows, window_json,"
        " features_json, prediction_json, performance_json, error)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            model,
            version,
            now(),
            level,
            share,
            rows,
            json.dumps(window),
            json.dumps([f.__dict__ for f in features]),
            json.dumps(prediction or {}),
            json.dumps(performance or {}),
            error,
        ),
    )
    row = conn.execute("SELECT * FROM drift_results WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _drift(row)


def latest(store: Store, model: str) -> DriftResult | None:
    row = store.conn.execute(
        "SELECT * FROM drift_results WHERE model = ? ORDER BY id DESC LIMIT 1", (model,)
    ).fetchone()
    return _drift(row) if row else None


def history(store: Store, model: str, limit: int = 50) -> list[DriftResult]:
    """Newest first."""
    rows = store.conn.execute(
        "SELECT * FROM drift_results WHERE model = ? ORDER BY id DESC LIMIT ?", (model, limit)
    )
    return [_drift(r) for r in rows]


def models_with_results(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT DISTINCT model FROM drift_results ORDER BY 1")]
