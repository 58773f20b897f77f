"""range: every present value finite and within [min, max] (or the open interval)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    CheckType,
    Context,
    Outcome,
    Unevaluable,
    ordered_bounds,
    some_bound,
)
from lookout.scheduler.validate import Invalid, Key, boolean, nonempty, number

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {
    "column": Key(nonempty, required=True),
    "min": Key(number()),
    "max": Key(number()),
    "inclusive": Key(boolean, default=True),
}


def rules(label: str, check: dict[str, Any]) -> None:
    some_bound("range", label, check)
    ordered_bounds(label, check)
    lo, hi = check["min"], check["max"]
    if not check["inclusive"] and lo is not None and lo == hi:
        raise Invalid(label, f"min and max are both {lo:g} and inclusive = false: no value fits")


class State:
    """The extremes, the rows outside and examples of them."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        from lookout.scheduler.checks.columns import FailingExamples

        self.c = c
        self.low = self.high = math.nan
        self.count = 0
        self.found = FailingExamples()

    def _inside(self, x: float) -> bool:
        lo, hi, inclusive = self.c["min"], self.c["max"], self.c["inclusive"]
        above = lo is None or (x >= lo if inclusive else x > lo)
        below = hi is None or (x <= hi if inclusive else x < hi)
        return math.isfinite(x) and above and below

    def update(self, frame: Frame, first_row: int) -> None:
        import numpy as np
        from lookout.scheduler.checks.columns import numeric

        values = numeric(frame, self.c["column"], "a range check")
        if frame.rows == 0:
            return
        lo, hi, inclusive = self.c["min"], self.c["max"], self.c["inclusive"]
        low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
        self.low, self.high = float(np.fmin(self.low, low)), float(np.fmax(self.high, high))
        if math.isnan(low) or (self._inside(low) and self._inside(high)):
            return  # the extremes inside means every value is
        bad = np.isinf(values)
        if lo is not None:
            bad |= values < lo if inclusive else values <= lo
        if hi is not None:
            bad |= values > hi if inclusive else values >= hi
        self.count += int(np.count_nonzero(bad))
        self.found.add(values, bad, frame.kinds[self.c["column"]])

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import bounds_text, show

        if rows == 0:
            raise Unevaluable("no rows to examine")
        if math.isnan(self.low):
            raise Unevaluable(f'column "{self.c["column"]}" has no values (all missing)')
        kind = kinds.get(self.c["column"], "")
        return Outcome(
            passed=self.count == 0,
            observed=f"min {show(self.low, kind)}, max {show(self.high, kind)}; {self.count} outside",
            threshold=bounds_text(self.c["min"], self.c["max"], self.c["inclusive"]),
            rows=rows,
            failing_rows=self.count,
            examples=self.found.examples(),
        )


CHECK = CheckType("range", KEYS, State, rules)
