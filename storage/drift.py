"""Logged inference batches and drift results.

A batch is ONE row whose blob holds every column back to back, so a window of
a million rows is a handful of rows to read. The encoding needs only the
standard library (storage never imports NumPy):

- numeric columns: little-endian float64 bytes, 8-byte aligned in the blob, so
  the drift engine reads them with `numpy.frombuffer(view, "<f8")` without a copy;
- text columns: a zlib-compressed JSON list of strings.

`columns_json` describes the layout: ``[{"name", "type": "f8"|"str", "offset",
"size"}]``. NumPy arrays are accepted by duck typing (`.dtype`, `.astype`,
`.tobytes`), as are plain sequences. Nothing is pickled, so reading a batch
can never execute anything.

Column names with a meaning: `prediction_id` (text, joins labels to inputs),
`prediction`, `timestamp` (epoch seconds) and, in label batches, `label`.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import zlib
from array import array
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.records import Batch, DriftResult, FeatureDrift
from lookout.storage.registry import decode_profile

F8 = "f8"
TEXT = "str"
PREDICTION_ID = "prediction_id"
PREDICTION = "prediction"
TIMESTAMP = "timestamp"
LABEL = "label"
SPECIAL = (PREDICTION_ID, PREDICTION, TIMESTAMP, LABEL)
# SQLite refuses blobs over 1e9 bytes; bigger batches are split into rows of at most this.
MAX_BLOB = 512 << 20
Buffer = bytes | memoryview


class BatchError(ValueError):
    """A batch that cannot be logged; the message is one line naming the column."""


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, str))


def encode_column(name: str, values: Any) -> tuple[str, Buffer, int]:
    """(type, encoded bytes, rows) for one column: float64 bytes or compressed JSON text.

    A contiguous little-endian float64 array is taken as it is (a byte view,
    no copy), so logging a batch holds little more than the batch itself.
    """
    dtype = getattr(values, "dtype", None)
    if dtype is not None and hasattr(values, "tobytes") and hasattr(values, "astype"):
        if getattr(values, "ndim", 1) != 1:
            raise BatchError(f'column "{name}" is not one-dimensional')
        if dtype.kind in "fiub":
            f8 = values if dtype.str == "<f8" else values.astype("<f8")
            try:
                return F8, memoryview(f8).cast("B"), len(values)
            except (TypeError, ValueError, BufferError):  # not contiguous
                return F8, f8.tobytes(), len(values)
        if dtype.kind not in "USO":
            raise BatchError(f'column "{name}" has unsupported type {dtype}')
        values = values.tolist()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | array):
        raise BatchError(f'column "{name}" is not a sequence of values')
    items = list(values)
    if all(_is_number(v) for v in items):
        numbers = array("d", (math.nan if v is None else float(v) for v in items))
        if sys.byteorder == "big":
            numbers.byteswap()
        return F8, numbers.tobytes(), len(items)
    text = ["" if v is None else str(v) for v in items]
    return TEXT, zlib.compress(json.dumps(text).encode(), 1), len(items)


def _layout(columns: list[tuple[str, str, Buffer]]) -> tuple[list[dict[str, Any]], int]:
    """Where each column goes in the blob: back to back, numeric ones first, 8-byte aligned."""
    layout: list[dict[str, Any]] = []
    offset = 0
    for name, kind, data in sorted(columns, key=lambda c: c[1] != F8):
        offset += -offset % 8
        layout.append({"name": name, "type": kind, "offset": offset, "size": len(data)})
        offset += len(data)
    return layout, offset


def encode_batch(columns: Mapping[str, Any]) -> tuple[dict[str, tuple[str, Buffer]], int]:
    """Encode every column, checking they all have the same number of rows (at least one)."""
    if not columns:
        raise BatchError("the batch has no columns")
    out: dict[str, tuple[str, Buffer]] = {}
    rows: int | None = None
    for name, values in columns.items():
        kind, data, n = encode_column(name, values)
        if rows is None:
            rows = n
        elif n != rows:
            raise BatchError(f'column "{name}" has {n} rows, expected {rows}')
        out[name] = (kind, data)
    if not rows:
        raise BatchError("the batch is empty (no rows)")
    return out, rows


Encoded = dict[str, tuple[str, Buffer]]


def _split(encoded: Encoded, rows: int) -> list[tuple[Encoded, int]]:
    """Cut a batch bigger than MAX_BLOB into row ranges that each fit."""
    size = sum(len(d) for _, d in encoded.values())
    if size <= MAX_BLOB:
        return [(encoded, rows)]
    step = max(1, rows * MAX_BLOB // size)
    texts = {n: json.loads(zlib.decompress(d)) for n, (k, d) in encoded.items() if k == TEXT}
    chunks = []
    for start in range(0, rows, step):
        chunk: dict[str, tuple[str, Buffer]] = {}
        for name, (kind, data) in encoded.items():
            if kind == F8:
                chunk[name] = (F8, data[start * 8 : (start + step) * 8])
            else:
                part = json.dumps(texts[name][start : start + step]).encode()
                chunk[name] = (TEXT, zlib.compress(part, 1))
        chunks.append((chunk, min(step, rows - start)))
    return chunks


def append_batch(
    store: Store,
    model: str,
    columns: Mapping[str, Any],
    kind: str = "inputs",
    first_ts: float | None = None,
    last_ts: float | None = None,
    expected: Mapping[str, str] | None = None,
    profile: bytes | Callable[[], bytes] | None = None,
) -> int:
    """Append one batch (column name -> values, all the same length); returns its id.

    With `expected` (or for labels) the batch is checked first (`check_batch`).
    A batch too big for one SQLite row becomes several consecutive rows, all
    written in one transaction (so a reader sees all of it or none). Its
    `profile` (`lookout.scheduler.profiles`, packed; or a function giving it,
    called once the batch passed its checks) is stored in the same
    transaction, under the first row's id. Columns are written straight into
    the row's blob (incremental blob I/O), never joined into one copy first.
    """
    encoded, rows = encode_batch(columns)
    if expected is not None or kind == "labels":
        check_batch(encoded, expected, kind)
    if callable(profile):
        profile = profile()
    first_id = 0
    at = now()
    with store.write() as conn:
        for chunk, n in _split(encoded, rows):
            parts = [(name, k, d) for name, (k, d) in chunk.items()]
            layout, size = _layout(parts)
            cur = conn.execute(
                "INSERT INTO inference_batches (model, kind, at, rows, first_ts, last_ts,"
                " columns_json, data) VALUES (?,?,?,?,?,?,?,zeroblob(?))",
                (model, kind, at, n, first_ts, last_ts, json.dumps(layout), size),
            )
            row_id = int(cur.lastrowid or 0)
            with conn.blobopen("inference_batches", "data", row_id) as blob:
                for place, (_, _, data) in zip(
                    layout, sorted(parts, key=lambda c: c[1] != F8), strict=True
                ):
                    blob.seek(place["offset"])
                    blob.write(data)
            first_id = first_id or row_id
        if profile is not None:
            conn.execute(
                "INSERT INTO batch_profiles (batch_id, model, kind, at, rows, first_ts, last_ts,"
                " profile) VALUES (?,?,?,?,?,?,?,?)",
                (first_id, model, kind, at, rows, first_ts, last_ts, profile),
            )
    return first_id


def set_batch_profile(store: Store, batch: Batch, profile: bytes) -> None:
    """Store the profile of a batch logged without one (computed later from its raw rows)."""
    with store.write() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO batch_profiles (batch_id, model, kind, at, rows, first_ts,"
            " last_ts, profile) VALUES (?,?,?,?,?,?,?,?)",
            (
                batch.id,
                batch.model,
                batch.kind,
                batch.at,
                batch.rows,
                batch.first_ts,
                batch.last_ts,
                profile,
            ),
        )


def recent_batches(store: Store, model: str, kind: str) -> list[tuple[int, int]]:
    """(id, rows) of the batches that still hold raw rows, newest first."""
    return [
        (int(r[0]), int(r[1]))
        for r in store.conn.execute(
            "SELECT id, rows FROM inference_batches WHERE model = ? AND kind = ? ORDER BY id DESC",
            (model, kind),
        )
    ]


def unprofiled_batches(store: Store, limit: int = 10, model: str | None = None) -> list[int]:
    """Ids of batches that still have raw rows and no profile, oldest first."""
    where = "" if model is None else " AND b.model = ?"
    args: list[Any] = [] if model is None else [model]
    return [
        int(r[0])
        for r in store.conn.execute(
            "SELECT b.id FROM inference_batches b WHERE NOT EXISTS (SELECT 1 FROM"
            f" batch_profiles p WHERE p.batch_id = b.id){where} ORDER BY b.id LIMIT ?",
            (*args, limit),
        )
    ]


def load_batch(store: Store, batch_id: int, columns: Collection[str] | None = None) -> Batch | None:
    row = store.conn.execute(
        "SELECT id, model, kind, at, rows, first_ts, last_ts, columns_json"
        " FROM inference_batches WHERE id = ?",
        (batch_id,),
    ).fetchone()
    return None if row is None else _batch(store, row, columns)


@dataclass(frozen=True)
class ProfiledBatch:
    """One batch's profile (decoded) and where it sits in time."""

    batch_id: int
    at: float
    rows: int
    first_ts: float | None
    last_ts: float | None
    profile: dict[str, Any]


