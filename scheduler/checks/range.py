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


def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import (
        bounds_text,
        failing_values,
        need_rows,
        numeric,
        show,
    )

    values = numeric(frame, c["column"], "a range check")
    kind = frame.kinds[c["column"]]
    rows = need_rows(frame)
    lo, hi, inclusive = c["min"], c["max"], c["inclusive"]
    low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
    if math.isnan(low):
        raise Unevaluable(f'column "{c["column"]}" has no values (all missing)')

    def inside(x: float) -> bool:
        above = lo is None or (x >= lo if inclusive else x > lo)
        below = hi is None or (x <= hi if inclusive else x < hi)
        return math.isfinite(x) and above and below

    count = 0
    found: tuple[str, ...] = ()
    if not (inside(low) and inside(high)):  # the extremes inside means every value is
        bad = np.isinf(values)
        if lo is not None:
            bad |= values < lo if inclusive else values <= lo
        if hi is not None:
            bad |= values > hi if inclusive else values >= hi
        count = int(np.count_nonzero(bad))
        found = failing_values(values, bad, kind)
    return Outcome(
        passed=count == 0,
        observed=f"min {show(low, kind)}, max {show(high, kind)}; {count} outside",
        threshold=bounds_text(lo, hi, inclusive),
        rows=rows,
        failing_rows=count,
        examples=found,
    )


CHECK = CheckType("range", KEYS, evaluate, rules)
