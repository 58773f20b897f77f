"""A small column store for tabular data: name -> NumPy array, plus each column's kind.

Pipelines, checks and drift all work on `Frame`. Numbers are float64 with
NaN for missing; strings are fixed-width unicode arrays ("" for missing);
datetimes are float seconds since the epoch; booleans are float 0/1. Keeping
to plain arrays keeps imports light (no pandas) and lets batches be stored
without pickling.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("number", "integer", "string", "datetime", "bool")
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}
_MISSING = {"", "na", "nan", "null", "none", "n/a"}


class DataError(Exception):
    """Data that cannot be read as a table; the message names the file and the problem."""


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
        h = hashlib.sha256()
        for name in sorted(self.columns):
            h.update(name.encode())
            h.update(self.kinds[name].encode())
            col = self.columns[name]
            h.update(np.ascontiguousarray(col).tobytes())
        return h.hexdigest()


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
    """Turn a column of strings into the narrowest kind that holds every value."""
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
        finite = numbers[np.isfinite(numbers)]
        is_int = finite.size > 0 and bool(np.all(finite == np.round(finite)))
        return numbers, "integer" if is_int else "number"
    uniq = set(np.unique(present).tolist())
    if uniq <= (_TRUE | _FALSE):
        out = np.where(missing, np.nan, np.isin(lower, list(_TRUE)).astype(float))
        return out, "bool"
    if present.size and "-" in str(present[0]):
        parsed = _parse_datetime(stripped)
        if parsed is not None:
            return parsed, "datetime"
    return np.where(missing, "", stripped), "string"


def read_csv(path: Path | str, text: str | None = None) -> Frame:
    """Read a CSV with a header row; every failure is a DataError naming the file."""
    label = str(path)
    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{label}: cannot read: {exc}") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise DataError(f"{label}: not valid CSV: {exc}") from None
    rows = [r for r in rows if r]
    if not rows:
        raise DataError(f"{label}: empty file (no header row)")
    header = [h.strip() for h in rows[0]]
    if any(not h for h in header):
        raise DataError(f"{label}: header has an empty column name")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(f'{label}: column "{dup}" appears twice in the header')
    body = rows[1:]
    for lineno, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(f"{label}: line {lineno} has {len(r)} fields, expected {len(header)}")
    grid = np.array(body, dtype=str) if body else np.empty((0, len(header)), dtype=str)
    return frame_from_columns({h: grid[:, i] for i, h in enumerate(header)}, infer=True)


def read_parquet(path: Path | str) -> Frame:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(f"{path}: cannot read Parquet: {exc}") from None
    return frame_from_columns({n: table.column(n).to_numpy() for n in table.column_names})


def read_table(path: Path | str, fmt: str = "auto") -> Frame:
    """CSV or Parquet by `fmt`, or by the file's extension when `fmt` is auto."""
    if fmt == "parquet" or (fmt == "auto" and str(path).endswith((".parquet", ".pq"))):
        return read_parquet(path)
    return read_csv(path)


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
