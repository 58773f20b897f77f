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


class State:
    """The batches' columns (one batch: compared as they are) or, streamed over several,
    each batch's profile, compared merged (`lookout.scheduler.profiles`)."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c, self.ctx = c, ctx
        self.names: list[str] = []
        self.first: Frame | None = None
        self.profiles: list[dict[str, Any]] = []

    def update(self, frame: Frame, first_row: int) -> None:
        from lookout.scheduler.checks.columns import column

        if frame.rows == 0:
            return
        ref = self.ctx.reference()
        profiled = ref.profile.get("features", {})
        if not self.names:
            self.names = self.c["columns"] or list(profiled)
            if not self.names:
                raise Unevaluable(
                    f"the reference ({ref.model} v{ref.version}) profiles no features"
                )
        for name in self.names:
            column(frame, name)
            if name not in profiled:
                raise Unevaluable(
                    f"the reference ({ref.model} v{ref.version}) has no profile of {name}"
                )
        part = frame.select(self.names)
        if self.first is None and not self.profiles:
            self.first = part
            return
        if self.first is not None:
            self.profiles.append(self._profile(self.first))
            self.first = None
        self.profiles.append(self._profile(part))

    def _profile(self, part: Frame) -> dict[str, Any]:
        from lookout.scheduler.profiles import batch_profile

        ref = self.ctx.reference().profile
        cats = [n for n, f in ref.get("features", {}).items() if f.get("kind") == "categorical"]
        return batch_profile(part.columns, ref, categorical=[n for n in self.names if n in cats])

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler import drift
        from lookout.scheduler.checks.columns import MAX_EXAMPLES, fmt, show
        from lookout.scheduler.profiles import Window, compare_window

        if rows == 0:
            raise Unevaluable("no rows to examine")
        ref = self.ctx.reference()
        if self.first is not None:
            features = drift.compare_profile(
                ref.profile, self.first, self.names, method=self.c["method"]
            )
        else:
            features = compare_window(
                ref.profile, Window(self.profiles), self.names, method=self.c["method"]
            )
        broken = [f for f in features if f.level == "error"]
        if broken:
            raise Unevaluable(broken[0].error or f"{broken[0].name}: drift not computable")
        drifted = [f for f in features if f.level == "drift"]
        share = len(drifted) / len(features)
        return Outcome(
            passed=share <= self.c["max_share"],
            observed=f"{share:.3g} of features drifted ({len(drifted)} of {len(features)})",
            threshold=f"share ≤ {fmt(self.c['max_share'])} vs {ref.model} v{ref.version}",
            rows=rows,
            failing_rows=0,
            examples=tuple(f"{f.name}: {f.method} {show(f.score)}" for f in drifted[:MAX_EXAMPLES]),
        )


CHECK = CheckType("drift", KEYS, State, rules)
