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


def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import age, need_rows, numeric

    if c["column"]:
        values = numeric(frame, c["column"], "a freshness check")
        need_rows(frame)
        finite = np.isfinite(values)
        if not finite.any():
            raise Unevaluable(f'column "{c["column"]}" has no finite timestamps')
        newest = float(np.max(values, where=finite, initial=-math.inf))
        what = f"newest {c['column']}"
    else:
        if ctx.modified_at is None:
            raise Unevaluable('no "column" given and the source has no file modification time')
        newest, what = ctx.modified_at, "files modified"
    old = ctx.at - newest
    return Outcome(
        passed=old <= c["max_age"],
        observed=f"{age(old)} old ({what} {iso(newest)})",
        threshold=f"≤ {age(c['max_age'])} old",
        rows=frame.rows,
    )


CHECK = CheckType("freshness", KEYS, evaluate)
