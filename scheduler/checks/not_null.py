"""not_null: the share of missing values in each column, at most `max_null_share`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    COLUMN_KEYS,
    CheckType,
    Context,
    Outcome,
    one_column_key,
)
from lookout.scheduler.validate import Key, number

if TYPE_CHECKING:
    import numpy as np
    from lookout.scheduler.frame import Frame

KEYS = {**COLUMN_KEYS, "max_null_share": Key(number(0, 1), default=0.0)}


def rules(label: str, check: dict[str, Any]) -> None:
    one_column_key("not_null", label, check)


def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import (
        column,
        fmt,
        missing,
        need_rows,
        plural,
        row_numbers,
    )

    names = c["columns"] or [c["column"]]
    rows = need_rows(frame)
    cols = [column(frame, n) for n in names]
    worst, worst_name, worst_count = 0.0, names[0], 0
    any_bad: np.ndarray | None = None
    for name, (values, kind) in zip(names, cols, strict=True):
        bad = missing(values, kind)
        if bad is None:
            continue
        count = int(np.count_nonzero(bad))
        if count / rows > worst:
            worst, worst_name, worst_count = count / rows, name, count
        any_bad = bad if any_bad is None else any_bad | bad
    limit = c["max_null_share"]
    where = f" in {worst_name}" if len(names) > 1 else ""
    return Outcome(
        passed=worst <= limit,
        observed=f"{worst:.4g} null{where} ({worst_count} of {rows} {plural(rows, 'row')})",
        threshold="no nulls" if limit == 0 else f"null share ≤ {fmt(limit)}",
        rows=rows,
        failing_rows=0 if any_bad is None else int(np.count_nonzero(any_bad)),
        examples=() if any_bad is None else row_numbers(any_bad),
    )


CHECK = CheckType("not_null", KEYS, evaluate, rules)
