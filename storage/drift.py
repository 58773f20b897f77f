"""Logged inference batches and drift results.

A batch is ONE row, and its raw rows are ONE file in the store's batch folder
(`lookout.db-batches/` beside `lookout.db`, part of the store as its `-wal`
is) holding every column back to back, so a window of a million rows is a
handful of files to read. A file, not a blob: SQLite would write a 400 MB
batch three times (the zeroed blob, the columns into it, the checkpoint) and
hold the write lock while it did; a file is written once, before the
transaction that names it. Stores written before V9 keep their blobs
(`data_file` NULL) and are read as before. The encoding needs only the
standard library (storage never imports NumPy):

- numeric columns: little-endian float64 bytes, 8-byte aligned in the blob, so
  the drift engine reads them with `numpy.frombuffer(view, "<f8")` without a copy;
- text columns: a zlib-compressed JSON list of strings.

`columns_json` describes the layout: ``[{"name", "type": "f8"|"str", "offset",
"size"}]``, offsets into the file (or the blob).

Crash points. The file is written under a fresh name, then the row naming it
is committed: a crash in between leaves a file no row names, which
`sweep_batch_files` removes once it is older than any write in progress.
Retention deletes the row first and the file after its commit: a crash in
between leaves the same kind of orphan. A full disk fails the file's write,
before anything is in the store, and the partial file is removed. Small files
are not fsynced, as SQLite's `synchronous = NORMAL` does not sync a WAL commit:
a process crash loses neither, a power cut may lose the newest of both; a file
shorter than its layout (or missing) is read as an error naming the batch,
and the batch's profile, kept in the store, still serves its drift windows.
Files of ``WRITE_DIRECT`` bytes or more are written around the page cache and
flushed before their row is committed (`_write_direct`).

NumPy arrays are accepted by duck typing (`.dtype`, `.astype`,
`.tobytes`), as are plain sequences. Nothing is pickled, so reading a batch
can never execute anything.

Column names with a meaning: `prediction_id` (text, joins labels to inputs),
`prediction`, `timestamp` (epoch seconds) and, in label batches, `label`.
"""

from __future__ import annotations

import errno
import json
import math
import mmap
import os
import secrets
import sqlite3
import stat
import sys
import time
import zlib
from array import array
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookout.storage import faults
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
ORPHAN_AGE = 3600.0  # a batch file no row names, older than this, was left by a crash
WRITE_DIRECT = 16 << 20  # a batch file this large is written around the page cache
DIRECT_CHUNK = 4 << 20  # bytes gathered per write when writing around the cache
DIRECT_BLOCK = 4096  # what a write around the cache is padded to (the device's block)
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


def batch_folder(store: Store) -> Path:
    """Where a store keeps its batches' raw rows: beside it, as its `-wal` is."""
    return store.path.with_name(store.path.name + "-batches")


def _write_file(
    store: Store, parts: list[tuple[str, str, Buffer]], layout: list[dict[str, Any]]
) -> str:
    """Write a batch's columns at their layout offsets into a new file; returns its name.

    The folder and the file take the store file's group and mode (a shared
    workspace's 2750/0640), so whoever may read the store may read its rows.
    """
    st = os.stat(store.path)
    folder = batch_folder(store)
    if not folder.is_dir():
        dmode = (st.st_mode & 0o777) | ((st.st_mode & 0o444) >> 2)  # x wherever r
        dmode |= os.stat(folder.parent).st_mode & stat.S_ISGID
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        else:
            if st.st_gid != os.stat(folder).st_gid:
                os.chown(folder, -1, st.st_gid)
            os.chmod(folder, dmode)
    name = f"{time.time_ns():x}-{secrets.token_hex(6)}.cols"
    path = folder / name
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if st.st_gid != os.fstat(fd).st_gid:
            os.fchown(fd, -1, st.st_gid)
        os.fchmod(fd, st.st_mode & 0o666)
        by_name = {n: d for n, _, d in parts}
        size = layout[-1]["offset"] + layout[-1]["size"] if layout else 0
        if size < WRITE_DIRECT or not _write_direct(path, by_name, layout, size):
            _write_through_cache(fd, by_name, layout)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return name