def load_profiles(
    store: Store,
    model: str,
    kind: str = "inputs",
    max_rows: int | None = None,
    since: float | None = None,
    logged_since: float | None = None,
) -> list[ProfiledBatch]:
    """`load_window`'s batches as profiles: the same selection, oldest first, one small row each."""
    sql = (
        "SELECT batch_id, at, rows, first_ts, last_ts, profile FROM batch_profiles"
        " WHERE model = ? AND kind = ?"
    )
    args: list[Any] = [model, kind]
    if since is not None:
        sql += " AND coalesce(last_ts, at) >= ?"
        args.append(since)
    if logged_since is not None:
        sql += " AND at >= ?"
        args.append(logged_since)
    sql += " ORDER BY batch_id DESC"
    out: list[ProfiledBatch] = []
    total = 0
    for row in store.conn.execute(sql, args):
        out.append(
            ProfiledBatch(
                row["batch_id"],
                row["at"],
                row["rows"],
                row["first_ts"],
                row["last_ts"],
                decode_profile(row["profile"]),
            )
        )
        total += row["rows"]
        if max_rows is not None and total >= max_rows:
            break
    out.reverse()
    return out


def window_size(
    store: Store,
    model: str,
    kind: str = "inputs",
    max_rows: int | None = None,
    since: float | None = None,
) -> tuple[int, int, bool]:
    """(rows, batches, every one still has raw rows) of the window `load_window` would read."""
    sql = (
        "SELECT b.rows, EXISTS (SELECT 1 FROM inference_batches i WHERE i.id = b.batch_id)"
        " FROM batch_profiles b WHERE b.model = ? AND b.kind = ?"
    )
    args: list[Any] = [model, kind]
    if since is not None:
        sql += " AND coalesce(b.last_ts, b.at) >= ?"
        args.append(since)
    sql += " ORDER BY b.batch_id DESC"
    rows = batches = 0
    raw = True
    for n, has_raw in store.conn.execute(sql, args):
        rows += n
        batches += 1
        raw = raw and bool(has_raw)
        if max_rows is not None and rows >= max_rows:
            break
    return rows, batches, raw


