"""A small column store for tabular data: name -> NumPy array, plus each column's kind.

Pipelines, checks and drift all work on `Frame`. Numbers are float64 with
NaN for missing; strings are fixed-width unicode arrays ("" for missing);
datetimes are float seconds since the epoch; booleans are float 0/1. Keeping
to plain arrays keeps the engines simple and lets batches be stored without
pickling.

Files are read with Apache Arrow (`pyarrow.csv`, `pyarrow.parquet`, Arrow
IPC), which parses on every core; float columns without missing values
become NumPy arrays without a copy. Arrow decides numbers, booleans and
dates; text columns then go through the same inference as ever
(`infer_column`'s rules, done with Arrow's string kernels), so a file reads
as it always did. `scan_table` reads a file in record batches for data that
does not fit in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("number", "integer", "string", "datetime", "bool")
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}
_MISSING = {"", "na", "nan", "null", "none", "n/a"}
BATCH_ROWS = 1 << 20  # rows per record batch when a file is scanned
GIVE_BACK = 64 << 20  # `frame_from_arrow`: Arrow's freed memory returned this often
DECLARE_FROM = 1 << 20  # `read_csv` declares the head's types for files this large
TYPE_SAMPLE = 64 << 10  # `read_csv` infers them from this much of the head at least
MIN_BATCH_ROWS = 1 << 16  # however wide the table
PARQUET_READ = 1 << 20  # bytes of a Parquet column chunk read at a time when scanned
_CSV_BLOCK = 1 << 20  # bytes per block of Arrow's CSV reader (blocks are parsed in parallel)
_SCAN_BLOCK = 16 << 20  # the same when scanning a file in record batches
_KIND_PART = 1 << 14  # values `_number_kind` looks at at a time (its work arrays stay small)
EXACT_LIMIT = 2**53  # float64 holds every integer up to this in magnitude, not all beyond


class DataError(Exception):
    """Data that cannot be read as a table; the message names the file and the problem."""


class KindChanged(DataError):
    """A scanned column turned out to hold another kind than its first batches said.

    The scan is restarted with the column read as `kind` (see `scan_table`).
    """

    def __init__(self, name: str, kind: str):
        super().__init__(f'column "{name}" changed kind to {kind} part-way through')
        self.name = name
        self.kind = kind


@dataclass
class Frame:
    columns: dict[str, np.ndarray]
    kinds: dict[str, str]

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, index: np.ndarray) -> Frame:
        """Rows by position or boolean mask."""
        return Frame({k: v[index] for k, v in self.columns.items()}, dict(self.kinds))

    def select(self, names: list[str]) -> Frame:
        return Frame({n: self.columns[n] for n in names}, {n: self.kinds[n] for n in names})

    def numeric(self, names: list[str]) -> np.ndarray:
        """A float matrix of these columns (rows × columns), for scikit-learn."""
        return np.column_stack([self.columns[n].astype(float) for n in names])

    def fingerprint(self) -> str:
        """A content hash: same data, same fingerprint, whatever file it came from."""
        f = Fingerprint()
        f.update(self)
        return f.digest(self.kinds)


def text_hashes(col: np.ndarray) -> np.ndarray:
    """A 64-bit hash per string, the same whatever the array's fixed width.

    Σ code point × odd weight of its position (wrapping): the NUL padding of a
    wider array adds nothing, so record batches of one column agree.
    """
    width = col.dtype.itemsize // 4
    if width == 0:
        return np.zeros(len(col), dtype=np.uint64)
    points = np.ascontiguousarray(col).view(np.uint32).reshape(len(col), width)
    out = np.zeros(len(col), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            weight = np.uint64((0x9E3779B97F4A7C15 * (j + 1)) % 2**64 | 1)
            out += points[:, j] * weight
    return out


class Fingerprint:
    """`Frame.fingerprint` over record batches: the same data gives the same hash however
    it is split. Each column is hashed on its own (numbers as float64 bytes, text as a
    64-bit hash per value), then the columns' digests with their names and kinds.

    SHA-256 runs on a thread of its own (hashlib lets go of the GIL), one batch
    behind: a batch is hashed while the next is read and checked, and at most
    two are held.
    """

    def __init__(self) -> None:
        self._columns: dict[str, Any] = {}
        self._pending: Any = None
        self._pool: Any = None

    def _hash(self, parts: list[tuple[Any, bytes | memoryview]]) -> None:  # hashes, data
        for h, data in parts:
            h.update(data)

    def update(self, frame: Frame) -> None:
        parts: list[tuple[Any, bytes | memoryview]] = []
        for name, col in frame.columns.items():
            h = self._columns.setdefault(name, hashlib.sha256())
            if col.dtype.kind == "U":
                parts.append((h, text_hashes(col).tobytes()))
            else:
                parts.append((h, np.ascontiguousarray(col, dtype=float).data.cast("B")))
        self._wait()
        if frame.rows < 100_000:
            self._hash(parts)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending = self._pool.submit(self._hash, parts)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def digest(self, kinds: Mapping[str, str]) -> str:
        self._wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        out = hashlib.sha256()
        for name in sorted(self._columns):
            out.update(name.encode() + b"\0" + kinds.get(name, "").encode() + b"\0")
            out.update(self._columns[name].digest())
        return out.hexdigest()


def _parse_datetime(values: np.ndarray) -> np.ndarray | None:
    out = np.empty(len(values), dtype=float)
    for i, v in enumerate(values):
        if v.lower() in _MISSING:
            out[i] = np.nan
            continue
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        out[i] = t.timestamp()
    return out


def infer_column(raw: np.ndarray) -> tuple[np.ndarray, str]:
    """Turn a column of strings into the narrowest kind that holds every value.

    The rules: missing words ("", na, nan, null, none, n/a, any case, spaces
    around) are missing; all numbers -> "integer" when every finite one is
    whole, else "number"; only true/false words -> "bool"; ISO dates (when
    the first present value has a "-") -> "datetime"; anything else ->
    "string", stripped. A column with nothing present is numbers (all NaN).
    """
    stripped = np.char.strip(raw.astype(str))
    lower = np.char.lower(stripped)
    missing = np.isin(lower, list(_MISSING))
    present = lower[~missing]
    if present.size == 0:
        return np.full(len(raw), np.nan), "number"
    try:
        filled = np.where(missing, "nan", stripped)
        numbers = filled.astype(float)
    except ValueError:
        numbers = None
    if numbers is not None:
        return numbers, _number_kind(numbers)
    uniq = set(np.unique(present).tolist())
    if uniq <= (_TRUE | _FALSE):
        out = np.where(missing, np.nan, np.isin(lower, list(_TRUE)).astype(float))
        return out, "bool"
    if present.size and "-" in str(present[0]):
        parsed = _parse_datetime(stripped)
        if parsed is not None:
            return parsed, "datetime"
    return np.where(missing, "", stripped), "string"


def _number_kind(numbers: np.ndarray) -> str:
    """ "integer" when every finite value is whole (and there is one), else "number". Looked
    at a part at a time, the first part small (most columns of fractions say so in their
    first values): work arrays of a whole column would be fresh pages on every read."""
    seen = False
    start, size = 0, 1000
    while start < len(numbers):
        part = numbers[start : start + size]
        finite = part[np.isfinite(part)]
        if not bool(np.all(finite == np.round(finite))):
            return "number"
        seen = seen or bool(finite.size)
        start, size = start + size, _KIND_PART
    return "integer" if seen else "number"


# -- Arrow to Frame ---------------------------------------------------------------------


def _cases(words: set[str]) -> list[str]:
    """Every upper/lower-case spelling of the words (Arrow matches null and bool words exactly)."""
    out: set[str] = set()
    for w in words:
        spellings = [""]
        for ch in w:
            spellings = [s + c for s in spellings for c in {ch.lower(), ch.upper()}]
        out.update(spellings)
    return sorted(out)


def _usual(words: set[str]) -> list[str]:
    """The spellings most files use: lower case, upper case, capitalised (and NaN)."""
    forms = {form(w) for w in words for form in (str.lower, str.upper, str.capitalize)}
    return sorted(forms | ({"NaN"} if "nan" in words else set()))


_NULLS = _cases(_MISSING)
_TRUES = _cases(_TRUE)
_FALSES = _cases(_FALSE)
_USUAL = (_usual(_MISSING), _usual(_TRUE), _usual(_FALSE))


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- Arrow's memory pool --------------------------------------------------------------------

POOL_DECAY_MS = 10_000  # how long jemalloc keeps freed pages for the next read (its default: 1 s)
_pool_chosen = False


def choose_memory_pool() -> None:
    """Arrow's memory pool for this process, chosen before the first read: jemalloc, keeping
    freed pages ``POOL_DECAY_MS``, unless the user chose a pool (``ARROW_DEFAULT_MEMORY_POOL``)
    or this pyarrow was built without jemalloc.

    Arrow's default, mimalloc, gave a scan's freed batches back to the system and took
    fresh pages for the next one, which this project's machines (virtual, with free
    page reporting) pay ~2 ms a megabyte for: checks over 1M × 50 from Parquet took
    1.9–4 s against 0.5–0.8 s with jemalloc, and logging the same rows 2.3–5 s against
    0.6–1.3 s. Keeping pages 10 s rather than jemalloc's 1 s is what lets reads that
    follow one another reuse them (reading a 38 MB CSV again and again: 1.23–1.3× pyarrow
    alone, against 1.37–1.46× with 1 s). Allocations of a few megabytes it gives back at
    once whatever the decay (a 2.7 MB buffer freed and taken again: 72% of its pages
    fresh; 512 KB: none), only keeping them when decay is off (-1), which can be set
    only before Arrow loads; scans fill their own memory again instead (`_Spare`).
    """
    global _pool_chosen
    if _pool_chosen:
        return
    _pool_chosen = True
    import os

    import pyarrow as pa

    if (
        os.environ.get("ARROW_DEFAULT_MEMORY_POOL")
        or "jemalloc" not in pa.supported_memory_backends()
    ):
        return
    pa.set_memory_pool(pa.jemalloc_memory_pool())
    pa.jemalloc_set_decay_ms(POOL_DECAY_MS)


# -- Arrow to NumPy ------------------------------------------------------------------------
# pyarrow's `to_numpy`, `pa.array` and `pa.scalar` import pandas when it is installed, which
# costs every command that reads a file 0.2 s; these read Arrow's buffers instead.


def _valid(arr: Any) -> np.ndarray | None:
    """An Arrow array's validity bitmap as booleans, or None when nothing is null."""
    if not arr.null_count:
        return None
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset :] == 1


