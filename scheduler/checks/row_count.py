"""row_count: the number of rows within min and/or max."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, ordered_bounds, some_bound
from lookout.scheduler.validate import Key, integer

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {"min": Key(integer(0)), "max": Key(integer(0))}


def rules(label: str, check: dict[str, Any]) -> None:
    some_bound("row_count", label, check)
    ordered_bounds(label, check)


class State:
    """Nothing to keep: the engine counts the rows."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c = c

    def update(self, frame: Frame, first_row: int) -> None:
        pass

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import bounds_text, plural, within

        lo, hi = self.c["min"], self.c["max"]
        return Outcome(
            passed=within(rows, lo, hi),
            observed=f"{rows} {plural(rows, 'row')}",
            threshold=bounds_text(lo, hi),
            rows=rows,
        )


CHECK = CheckType("row_count", KEYS, State, rules)