def load_window(
    store: Store,
    model: str,
    kind: str = "inputs",
    max_rows: int | None = None,
    since: float | None = None,
    logged_since: float | None = None,
    columns: Collection[str] | None = None,
) -> list[Batch]:
    """The newest batches covering at least `max_rows` rows (or logged since a time), oldest first.

    Only the named `columns` are read (all when None), each into its own
    buffer, so a caller can drop a column's parts once it has used them.

    `since` keeps batches whose newest row (or, without timestamps, whose
    logging time) is at or after it; the caller trims rows inside a batch.
    `logged_since` keeps batches logged at or after it (labels for a window
    arrive after its inputs, whatever their own timestamps say).
    """
    sql = (
        "SELECT id, model, kind, at, rows, first_ts, last_ts, columns_json"
        " FROM inference_batches WHERE model = ? AND kind = ?"
    )
    args: list[Any] = [model, kind]
    if since is not None:
        sql += " AND coalesce(last_ts, at) >= ?"
        args.append(since)
    if logged_since is not None:
        sql += " AND at >= ?"
        args.append(logged_since)
    sql += " ORDER BY id DESC"
    rows = []
    total = 0
    for row in store.conn.execute(sql, args):
        rows.append(row)
        total += row["rows"]
        if max_rows is not None and total >= max_rows:
            break
    return [_batch(store, row, columns) for row in reversed(rows)]


def _batch(store: Store, row: sqlite3.Row, columns: Collection[str] | None) -> Batch:
    return Batch(
        id=row["id"],
        model=row["model"],
        kind=row["kind"],
        at=row["at"],
        rows=row["rows"],
        first_ts=row["first_ts"],
        last_ts=row["last_ts"],
        columns=_read_columns(store, row["id"], json.loads(row["columns_json"]), columns),
    )


def _read_columns(
    store: Store, batch_id: int, layout: list[dict[str, Any]], wanted: Collection[str] | None
) -> dict[str, memoryview | list[str]]:
    """Columns of one batch by incremental blob I/O, each read straight into one bytes object.

    A plain SELECT would hold the whole blob twice (SQLite's copy and Python's)
    at the peak, and every column whether needed or not.
    """
    out: dict[str, memoryview | list[str]] = {}
    with store.conn.blobopen("inference_batches", "data", batch_id, readonly=True) as blob:
        for col in layout:
            if wanted is not None and col["name"] not in wanted:
                continue
            blob.seek(col["offset"])
            raw = blob.read(col["size"])
            out[col["name"]] = (
                memoryview(raw) if col["type"] == F8 else json.loads(zlib.decompress(raw))
            )
    return out