def _values(arr: Any) -> np.ndarray:
    """A numeric or temporal Arrow array's values (temporal ones as their integers) as a view
    of Arrow's buffer, whatever its null slots hold; read-only: Arrow's memory, perhaps a
    file's, that nobody writes into."""
    import pyarrow.types as t

    typ = arr.type
    code = "f" if t.is_floating(typ) else "u" if t.is_unsigned_integer(typ) else "i"
    dtype = np.dtype(f"{code}{typ.bit_width // 8}")
    if not len(arr):
        return np.empty(0, dtype)
    out = np.frombuffer(arr.buffers()[1], dtype, len(arr), arr.offset * dtype.itemsize)
    out.flags.writeable = False
    return out


def _to_numpy(arr: Any, fill: Any = np.nan) -> np.ndarray:
    """A numeric Arrow array (floats or integers) as NumPy, nulls as `fill`: a view of Arrow's
    buffer (no copy) when nothing is null."""
    values = _values(arr)
    valid = _valid(arr)
    return values if valid is None else np.where(valid, values, fill)


def _truth(arr: Any) -> np.ndarray:
    """A boolean Arrow array without nulls as NumPy booleans."""
    import pyarrow as pa

    return _to_numpy(arr.cast(pa.uint8())) == 1


def _pooled(n: int, dtype: np.dtype) -> np.ndarray:
    """An empty NumPy array in Arrow's memory pool, which keeps freed memory for the next
    read where NumPy's would be fresh pages from the system (several ms a column)."""
    import pyarrow as pa

    return np.frombuffer(pa.allocate_buffer(n * dtype.itemsize), dtype, n)


