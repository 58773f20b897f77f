"""What the mean and std check types share: a statistic of a column's present values
within min/max and/or N sigmas of the reference (the production version's profile)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    CheckType,
    Context,
    Outcome,
    Unevaluable,
    ordered_bounds,
)
from lookout.scheduler.validate import Invalid, Key, nonempty, number

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {
    "column": Key(nonempty, required=True),
    "min": Key(number()),
    "max": Key(number()),
    "sigmas": Key(number(0)),
}


def check_type(stat: str) -> CheckType:
    """The check type named after the statistic, "mean" or "std"."""

    def rules(label: str, check: dict[str, Any]) -> None:
        ordered_bounds(label, check)
        if check["min"] is None and check["max"] is None and check["sigmas"] is None:
            raise Invalid(label, f'a {stat} check needs "min"/"max" or "sigmas"')

    def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
        return _evaluate(frame, c, ctx, stat)

    return CheckType(stat, dict(KEYS), evaluate, rules)


def _evaluate(frame: Frame, c: dict[str, Any], ctx: Context, stat: str) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import bounds_text, fmt, need_rows, numeric, within

    name = c["column"]
    values = numeric(frame, name, f"a {stat} check")
    need_rows(frame)
    present = ~np.isnan(values)
    n = int(np.count_nonzero(present))
    if n == 0:
        raise Unevaluable(f'column "{name}" has no values (all missing)')
    with np.errstate(all="ignore"):
        observed = float(
            np.mean(values, where=present) if stat == "mean" else np.std(values, where=present)
        )
    if not math.isfinite(observed):
        raise Unevaluable(f"the {stat} of {name} is {fmt(observed)} (the column holds inf)")
    lo, hi = c["min"], c["max"]
    parts = [bounds_text(lo, hi)] if lo is not None or hi is not None else []
    message = ""
    if c["sigmas"] is not None:
        ref = ctx.reference()
        feature = ref.profile.get("features", {}).get(name, {})
        ref_mean, ref_std = feature.get("mean"), feature.get("std")
        if ref_mean is None or ref_std is None:
            raise Unevaluable(
                f"the reference ({ref.model} v{ref.version}) has no mean/std for {name}"
            )
        s = c["sigmas"]
        if stat == "mean":
            slo, shi = ref_mean - s * ref_std, ref_mean + s * ref_std
        else:  # a spread may shrink or grow by the same factor, 1 + sigmas
            slo, shi = ref_std / (1 + s), ref_std * (1 + s)
        lo = slo if lo is None else max(lo, slo)
        hi = shi if hi is None else min(hi, shi)
        parts.append(f"{fmt(s)}σ of {ref.model} v{ref.version}: {bounds_text(slo, shi)}")
        message = f"reference {stat} {fmt(ref_mean if stat == 'mean' else ref_std)}"
    return Outcome(
        passed=within(observed, lo, hi),
        observed=fmt(observed),
        threshold="; ".join(parts),
        rows=n,
        message=message,
    )