def logged_rows(store: Store, model: str, kind: str = "inputs") -> int:
    row = store.conn.execute(
        "SELECT coalesce(sum(rows), 0) FROM inference_batches WHERE model = ? AND kind = ?",
        (model, kind),
    ).fetchone()
    return int(row[0])


def check_batch(
    columns: Mapping[str, tuple[str, Buffer]],
    expected: Mapping[str, str] | None,
    kind: str = "inputs",
) -> list[str]:
    """Check encoded columns against the features a model expects; returns what was ignored.

    `expected` maps feature name -> "numeric" or "categorical" (None: accept
    every column). Input batches need every feature, numeric features need
    numbers; label batches need `prediction_id` and `label`. Raises BatchError.
    """
    if kind == "labels":
        for need in (PREDICTION_ID, LABEL):
            if need not in columns:
                raise BatchError(f'labels need a "{need}" column')
        return sorted(set(columns) - {PREDICTION_ID, LABEL, TIMESTAMP})
    if expected is None:
        return []
    for name, feature_kind in expected.items():
        if name not in columns:
            raise BatchError(f'feature column "{name}" is missing')
        if feature_kind == "numeric" and columns[name][0] != F8:
            raise BatchError(f'feature column "{name}" should hold numbers but holds text')
    if TIMESTAMP in columns and columns[TIMESTAMP][0] != F8:
        raise BatchError(f'column "{TIMESTAMP}" should hold epoch seconds')
    return sorted(set(columns) - set(expected) - set(SPECIAL))


def expected_features(
    store: Store, model: str, model_cfg: Mapping[str, Any] | None = None
) -> dict[str, str] | None:
    """What a model's logged inputs must hold: its production profile's features, else its config.

    None when neither names any feature (every column is then accepted).
    """
    from lookout.storage import registry

    production = registry.aliases(store, model).get("production")
    profile = registry.get_profile(store, model, production) if production is not None else None
    feats = (profile or {}).get("features") or {}
    if feats:
        return {
            n: "categorical" if f.get("kind") == "categorical" else "numeric"
            for n, f in feats.items()
        }
    if model_cfg and model_cfg.get("features"):
        cats = set(model_cfg.get("categorical") or [])
        return {n: "categorical" if n in cats else "numeric" for n in model_cfg["features"]}
    return None


# -- drift results ----------------------------------------------------------------


def _feature(d: dict[str, Any]) -> FeatureDrift:
    known = FeatureDrift.__dataclass_fields__
    return FeatureDrift(**{k: v for k, v in d.items() if k in known})


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


def _finite(v: Any) -> Any:
    """JSON has no NaN or infinity: store them as null (a score that could not be computed)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


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
    """Store one drift computation (caller's transaction, so its event commits with it).

    Scores that are NaN or infinite are stored as null (JSON has neither);
    the level still says what they meant.
    """
    feats = [_finite(dict(f.__dict__)) for f in features]
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
            json.dumps(_finite(window)),
            json.dumps(feats),
            json.dumps(_finite(prediction or {})),
            json.dumps(_finite(performance or {})),
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


def models_with_batches(store: Store) -> list[str]:
    """Models that have logged inputs (they may have no drift result yet)."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT model FROM inference_batches WHERE kind = 'inputs' ORDER BY 1"
        )
    ]


# The distinct models with results, by skipping through the (model, id) index.
_MODELS = (
    "WITH RECURSIVE m(model) AS (SELECT min(model) FROM drift_results UNION ALL"
    " SELECT (SELECT min(model) FROM drift_results WHERE model > m.model) FROM m"
    " WHERE m.model IS NOT NULL) SELECT model FROM m WHERE model IS NOT NULL"
)


def latest_each(store: Store) -> list[DriftResult]:
    """The newest result of every model (an index skip-scan, one lookup per model)."""
    rows = store.conn.execute(
        f"WITH models AS ({_MODELS}) SELECT d.* FROM models CROSS JOIN drift_results d"
        " ON d.id = (SELECT max(id) FROM drift_results WHERE model = models.model)"
        " ORDER BY d.model"
    ).fetchall()
    return [_drift(r) for r in rows]


def recent_shares(store: Store, limit: int = 12) -> dict[str, list[float]]:
    """Each model's share of drifted features over its last `limit` results, oldest first
    (one query; each model's rows come through the (model, id) index)."""
    rows = store.conn.execute(
        f"WITH models AS ({_MODELS}) SELECT d.model, d.share FROM models CROSS JOIN"
        " drift_results d ON d.id IN (SELECT id FROM drift_results"
        " WHERE model = models.model ORDER BY id DESC LIMIT ?) ORDER BY d.model, d.id",
        (limit,),
    ).fetchall()
    out: dict[str, list[float]] = {}
    for model, share in rows:
        out.setdefault(model, []).append(float(share))
    return out