def _string_array(words: list[str]) -> Any:
    """Python strings as an Arrow string array (see above for why not `pa.array`)."""
    import pyarrow as pa

    data = [w.encode() for w in words]
    offsets = np.cumsum([0] + [len(d) for d in data], dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(words), buffers)


def _empty_batch(schema: Any) -> Any:
    """A record batch of no rows with `schema`'s columns."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def _infer_arrow_strings(arr: Any, infer: bool = True) -> tuple[np.ndarray, str]:
    """`infer_column`'s rules over an Arrow string column (only text rules when not `infer`).

    The work is done once per distinct value: the column is dictionary-encoded,
    the rules run over the dictionary, and each row then indexes the result.
    The first present value rules out most kinds at once (a column is numbers
    only if its first value is one), so a text column costs no failed casts.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(arr)
    words = pc.utf8_trim_whitespace(encoded.dictionary)
    missing_word = pc.is_in(pc.utf8_lower(words), value_set=_string_array(sorted(_MISSING)))
    missing_np = np.append(_truth(missing_word), True)
    index = _to_numpy(encoded.indices, len(words))
    if missing_np[:-1].any() or encoded.indices.null_count:  # which rows hold a value
        present = ~missing_np[index]  # a null row indexes the extra "missing" entry
    else:
        present = np.ones(min(len(index), 1), dtype=bool)  # all of them: the first is row 0
    kept = pc.if_else(missing_word, pa.nulls(1, pa.string())[0], words)

    def rows(per_word: np.ndarray, fill: Any) -> np.ndarray:
        per_word = np.append(per_word, np.array([fill], dtype=per_word.dtype))
        # "clip": every index is in range, and NumPy would otherwise take into a buffer of
        # its own and copy that (3x the time); a part at a time, as NumPy makes a copy of
        # the indices (int32) as its own integers: small, that copy is no fresh pages
        out = _pooled(len(index), per_word.dtype)
        for at in range(0, len(index), _KIND_PART):
            part = slice(at, at + _KIND_PART)
            np.take(per_word, index[part], out=out[part], mode="clip")
        return out

    if infer and not present.any():
        return np.full(len(arr), np.nan), "number"
    if infer:
        first = str(words[int(index[int(np.argmax(present))])].as_py())
        if _parses_as_number(first):
            try:
                numbers = _to_numpy(pc.cast(kept, pa.float64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                numbers = None
            if numbers is not None:
                out = rows(np.asarray(numbers, dtype=float), np.nan)
                return out, _number_kind(out)
        lower = [None if w is None else w.lower() for w in kept.to_pylist()]
        if {w for w in lower if w is not None} <= (_TRUE | _FALSE):
            truth = np.array([np.nan if w is None else float(w in _TRUE) for w in lower])
            return rows(truth, np.nan), "bool"
        if "-" in first:
            texts = np.array([w or "" for w in kept.to_pylist()], dtype=str)
            parsed = _parse_datetime(texts)
            if parsed is not None:
                return rows(parsed, np.nan), "datetime"
    text = np.array([w or "" for w in kept.to_pylist()] or [""], dtype=str)[: len(kept)]
    return rows(text, ""), "string"


def column_from_arrow(
    name: str, col: Any, infer: bool = True, from_text: bool = False
) -> tuple[np.ndarray, str]:
    """One Arrow column as (NumPy array, kind) under the Frame's conventions.

    Float columns without nulls in one chunk come without a copy. Text is
    inferred (`infer_column`'s rules) unless `infer` is false, and then integers
    are text too (a scan that met integers too large for float64 reads them so
    throughout); integers that large are always text, digit for digit. `from_text`
    (CSV) applies the text rule to floats too: whole numbers are "integer".
    """
    import pyarrow as pa
    import pyarrow.types as t

    typ = col.type
    if t.is_floating(typ):
        out = _numbers(col if t.is_float64(typ) else col.cast(pa.float64()))
        return out, _number_kind(out) if from_text else "number"
    if t.is_integer(typ):
        if infer and _exact(col):
            return _numbers(col), "integer"
        # beyond 2**53 float64 would not hold them exactly, and IDs would silently collide:
        # their digits, as text
        return _infer_arrow_strings(_one_chunk(col).cast(pa.string()), infer=False)
    if t.is_timestamp(typ):
        return _numbers(col, divide=_PER_SECOND[typ.unit]), "datetime"
    if t.is_date(typ):  # days, or milliseconds
        return _numbers(col, divide=1e3) if t.is_date64(typ) else _numbers(col, 86400.0), "datetime"
    col = _one_chunk(col)
    if from_text and t.is_dictionary(typ) and t.is_string(typ.value_type):
        # the CSV reader's dictionary holds only values seen (a Parquet one may hold more)
        return _infer_arrow_strings(col, infer)
    if t.is_dictionary(typ):
        return column_from_arrow(name, col.dictionary_decode(), infer, from_text)
    if t.is_null(typ):
        return np.full(len(col), np.nan), "number"
    if t.is_boolean(typ):
        return _to_numpy(col.cast(pa.float64())), "bool"
    if t.is_string(typ) or t.is_large_string(typ):
        return _infer_arrow_strings(col, infer)
    raise DataError(f'column "{name}" has unsupported type {typ}')


_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _one_chunk(col: Any) -> Any:
    """An Arrow array or chunked array as one array (copied only when in several chunks)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _exact(col: Any) -> bool:
    """Whether float64 holds every integer of `col` exactly (none beyond 2**53 either way)."""
    return col.type.bit_width < 64 or not _beyond(col, EXACT_LIMIT)


def _beyond(col: Any, limit: float) -> bool:
    """Whether a numeric Arrow column (one chunk or several) holds a value beyond `limit`
    either way, nulls aside. NumPy over Arrow's buffers: Arrow's min_max took 12× as long."""
    import pyarrow as pa

    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        valid = _valid(chunk)
        if _past(_values(chunk) if valid is None else _values(chunk)[valid], limit):
            return True
    return False


def _past(values: np.ndarray, limit: float) -> bool:
    """Whether NumPy `values` hold one beyond `limit` either way (NaN aside)."""
    return bool(values.size) and bool(
        np.fmax.reduce(values) > limit or np.fmin.reduce(values) < -limit
    )


def _numbers(col: Any, multiply: float = 1.0, divide: float = 1.0) -> np.ndarray:
    """A numeric Arrow column (floats, integers, temporal values as their integers) as float64
    scaled by `multiply` / `divide`, nulls NaN: a view of Arrow's buffer when it is float64
    without nulls, else written in one pass into a new array (no cast in between)."""
    import pyarrow.types as t

    col = _one_chunk(col)  # Arrow joins chunks faster than a loop over them here
    values = _values(col)
    valid = _valid(col)
    if t.is_float64(col.type) and multiply == divide == 1.0 and valid is None:
        return values
    out = _pooled(len(col), np.dtype(float))
    if multiply != 1.0:
        np.multiply(values, multiply, out=out)
    elif divide == _PER_SECOND["ns"]:  # float64 would round today's nanoseconds: split
        whole, rest = np.divmod(values, 1_000_000_000)
        np.divide(rest, divide, out=out)
        out += whole
    elif divide != 1.0:
        np.divide(values, divide, out=out)
    else:
        out[...] = values
    if valid is not None:
        out[~valid] = np.nan
    return out


def frame_from_arrow(
    table: Any,
    force: Mapping[str, str] | None = None,
    from_text: bool = False,
    give_back: bool = False,
) -> Frame:
    """An Arrow table or record batch as a Frame; `force` names columns read as plain text.

    A table's columns are let go one by one as they are converted, so a
    column that had to be copied (several chunks become one array) reuses the
    memory of those before it: a caller that hands over its only reference
    (`frame_from_arrow(read(...))`) holds about one copy of the data, not two. With
    `give_back` (a whole file read at once), Arrow's allocator is asked to return the
    chunks' memory every ``GIVE_BACK`` bytes copied, or it keeps them for later: 1.8×
    the table's size, not 2.3×, for a CSV of 1M × 50 numbers. A scan's batches leave it
    be: the next batch reuses that memory, and memory fresh from this machine's
    hypervisor costs ~2 ms a megabyte the first time it is touched. A large table's
    columns are converted on two threads (Arrow and NumPy let go of the GIL).
    """
    import pyarrow as pa

    force = force or {}
    names = list(table.column_names)
    waiting = deque((name, table.column(i)) for i, name in enumerate(names))
    threads = 2 if table.num_rows * len(names) >= 1_000_000 else 1  # else threads cost more
    del table
    done: dict[str, tuple[np.ndarray, str]] = {}
    copied = [0]
    lock = threading.Lock()

    def convert() -> None:
        while True:
            try:
                name, col = waiting.popleft()
            except IndexError:
                return
            chunked = isinstance(col, pa.ChunkedArray) and col.num_chunks > 1
            size = col.nbytes if chunked else 0
            done[name] = column_from_arrow(name, col, name not in force, from_text)
            del col
            with lock:
                copied[0] += size
                if give_back and copied[0] >= GIVE_BACK:
                    copied[0] = 0
                    pa.default_memory_pool().release_unused()

    if threads == 1:
        convert()
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for running in [pool.submit(convert) for _ in range(threads)]:
                running.result()
    return Frame({n: done[n][0] for n in names}, {n: done[n][1] for n in names})


# -- CSV --------------------------------------------------------------------------------


def _header_end(head: bytes) -> int:
    """Where the header record ends in `head`: after the first line that is not blank and
    closes every quote opened (a quoted name may hold a line break); the whole head if none
    does. Only that much is decoded: the rest is Arrow's to read (and to find not UTF-8)."""
    start = quotes = 0
    while (end := head.find(b"\n", start)) >= 0:
        quotes += head.count(b'"', start, end)
        blank = not head[start:end].strip(b"\r\xef\xbb\xbf")
        start = end + 1
        if quotes % 2 == 0 and not (blank and quotes == 0):
            return start
    return len(head)


def _header(label: str, head: bytes) -> list[str]:
    """The header row, checked: present, no empty or repeated names."""
    head = head[: _header_end(head)]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":  # not just a character the read cut short
            raise DataError(f"{label}: cannot read: {exc}") from None
        text = head[: exc.start].decode("utf-8-sig", "replace")  # (or a BOM cut short)
    try:
        rows = csv.reader(io.StringIO(text))
        header = next((r for r in rows if r), None)
    except csv.Error as exc:
        raise DataError(f"{label}: not valid CSV: {exc}") from None
    if header is None:
        raise DataError(f"{label}: empty file (no header row)")
    header = [h.strip() for h in header]
    if any(not h for h in header):
        raise DataError(f"{label}: header has an empty column name")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(f'{label}: column "{dup}" appears twice in the header')
    return header


def _first_bad_line(label: str, data: bytes, width: int) -> str:
    """The message for Arrow's "Expected N columns": which line, with today's numbering."""
    rows = [r for r in csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"))) if r]
    for lineno, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            return f"{label}: line {lineno} has {len(r)} fields, expected {width}"
    return f"{label}: not valid CSV: rows do not all have {width} fields"


def _csv_options(
    head: bytes,
    header: list[str],
    force: Mapping[str, str] | None = None,
    quoted_newlines: bool = False,
    block_size: int = _CSV_BLOCK,
    types: Mapping[str, Any] | None = None,
    dictionaries: bool = False,
    every_case: bool = True,
) -> dict[str, Any]:
    """Arrow's options for today's rules: our checked header, our missing and true/false
    words; `types` declares columns' types (`force`'s columns are text whatever they say);
    `dictionaries`: text columns of few values come dictionary-encoded, as
    `_infer_arrow_strings` needs them (Arrow does it faster while parsing; a whole read
    only, as the streaming reader cannot change its mind when a later block has more).
    Without `every_case`, only the usual spellings of those words: Arrow builds its
    matchers for each column of each read, ~1.2 ms for every spelling against ~0.1 ms (a
    read that can fall back on one with them all, as `read_csv`'s declared read can)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    skip = 0  # the header line, and blank lines before it
    for line in io.BytesIO(head):  # lazily: the head is a megabyte, the header one line
        skip += 1
        if line.strip(b"\r\n\xef\xbb\xbf"):
            break
    return {
        "read_options": pcsv.ReadOptions(
            column_names=header, skip_rows=skip, block_size=block_size, use_threads=True
        ),
        "parse_options": pcsv.ParseOptions(newlines_in_values=quoted_newlines),
        "convert_options": pcsv.ConvertOptions(
            null_values=_NULLS if every_case else _USUAL[0],
            true_values=_TRUES if every_case else _USUAL[1],
            false_values=_FALSES if every_case else _USUAL[2],
            strings_can_be_null=True,
            column_types={**(types or {}), **{n: pa.string() for n in force or {}}},
            auto_dict_encode=dictionaries,
        ),
    }


def _csv_source(path: Path | str, text: str | None) -> tuple[str, bytes | None, Path | None]:
    label = str(path)
    if text is not None:
        return label, text.encode("utf-8"), None
    p = Path(path)
    if not p.exists():
        raise DataError(f"{label}: file not found")
    return label, None, p


def _read_head(label: str, data: bytes | None, p: Path | None, size: int = 1 << 20) -> bytes:
    if data is not None:
        return data[:size]
    assert p is not None
    try:
        with p.open("rb") as f:
            return f.read(size)
    except OSError as exc:
        raise DataError(f"{label}: cannot read: {exc}") from None


def _arrow_error(label: str, exc: Exception, data: bytes | None, p: Path | None, width: int):
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Expected" in msg and "columns, got" in msg:
        raw = data if data is not None else (p.read_bytes() if p is not None else b"")
        return DataError(_first_bad_line(label, raw, width))
    if "UTF8" in msg or "utf8" in msg.lower():
        return DataError(f"{label}: cannot read: {msg}")
    return DataError(f"{label}: not valid CSV: {msg}")


def _utf8_only(label: str, schema: Any) -> None:
    """Arrow reads text that is not UTF-8 as bytes; a CSV must be UTF-8."""
    import pyarrow.types as t

    for field in schema:
        typ = field.type.value_type if t.is_dictionary(field.type) else field.type
        if t.is_binary(typ) or t.is_large_binary(typ):
            raise DataError(f'{label}: cannot read: column "{field.name}" is not UTF-8 text')


def _size(p: Path | None) -> int:
    try:
        return p.stat().st_size if p is not None else 0
    except OSError:
        return -1


def _head_types(
    head: bytes, options: Mapping[str, Any], dictionaries: bool = False
) -> tuple[dict[str, Any], list[str]] | None:
    """The types Arrow infers from the head of a larger file, to declare for reading it all,
    and the columns of whole numbers among them; None when the head does not decide them (a
    column with no value in it, text that is not UTF-8, a head Arrow cannot read on its
    own). With `dictionaries`, text Arrow dictionary-encoded in the head (few values) is
    declared dictionary-encoded.

    Why declare them: Arrow infers each column's type from the first block and,
    should a later block not fit, converts every block again, so it keeps every
    parsed block until the end (2.3× the table at its peak on 1M × 50 numbers).
    Told the types, it converts each block as it comes and lets it go (1.2×), and it
    parses faster: the 38 MB CSV of `bench/scale.py` in 84 ms against 90 ms inferred
    (dictionaries both ways; pyarrow's own read, inferred without them: 85 ms). A file
    whose later rows do not fit the head's types is read again the inferring way,
    which widens them exactly as before.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.types as t

    head = head[: head.rfind(b"\n") + 1]  # its last line may be cut short
    try:
        table = pcsv.read_csv(io.BytesIO(head), **options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    types = {f.name: f.type for f in table.schema}
    values = [x.value_type if t.is_dictionary(x) else x for x in types.values()]
    undecided = (t.is_null(x) or t.is_binary(x) or t.is_large_binary(x) for x in values)
    if table.num_rows == 0 or any(undecided):
        return None
    # whole numbers are read as the float64 the Frame keeps them in, so a fraction further
    # down widens them to "number" as inference would (the kind comes from the values;
    # `_inexact` and `_read_declared` catch integers float64 cannot hold); text as text
    declared = {
        n: pa.float64() if t.is_integer(x) else x.value_type if t.is_dictionary(x) else x
        for n, x in types.items()
    }
    if dictionaries:  # a block of the full read may hold more values: never too many here
        declared.update({n: x for n, x in types.items() if t.is_dictionary(x)})
    return declared, [n for n, x in types.items() if t.is_integer(x)]


def _inexact(table: Any, whole: list[str]) -> str | None:
    """The first of the `whole` columns (declared float64 for the head's whole numbers) that
    holds a value of 2**53 or more (either sign), or None. Parsed as float64, an integer
    that large may have been rounded (IDs of 64 bits would collide): inference reads such
    integers as text, and so must a declared read."""
    return next((n for n in whole if _beyond(table.column(n), EXACT_LIMIT - 1)), None)


def read_csv(path: Path | str, text: str | None = None) -> Frame:
    """Read a CSV with a header row; every failure is a DataError naming the file."""
    choose_memory_pool()
    import pyarrow as pa
    import pyarrow.csv as pcsv

    label, data, p = _csv_source(path, text)
    head = _read_head(label, data, p)
    header = _header(label, head)
    size = len(data) if data is not None else _size(p)
    sample = head[: min(len(head), max(TYPE_SAMPLE, size >> 10))]  # ~0.1% of the file
    for quoted_newlines in (False, True):
        options = _csv_options(head, header, None, quoted_newlines, dictionaries=True)
        # a word spelt unusually (nULL) sends the declared read to the inferring one
        usual = _csv_options(
            head, header, None, quoted_newlines, dictionaries=True, every_case=False
        )
        decided = None if size < DECLARE_FROM else _head_types(sample, usual, True)
        if decided is not None:
            typed = _csv_options(
                head, header, None, quoted_newlines, types=decided[0], every_case=False
            )
            frame = _read_declared(
                io.BytesIO(data) if data is not None else str(p), typed, decided[1]
            )
            if frame is not None:
                return frame
        source: Any = io.BytesIO(data) if data is not None else str(p)
        try:
            table = pcsv.read_csv(source, **options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            # a quoted value with a line break splits a row unless Arrow is told (slower)
            if quoted_newlines or "columns, got" not in str(exc):
                raise _arrow_error(label, exc, data, p, len(header)) from None
            continue
        _utf8_only(label, table.schema)
        tables = [table]
        del table  # so that the Frame, built column by column, replaces the table as it goes
        return frame_from_arrow(tables.pop(), from_text=True, give_back=True)
    raise AssertionError("unreachable")


def _read_declared(source: Any, typed: Mapping[str, Any], whole: list[str]) -> Frame | None:
    """The CSV read with the head's types; None when it does not fit them, and the inferring
    read widens a type or says what is wrong: a later value of another type, or integers
    float64 cannot hold (2**53 or more in a column of `whole` numbers, parsed as float64 and
    perhaps rounded), which inference reads as text."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        tables = [pcsv.read_csv(source, **typed)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    frame = frame_from_arrow(tables.pop(), from_text=True, give_back=True)
    if any(frame.kinds[n] == "integer" and _past(frame[n], EXACT_LIMIT - 1) for n in whole):
        return None
    return frame


def _scan_csv(path: Path | str, force: Mapping[str, str]) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    label, data, p = _csv_source(path, None)
    head = _read_head(label, data, p)
    header = _header(label, head)
    options = _csv_options(head, header, force, quoted_newlines=True, block_size=_SCAN_BLOCK)
    decided = _head_types(head, options)
    whole: list[str] = []
    if decided is not None:  # faster, and a fraction after whole numbers is no kind change;
        # the blocks, no longer what types are inferred from, are those read_csv parses
        options = _csv_options(head, header, force, True, _CSV_BLOCK, types=decided[0])
        whole = [n for n in decided[1] if n not in force]
    try:
        reader = pcsv.open_csv(str(p), **options)
        _utf8_only(label, reader.schema)
        yield _empty_batch(reader.schema)  # the columns, for an empty file
        for batch in reader:
            inexact = _inexact(batch, whole)
            if inexact is not None:  # integers float64 cannot hold: text, as inference reads them
                raise KindChanged(inexact, "text")
            yield batch
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        found = re.search(r"In CSV column #(\d+): CSV conversion error", str(exc))
        if found and header[int(found.group(1))] not in force:
            # a later block holds a value the first block's type cannot: read it as text
            raise KindChanged(header[int(found.group(1))], "text") from None
        raise _arrow_error(label, exc, data, p, len(header)) from None
    except OSError as exc:
        raise DataError(f"{label}: cannot read: {exc}") from None


# -- Parquet and Arrow IPC ----------------------------------------------------------------


def _is_parquet(path: Path | str, fmt: str) -> bool:
    return fmt == "parquet" or (fmt == "auto" and str(path).endswith((".parquet", ".pq")))


def _is_ipc(path: Path | str, fmt: str) -> bool:
    return fmt == "arrow" or (fmt == "auto" and str(path).endswith((".arrow", ".feather", ".ipc")))


def read_parquet(path: Path | str) -> Frame:
    choose_memory_pool()
    import pyarrow.parquet as pq

    if not Path(path).exists():
        raise DataError(f"{path}: file not found")
    try:  # a file without pyarrow.dataset, which imports pandas (see `_to_numpy`)
        tables = [pq.read_table(path) if Path(path).is_dir() else pq.ParquetFile(path).read()]
    except Exception as exc:
        raise DataError(f"{path}: cannot read Parquet: {exc}") from None
    return frame_from_arrow(tables.pop())


def read_ipc(path: Path | str) -> Frame:
    choose_memory_pool()
    import pyarrow as pa

    if not Path(path).exists():
        raise DataError(f"{path}: file not found")
    try:
        with pa.memory_map(str(path)) as source:
            tables = [pa.ipc.open_file(source).read_all()]
    except Exception as exc:
        raise DataError(f"{path}: cannot read Arrow IPC: {exc}") from None
    return frame_from_arrow(tables.pop(), give_back=True)


def read_table(path: Path | str, fmt: str = "auto") -> Frame:
    """CSV, Parquet or Arrow IPC by `fmt`, or by the file's extension when `fmt` is auto."""
    if _is_parquet(path, fmt):
        return read_parquet(path)
    if _is_ipc(path, fmt):
        return read_ipc(path)
    return read_csv(path)


def _scan_parquet(path: Path | str, batch_rows: int, budget: int | None) -> Iterator[Any]:
    """Record batches of the scan's size (`_batch_rows`), each decoded whole and handed on
    without a copy. Never a whole row group, a column chunk read 1 MB at a time, and
    without Arrow's pre-buffering, which caches the file's pages and keeps them (it held
    650 MB after a 10M-row scan). Decoding in small pieces joined into batches once held
    less at the peak (1.38× a batch against 1.58× for `lookout log`, which holds two
    batches), but no longer since large batch files skip the page cache and joins fill
    memory again (`_Spare`): whole, logging 1M × 50 peaks at 1.12–1.16× the batch and
    takes 0.78–0.91 s, against 1.21–1.23× and 0.93–1.16 s in pieces (10M: 5.2 s against
    5.9–7 s)."""
    import pyarrow.parquet as pq

    if not Path(path).exists():
        raise DataError(f"{path}: file not found")
    try:
        pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_READ)
        yield _empty_batch(pf.schema_arrow)
        rows = _batch_rows(batch_rows, budget, len(pf.schema_arrow))
        yield from pf.iter_batches(batch_size=rows, use_threads=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot read Parquet: {exc}") from None


def _scan_ipc(path: Path | str) -> Iterator[Any]:
    import pyarrow as pa

    if not Path(path).exists():
        raise DataError(f"{path}: file not found")
    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            yield _empty_batch(reader.schema)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
    except Exception as exc:
        raise DataError(f"{path}: cannot read Arrow IPC: {exc}") from None


# -- scanning in record batches -----------------------------------------------------------


def widen(have: str, new: str) -> str | None:
    """The kind two parts of one column share, or None when only text holds both."""
    if have == new:
        return have
    if {have, new} <= {"integer", "number"}:
        return "number"
    return None


def scan_table(
    path: Path | str,
    fmt: str = "auto",
    batch_rows: int = BATCH_ROWS,
    force: Mapping[str, str] | None = None,
    batch_bytes: int | None = None,
) -> Iterator[Frame]:
    """A file as Frames of record batches, in order, with one kind per column throughout.

    A column's kind comes from its first batch with values; a later batch may
    widen "integer" to "number" (the batches already given keep their numbers)
    but any other change raises `KindChanged`, and the caller scans again
    with `force` naming the column, which is then read as text. Arrow's CSV
    reader decides types from its first block the same way. Memory holds one
    batch at a time (plus Arrow's read-ahead of the CSV's blocks); `batch_bytes`
    caps a batch's size for wide tables.
    """
    choose_memory_pool()
    force = dict(force or {})
    from_text = not (_is_parquet(path, fmt) or _is_ipc(path, fmt))
    if _is_parquet(path, fmt):
        tables = _coalesce(_scan_parquet(path, batch_rows, batch_bytes), batch_rows, batch_bytes)
    elif _is_ipc(path, fmt):
        tables = _coalesce(_scan_ipc(path), batch_rows, batch_bytes)
    else:
        tables = _coalesce(_scan_csv(path, force), batch_rows, batch_bytes)
    kinds: dict[str, str] = {}
    for box in tables:  # emptied into the conversion, which then lets each column's pieces go
        frame = frame_from_arrow(box.pop(), force, from_text)
        _settle_kinds(frame, kinds)
        yield frame
        del frame  # let go before the next is read: the caller decides what stays


def read_ahead(frames: Iterator[Frame]) -> Iterator[Frame]:
    """`frames`, the next one read on a thread while the caller works on this one: reading
    (Arrow, NumPy) and the caller's work (profiling, writing) share the cores instead of
    taking turns. Memory holds two batches, never more: the next is asked for only once
    the caller has taken this one."""
    import queue
    import threading

    asks: queue.SimpleQueue[bool] = queue.SimpleQueue()
    gives: queue.SimpleQueue[tuple[Frame | None, BaseException | None]] = queue.SimpleQueue()

    def read() -> None:
        try:
            while asks.get():
                gives.put((next(frames, None), None))
        except BaseException as exc:  # the caller raises it, as if it had read the batch
            gives.put((None, exc))

    reader = threading.Thread(target=read, name="lookout-read-ahead", daemon=True)
    reader.start()
    asks.put(True)
    try:
        while True:
            frame, exc = gives.get()
            if exc is not None:
                raise exc
            if frame is None:
                return
            asks.put(True)
            yield frame
            del frame
    finally:
        asks.put(False)
        reader.join()


def _settle_kinds(frame: Frame, kinds: dict[str, str]) -> None:
    """One kind per column across batches (`scan_table`), `kinds` the kinds so far."""
    for name in frame.names:
        kind = frame.kinds[name]
        col = frame.columns[name]
        empty = bool(np.all(np.isnan(col))) if col.dtype.kind == "f" else not np.any(col != "")
        if name not in kinds:
            if not empty:
                kinds[name] = kind
            continue
        if empty and kind != kinds[name]:  # nothing present: take the column's kind
            if kinds[name] == "string":
                frame.columns[name] = np.full(len(col), "", dtype="<U1")
            else:
                frame.columns[name] = np.full(len(col), np.nan)
            frame.kinds[name] = kinds[name]
            continue
        wider = widen(kinds[name], kind)
        if wider is None:
            raise KindChanged(name, "text")
        kinds[name] = frame.kinds[name] = wider


def _batch_rows(rows: int, budget: int | None, columns: int) -> int:
    """Rows per batch: `rows`, fewer when that many rows of every column would take more
    than `budget` bytes as float64 (never fewer than ``MIN_BATCH_ROWS``)."""
    if budget is None:
        return rows
    return min(rows, max(MIN_BATCH_ROWS, budget // (8 * max(1, columns))))


class _Spare:
    """The memory one scan's joins fill, each piece filled again once the array it was
    handed out as is gone (the batch it held was let go): a scan's batches are alike, and
    memory filled again is memory already touched, where a fresh array is fresh pages
    (Arrow's and NumPy's allocators both give a batch's large arrays back to the system
    when they are freed, and this project's machines pay ~2 ms a megabyte for the next
    ones: 10M rows × 50 from Parquet took 970k page faults, and 190k this way).

    Each piece of memory is handed out as a view and watched through a weak reference:
    Arrow holds the view (`pa.py_buffer`), and whatever reads the batch holds Arrow's
    buffer, so the view lives exactly as long as the batch does.
    """

    def __init__(self) -> None:
        self.memory: list[tuple[np.ndarray, weakref.ref[np.ndarray]]] = []

    def take(self, size: int, dtype: str) -> np.ndarray:
        """`size` bytes nothing else holds, as a new array of `dtype` (keep that array: any
        array made from it refers to the memory, not to it)."""
        for i, (memory, lent) in enumerate(self.memory):
            if len(memory) == size and lent() is None:
                view = memory.view(dtype)
                self.memory[i] = (memory, weakref.ref(view))
                return view
        memory = np.empty(size, np.uint8)
        view = memory.view(dtype)
        self.memory.append((memory, weakref.ref(view)))
        return view


class _Join:
    """One table of `rows` rows put together from the record batches that follow one another.

    A column of numbers without nulls is copied into its place in one array as each
    batch comes (a CSV's blocks, an IPC file's batches), so the batch is let go at once:
    the scan holds the table and a batch, not the table and all its batches (the one
    copy joining takes either way). Any other column keeps its pieces, joined when
    converted (`column_from_arrow`); so does a column of numbers from its first null on.
    The first batch is kept as it is until a second comes: a table of one batch (a
    file's short last one) is handed on without a copy.
    """

    def __init__(self, rows: int, spare: _Spare):
        self.rows = rows
        self.spare = spare
        self.held = 0
        self.first: Any = None  # the only batch so far, not yet copied
        self.schema: Any = None
        self.filled: list[Any] = []  # per column: the array it is copied into, or None
        self.chunks: list[list[Any]] = []  # per column: its pieces when not filled

    def add(self, batch: Any) -> None:
        """Take `batch` (at most the rows still missing) in; nothing of it is kept but copies
        and the pieces of the columns that are not filled (or the batch, if it is the first)."""
        if self.schema is None:
            self.schema = batch.schema
            self.filled = [None] * batch.num_columns
            self.chunks = [[] for _ in range(batch.num_columns)]
            self.first = batch
            self.held = batch.num_rows
            return
        if self.first is not None:
            first, self.first, self.held = self.first, None, 0
            self._copy(first)
            del first
        self._copy(batch)

    def _copy(self, batch: Any) -> None:
        import pyarrow.types as t

        n = batch.num_rows
        for i, col in enumerate(batch.columns):
            typ = col.type
            fits = (t.is_integer(typ) or t.is_floating(typ)) and not col.null_count
            if (
                fits
                and typ == self.schema.field(i).type
                and (self.held == 0 or self.filled[i] is not None)
            ):
                width = typ.bit_width // 8
                if self.filled[i] is None:
                    self.filled[i] = self.spare.take(self.rows * width, f"u{width}")
                self.filled[i][self.held : self.held + n] = np.frombuffer(
                    col.buffers()[1], f"u{width}", n, col.offset * width
                )
                continue
            if self.filled[i] is not None:  # a null from here on: what is filled is a piece
                self.chunks[i].append(self._array(i))
                self.filled[i] = None
            self.chunks[i].append(col)
        self.held += n

    def _array(self, i: int) -> Any:
        import pyarrow as pa

        buffer = pa.py_buffer(self.filled[i])  # holds the view `_Spare` watches
        return pa.Array.from_buffers(self.schema.field(i).type, self.held, [None, buffer])

    def table(self) -> Any:
        """The rows taken in so far, as a table; the join holds nothing of it after."""
        import pyarrow as pa

        if self.first is not None:
            first, self.first = self.first, None
            return pa.Table.from_batches([first])
        columns = [
            self._array(i) if self.filled[i] is not None else pa.chunked_array(self.chunks[i])
            for i in range(len(self.filled))
        ]
        self.filled, self.chunks = [], []
        return pa.Table.from_arrays(columns, schema=self.schema)


def _coalesce(batches: Iterator[Any], rows: int, budget: int | None) -> Iterator[list[Any]]:
    """Arrow record batches as tables of `rows` rows (the last may be shorter, see
    `_batch_rows` for `budget`), each in a list of one that holds the only reference: the
    caller takes it out to convert it (`frame_from_arrow`), so the pieces of a column
    that were not joined here (`_Join`) are let go once it is converted, not when the
    whole table is. A batch that holds a whole table is handed on without a copy.

    Each source yields an empty batch first, with the columns, so an empty
    file still gives one empty table.
    """
    import pyarrow as pa

    empty: Any = None
    join: _Join | None = None
    spare = _Spare()
    yielded = False
    for batch in batches:
        if empty is None:
            empty = batch  # the columns, kept in case no row comes
            rows = _batch_rows(rows, budget, batch.num_columns)
            if not batch.num_rows:
                continue
        start = 0
        while start < batch.num_rows:
            if join is None and batch.num_rows - start >= rows:
                box = [pa.Table.from_batches([batch.slice(start, rows)])]
                start += rows
            else:
                join = join or _Join(rows, spare)
                part = batch.slice(start, rows - join.held)
                join.add(part)
                start += part.num_rows
                del part
                if join.held < rows:
                    continue
                box, join = [join.table()], None
            yielded = True
            yield box
            del box
        del batch  # not held while the source reads on
    if join is not None:
        yield [join.table()]
    elif not yielded and empty is not None:
        yield [pa.Table.from_batches([empty])]


def frame_from_columns(columns: Mapping[str, Any], infer: bool = False) -> Frame:
    """Build a Frame from array-likes; strings are inferred into kinds when `infer`."""
    cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    length: int | None = None
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise DataError(f'column "{name}" is not one-dimensional')
        if length is None:
            length = len(arr)
        elif len(arr) != length:
            raise DataError(f'column "{name}" has {len(arr)} rows, expected {length}')
        if arr.dtype.kind in "US" or arr.dtype == object:
            if infer or arr.dtype == object:
                cols[name], kinds[name] = infer_column(arr.astype(str))
            else:
                cols[name], kinds[name] = arr.astype(str), "string"
        elif arr.dtype.kind == "b":
            cols[name], kinds[name] = arr.astype(float), "bool"
        elif arr.dtype.kind in "iu":
            cols[name], kinds[name] = arr.astype(float), "integer"
        elif arr.dtype.kind == "f":
            cols[name], kinds[name] = arr.astype(float), "number"
        elif arr.dtype.kind == "M":
            secs = arr.astype("datetime64[ns]").astype("int64") / 1e9
            secs[np.isnat(arr)] = np.nan  # NaT is the smallest int64, not a date
            cols[name], kinds[name] = secs.astype(float), "datetime"
        else:
            raise DataError(f'column "{name}" has unsupported type {arr.dtype}')
    return Frame(cols, kinds)
