"""Column helpers every check type's evaluator uses: finding a column, its missing
values, examples of failing values, and numbers and bounds written for people."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from lookout.scheduler.checks.base import Unevaluable
from lookout.scheduler.frame import Frame
from lookout.storage import checks as stored_checks
from lookout.storage.records import iso

MAX_EXAMPLES = stored_checks.MAX_EXAMPLES
NUMERIC_KINDS = ("number", "integer", "datetime", "bool")


def fmt(x: float) -> str:
    """A number for people: integers in full, others to 6 significant digits."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))  # ids and counts in full, never 1.23457e+06
    return f"{x:.6g}"


def age(seconds: float) -> str:
    """A duration for people: 45s, 12m, 3.5h, 2.1d."""
    s = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            text = f"{s / size:.3g}{unit}"
            break
    else:
        text = f"{s:.3g}s"
    return text if seconds >= 0 else f"{text} in the future"


def plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def column(frame: Frame, name: str) -> tuple[np.ndarray, str]:
    if name not in frame.columns:
        shown = ", ".join(frame.names[:10]) + (", …" if len(frame.names) > 10 else "")
        raise Unevaluable(f'column "{name}" not found (columns: {shown or "none"})')
    return frame.columns[name], frame.kinds[name]


def numeric(frame: Frame, name: str, needs: str) -> np.ndarray:
    values, kind = column(frame, name)
    if kind not in NUMERIC_KINDS:
        raise Unevaluable(f'column "{name}" holds {kind} values; {needs} needs numbers')
    return values


def missing(values: np.ndarray, kind: str) -> np.ndarray | None:
    """The missing-value mask ("" for strings, NaN otherwise), or None when nothing is missing.

    For numbers the sum decides first (any NaN makes it NaN): one cheap pass
    for the common, clean column.
    """
    if kind != "string":
        with np.errstate(invalid="ignore"):  # inf + -inf is NaN too; the mask settles it
            if not math.isnan(float(np.sum(values))):
                return None
    mask = empty_strings(values) if kind == "string" else np.isnan(values)
    return mask if mask.any() else None


def empty_strings(values: np.ndarray) -> np.ndarray:
    """`values == ""`, read from each string's first code unit (a third of the time).

    NumPy strips trailing NULs from fixed-width strings, so a first unit of 0
    means empty, or a string starting with NUL; those few rows are compared in full.
    """
    width = values.dtype.itemsize // 4
    if values.dtype.kind != "U" or width == 0 or not values.flags.c_contiguous:
        return np.asarray(values == "")
    mask = values.view(np.uint32)[::width] == 0
    suspects = np.flatnonzero(mask)
    if suspects.size:
        mask[suspects] = values[suspects] == ""
    return mask


def need_rows(frame: Frame) -> int:
    if frame.rows == 0:
        raise Unevaluable("no rows to examine")
    return frame.rows


def show(value: Any, kind: str = "") -> str:
    if isinstance(value, float | np.floating):
        if kind == "datetime" and math.isfinite(value):
            return str(iso(float(value)))
        return fmt(float(value))
    return str(value)


def examples(values: np.ndarray, kind: str = "") -> tuple[str, ...]:
    """Up to MAX_EXAMPLES distinct values, in the order they appear (from the first 1000)."""
    out: dict[str, None] = {}
    for v in values[:1000].tolist():
        out.setdefault(show(v, kind), None)
        if len(out) >= MAX_EXAMPLES:
            break
    return tuple(out)


def failing_values(values: np.ndarray, bad: np.ndarray, kind: str = "") -> tuple[str, ...]:
    """Examples taken from the failing mask only (the first rows that fail)."""
    return examples(values[np.flatnonzero(bad)[:1000]], kind)


class FailingExamples:
    """`failing_values` over record batches: the distinct values of the first failing rows."""

    def __init__(self) -> None:
        self.seen = 0  # failing rows looked at, up to 1000 as `failing_values` does
        self.found: dict[str, None] = {}

    def add(self, values: np.ndarray, bad: np.ndarray, kind: str = "") -> None:
        if self.seen >= 1000 or len(self.found) >= MAX_EXAMPLES:
            return
        at = np.flatnonzero(bad)[: 1000 - self.seen]
        self.seen += len(at)
        for v in values[at].tolist():
            self.found.setdefault(show(v, kind), None)
            if len(self.found) >= MAX_EXAMPLES:
                break

    def examples(self) -> tuple[str, ...]:
        return tuple(self.found)


def row_numbers(bad: np.ndarray) -> tuple[str, ...]:
    """For conditions with no telling value (nulls): the first failing rows, 1-based."""
    return tuple(f"row {i + 1}" for i in np.flatnonzero(bad)[:MAX_EXAMPLES].tolist())


def bounds_text(lo: float | None, hi: float | None, inclusive: bool = True) -> str:
    if lo is not None and hi is not None:
        return f"[{fmt(lo)}, {fmt(hi)}]" if inclusive else f"({fmt(lo)}, {fmt(hi)})"
    if lo is not None:
        return f"{'≥' if inclusive else '>'} {fmt(lo)}"
    return f"{'≤' if inclusive else '<'} {fmt(hi if hi is not None else math.inf)}"


def within(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo) and (hi is None or x <= hi)