def _write_through_cache(
    fd: int, by_name: Mapping[str, Buffer], layout: list[dict[str, Any]]
) -> None:
    """The columns at their offsets, through the page cache (a small file's way)."""
    pos = 0
    for place in layout:
        if place["offset"] > pos:
            os.write(fd, bytes(place["offset"] - pos))
        data = memoryview(by_name[place["name"]])
        while data:
            data = data[os.write(fd, data) :]
        pos = place["offset"] + place["size"]


def _write_direct(
    path: Path, by_name: Mapping[str, Buffer], layout: list[dict[str, Any]], size: int
) -> bool:
    """Write a large batch file around the page cache (O_DIRECT), flushed; False where the
    file system does not allow it (some refuse it), for the caller to write it the usual way.

    Raw rows are written once and seldom read (a small exact window, then retention).
    Through the cache, each megabyte was copied into fresh cache pages, which this
    project's machines (virtual, with free page reporting) pay dearly for, then written
    back and dropped: logging 10M rows × 50 pushed 4 GB of other files out of the cache
    and took 25–35 s, against 7 s once the pages were dropped behind, and the copy still
    took 0.1–0.2 s of CPU a 400 MB. Here the columns are gathered, in order, into one
    ``DIRECT_CHUNK`` buffer at a time and written from it; the last block is padded to
    the device's block and the file then cut to its size.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_DIRECT | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, AttributeError):
        return False
    try:
        with mmap.mmap(-1, DIRECT_CHUNK) as chunk:  # page-aligned, as O_DIRECT needs
            out = memoryview(chunk)
            try:
                fill = written = 0

                def put(data: memoryview) -> None:
                    nonlocal fill, written
                    while data:
                        n = min(len(data), DIRECT_CHUNK - fill)
                        out[fill : fill + n] = data[:n]
                        fill += n
                        data = data[n:]
                        if fill == DIRECT_CHUNK:
                            written += _write_all(fd, out, written)
                            fill = 0

                pos = 0
                for place in layout:
                    put(memoryview(bytes(place["offset"] - pos)))
                    put(memoryview(by_name[place["name"]]).cast("B"))
                    pos = place["offset"] + place["size"]
                if fill:
                    tail = -fill % DIRECT_BLOCK
                    out[fill : fill + tail] = bytes(tail)
                    _write_all(fd, out[: fill + tail], written)
            finally:
                out.release()
        os.ftruncate(fd, size)
        os.fdatasync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        os.ftruncate(fd, 0)
        return False  # refused after all (a file system that opens but will not write)
    finally:
        os.close(fd)
    return True


def _write_all(fd: int, data: memoryview, at: int) -> int:
    """Write all of `data` at offset `at`; how much that was."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], at + done)
    return done


def sweep_batch_files(store: Store, older_than: float = ORPHAN_AGE) -> int:
    """Remove batch files no row names (a crash between writing and committing, or between
    retention's commit and its unlink); returns how many. Files younger than `older_than`
    may belong to a write in progress and are kept."""
    folder = batch_folder(store)
    if not folder.is_dir():
        return 0
    named = {
        r[0]
        for r in store.conn.execute(
            "SELECT data_file FROM inference_batches WHERE data_file IS NOT NULL"
        )
    }
    cutoff = time.time() - older_than
    removed = 0
    for entry in os.scandir(folder):
        if entry.name in named or not entry.name.endswith(".cols"):
            continue
        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed


def remove_batch_files(store: Store, names: Collection[str]) -> None:
    """Unlink the files of batches whose rows are gone (called after their commit)."""
    folder = batch_folder(store)
    for name in names:
        (folder / name).unlink(missing_ok=True)


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
    Its raw rows go to one new file first (see the module's crash points),
    columns written straight from their buffers, never joined into one copy.
    Its `profile` (`lookout.scheduler.profiles`, packed; or a function giving
    it, called once the batch passed its checks, on this thread while another
    writes the file) is stored in the transaction that stores the batch's
    row; a profile that fails removes the file.
    """
    encoded, rows = encode_batch(columns)
    if expected is not None or kind == "labels":
        check_batch(encoded, expected, kind)
    parts = [(name, k, d) for name, (k, d) in encoded.items()]
    layout, _ = _layout(parts)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the file is written while profiling
        writing = pool.submit(_write_file, store, parts, layout)
        try:
            if callable(profile):
                profile = profile()
        except BaseException:
            if writing.exception() is None:
                remove_batch_files(store, [writing.result()])
            raise
        name = writing.result()
    at = now()
    try:
        with store.write() as conn:
            cur = conn.execute(
                "INSERT INTO inference_batches (model, kind, at, rows, first_ts, last_ts,"
                " columns_json, data, data_file) VALUES (?,?,?,?,?,?,?,x'',?)",
                (model, kind, at, rows, first_ts, last_ts, json.dumps(layout), name),
            )
            batch_id = int(cur.lastrowid or 0)
            faults.point("batch.before_commit")
            if profile is not None:
                conn.execute(
                    "INSERT INTO batch_profiles (batch_id, model, kind, at, rows, first_ts,"
                    " last_ts, profile) VALUES (?,?,?,?,?,?,?,?)",
                    (batch_id, model, kind, at, rows, first_ts, last_ts, profile),
                )
    except BaseException:
        remove_batch_files(store, [name])
        raise
    return batch_id


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
        "SELECT id, model, kind, at, rows, first_ts, last_ts, columns_json, data_file"
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


def _selection(since: float | None, logged_since: float | None) -> str:
    """The window's conditions beyond model and kind, shared by its raw rows and its
    profiles (both tables carry at, first_ts and last_ts); their arguments follow in order."""
    sql = ""
    if since is not None:
        sql += " AND coalesce(last_ts, at) >= ?"
    if logged_since is not None:
        sql += " AND at >= ?"
    return sql


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
    ) + _selection(since, logged_since)
    args = [model, kind, *(t for t in (since, logged_since) if t is not None)]
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
        "SELECT id, model, kind, at, rows, first_ts, last_ts, columns_json, data_file"
        " FROM inference_batches WHERE model = ? AND kind = ?"
    ) + _selection(since, logged_since)
    args = [model, kind, *(t for t in (since, logged_since) if t is not None)]
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
        columns=_read_columns(
            store, row["id"], row["data_file"], json.loads(row["columns_json"]), columns
        ),
    )


def _read_columns(
    store: Store,
    batch_id: int,
    data_file: str | None,
    layout: list[dict[str, Any]],
    wanted: Collection[str] | None,
) -> dict[str, memoryview | list[str]]:
    """Columns of one batch, each read straight into one buffer of its own.

    Only the wanted columns are read; a blob (stores before V9) by incremental
    blob I/O, as a plain SELECT would hold it twice at the peak.
    """
    places = [c for c in layout if wanted is None or c["name"] in wanted]
    out: dict[str, memoryview | list[str]] = {}

    def keep(col: dict[str, Any], raw: bytes | bytearray) -> None:
        out[col["name"]] = (
            memoryview(raw) if col["type"] == F8 else json.loads(zlib.decompress(raw))
        )

    if data_file is None:
        with store.conn.blobopen("inference_batches", "data", batch_id, readonly=True) as blob:
            for col in places:
                blob.seek(col["offset"])
                keep(col, blob.read(col["size"]))
        return out
    path = batch_folder(store) / data_file
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise BatchError(
            f"batch {batch_id}: its raw rows are gone ({path}: {exc.strerror})"
        ) from None
    try:
        for col in places:
            raw = bytearray(col["size"])
            done, view = 0, memoryview(raw)
            while done < len(raw):
                got = os.preadv(fd, [view[done:]], col["offset"] + done)
                if not got:
                    raise BatchError(f"batch {batch_id}: {path} is shorter than its rows")
                done += got
            keep(col, raw)
    finally:
        os.close(fd)
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
