"""freshness: the newest timestamp (a column, or the files' modification time) within `max_age`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, Unevaluable
from lookout.scheduler.validate import Key, duration, nonempty
from lookout.storage.records import iso

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {"column": Key(nonempty), "max_age": Key(duration, required=True)}


class State:
    """The newest finite timestamp seen."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c, self.ctx = c, ctx
        self.newest = -math.inf

    def update(self, frame: Frame, first_row: int) -> None:
        import numpy as np
        from lookout.scheduler.checks.columns import numeric

        if self.c["column"]:
            values = numeric(frame, self.c["column"], "a freshness check")
            finite = np.isfinite(values)
            if finite.any():
                self.newest = max(
                    self.newest, float(np.max(values, where=finite, initial=-math.inf))
                )

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import age

        c, ctx = self.c, self.ctx
        if c["column"]:
            if rows == 0:
                raise Unevaluable("no rows to examine")
            if self.newest == -math.inf:
                raise Unevaluable(f'column "{c["column"]}" has no finite timestamps')
            newest, what = self.newest, f"newest {c['column']}"
        else:
            if ctx.modified_at is None:
                raise Unevaluable('no "column" given and the source has no file modification time')
            newest, what = ctx.modified_at, "files modified"
        old = ctx.at - newest
        return Outcome(
            passed=old <= c["max_age"],
            observed=f"{age(old)} old ({what} {iso(newest)})",
            threshold=f"≤ {age(c['max_age'])} old",
            rows=rows,
        )


CHECK = CheckType("freshness", KEYS, State)
