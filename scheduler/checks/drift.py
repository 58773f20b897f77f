"""drift: the share of drifted features against the reference profile, at most `max_share`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, Unevaluable, not_empty
from lookout.scheduler.drift_methods import CHOICES
from lookout.scheduler.validate import Key, choice, list_of, nonempty, number

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {
    "columns": Key(list_of(nonempty)),
    "method": Key(choice(*CHOICES), default="auto"),
    "max_share": Key(number(0, 1), default=0.5),
}


def rules(label: str, check: dict[str, Any]) -> None:
    not_empty("columns", label, check)


def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    from lookout.scheduler import drift
    from lookout.scheduler.checks.columns import MAX_EXAMPLES, column, fmt, need_rows, show

    need_rows(frame)
    ref = ctx.reference()
    profiled = list(ref.profile.get("features", {}))
    names = c["columns"] or profiled
    if not names:
        raise Unevaluable(f"the reference ({ref.model} v{ref.version}) profiles no features")
    for name in names:
        column(frame, name)
        if name not in profiled:
            raise Unevaluable(
                f"the reference ({ref.model} v{ref.version}) has no profile of {name}"
            )
    features = drift.compare_profile(ref.profile, frame, names, method=c["method"])
    broken = [f for f in features if f.level == "error"]
    if broken:
        raise Unevaluable(broken[0].error or f"{broken[0].name}: drift not computable")
    drifted = [f for f in features if f.level == "drift"]
    share = len(drifted) / len(features)
    return Outcome(
        passed=share <= c["max_share"],
        observed=f"{share:.3g} of features drifted ({len(drifted)} of {len(features)})",
        threshold=f"share ≤ {fmt(c['max_share'])} vs {ref.model} v{ref.version}",
        rows=frame.rows,
        failing_rows=0,
        examples=tuple(f"{f.name}: {f.method} {show(f.score)}" for f in drifted[:MAX_EXAMPLES]),
    )


CHECK = CheckType("drift", KEYS, evaluate, rules)
