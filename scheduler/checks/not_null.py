"""not_null: the share of missing values in each column, at most `max_null_share`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    COLUMN_KEYS,
    CheckType,
    Context,
    Outcome,
    Unevaluable,
    one_column_key,
)
from lookout.scheduler.validate import Key, number

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {**COLUMN_KEYS, "max_null_share": Key(number(0, 1), default=0.0)}


def rules(label: str, check: dict[str, Any]) -> None:
    one_column_key("not_null", label, check)


class State:
    """Missing values per column, rows missing any, and the first such rows' numbers."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c = c
        self.names: list[str] = c["columns"] or [c["column"]]
        self.counts = dict.fromkeys(self.names, 0)
        self.any_bad = 0
        self.examples: list[str] = []

    def update(self, frame: Frame, first_row: int) -> None:
        import numpy as np
        from lookout.scheduler.checks.columns import MAX_EXAMPLES, column, missing

        if frame.rows == 0:  # "no rows" comes before a missing column, as in memory
            return
        any_bad: np.ndarray | None = None
        for name in self.names:
            values, kind = column(frame, name)
            bad = missing(values, kind)
            if bad is None:
                continue
            self.counts[name] += int(np.count_nonzero(bad))
            any_bad = bad if any_bad is None else any_bad | bad
        if any_bad is not None:
            self.any_bad += int(np.count_nonzero(any_bad))
            room = MAX_EXAMPLES - len(self.examples)
            if room > 0:
                at = np.flatnonzero(any_bad)[:room] + first_row
                self.examples += [f"row {i + 1}" for i in at.tolist()]

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import fmt, plural

        if rows == 0:
            raise Unevaluable("no rows to examine")
        worst, worst_name, worst_count = 0.0, self.names[0], 0
        for name in self.names:
            count = self.counts[name]
            if count / rows > worst:
                worst, worst_name, worst_count = count / rows, name, count
        limit = self.c["max_null_share"]
        where = f" in {worst_name}" if len(self.names) > 1 else ""
        return Outcome(
            passed=worst <= limit,
            observed=f"{worst:.4g} null{where} ({worst_count} of {rows} {plural(rows, 'row')})",
            threshold="no nulls" if limit == 0 else f"null share ≤ {fmt(limit)}",
            rows=rows,
            failing_rows=self.any_bad,
            examples=tuple(self.examples),
        )


CHECK = CheckType("not_null", KEYS, State, rules)
