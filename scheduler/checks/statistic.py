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

    def start(c: dict[str, Any], ctx: Context) -> State:
        return State(c, ctx, stat)

    return CheckType(stat, dict(KEYS), start, rules)


class State:
    """Per batch the count, mean and std of the present values, merged at the end.

    One batch gives exactly NumPy's mean or std of the column; several are
    merged with Chan's formula (equal to within rounding). Infinities give
    what NumPy gives for the whole column: ±inf (or NaN for both) as the
    mean, NaN as the std.
    """

    def __init__(self, c: dict[str, Any], ctx: Context, stat: str):
        self.c, self.ctx, self.stat = c, ctx, stat
        self.parts: list[tuple[int, float, float]] = []  # (present, mean, std)
        self.posinf = self.neginf = False

    def update(self, frame: Frame, first_row: int) -> None:
        import numpy as np
        from lookout.scheduler.checks.columns import numeric

        values = numeric(frame, self.c["column"], f"a {self.stat} check")
        if frame.rows == 0:
            return
        present = ~np.isnan(values)
        n = int(np.count_nonzero(present))
        if n == 0:
            return
        with np.errstate(all="ignore"):
            mean = float(np.mean(values, where=present))
            std = float(np.std(values, where=present)) if self.stat == "std" else 0.0
        if not math.isfinite(mean):
            self.posinf |= bool(np.isposinf(values).any())
            self.neginf |= bool(np.isneginf(values).any())
        self.parts.append((n, mean, std))

    def observed(self) -> float:
        if len(self.parts) == 1:
            n, mean, std = self.parts[0]
            return mean if self.stat == "mean" else std
        if self.posinf or self.neginf:
            if self.stat == "std" or (self.posinf and self.neginf):
                return math.nan
            return math.inf if self.posinf else -math.inf
        n, mean, m2 = 0, 0.0, 0.0
        for nb, mb, sb in self.parts:
            total = n + nb
            delta = mb - mean
            mean += delta * nb / total
            m2 += sb * sb * nb + delta * delta * n * nb / total
            n = total
        return mean if self.stat == "mean" else math.sqrt(m2 / n)

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        return _outcome(self, rows)


def _outcome(state: State, rows: int) -> Outcome:
    from lookout.scheduler.checks.columns import bounds_text, fmt, within

    c, ctx, stat = state.c, state.ctx, state.stat
    name = c["column"]
    if rows == 0:
        raise Unevaluable("no rows to examine")
    n = sum(p[0] for p in state.parts)
    if n == 0:
        raise Unevaluable(f'column "{name}" has no values (all missing)')
    observed = state.observed()
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
