"""custom: `fn(frame, **args)` returning (passed, observed) or a dict with passed/observed
(and optionally failing_rows and examples)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, Unevaluable
from lookout.scheduler.validate import Key, call, free_table

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

KEYS = {"call": Key(call, required=True), "args": Key(free_table, default=dict)}


class State:
    """A custom function sees the whole dataset: the batches are put back together for it
    (the one check whose memory is not bounded when streaming)."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c, self.ctx = c, ctx
        self.frames: list[Frame] = []

    def update(self, frame: Frame, first_row: int) -> None:
        self.frames.append(frame)

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.frame import Frame
        from lookout.scheduler.loading import concat

        frames = self.frames or [Frame({}, {})]
        return _call(concat(frames, ["batch"] * len(frames)), self.c, self.ctx)


def _call(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import MAX_EXAMPLES, show
    from lookout.scheduler.frame import DataError
    from lookout.scheduler.loading import resolve_callable

    try:
        fn = resolve_callable(ctx.ws.config, c["call"])
    except DataError as exc:
        raise Unevaluable(str(exc)) from None
    if not callable(fn):
        raise Unevaluable(f"{c['call']} is not callable")
    try:
        out = fn(frame, **c["args"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Unevaluable(
            f"{c['call']} raised {type(exc).__name__}: {first}".rstrip(": ")
        ) from None
    if isinstance(out, dict) and "passed" in out:
        passed, observed = out["passed"], out.get("observed")
        failing = out.get("failing_rows", 0)
        found = out.get("examples", ())
    elif isinstance(out, tuple) and len(out) == 2:
        (passed, observed), failing, found = out, 0, ()
    else:
        raise Unevaluable(
            f"{c['call']} returned {type(out).__name__}; expected (passed, observed) or a dict"
        )
    if not isinstance(passed, bool | np.bool_):
        raise Unevaluable(f"{c['call']} returned passed={passed!r}; expected true or false")
    if isinstance(failing, bool) or not isinstance(failing, int | np.integer):
        raise Unevaluable(f"{c['call']} returned failing_rows={failing!r}; expected an integer")
    if not isinstance(found, list | tuple):
        raise Unevaluable(f"{c['call']} returned examples that are not a list")
    return Outcome(
        passed=bool(passed),
        observed=None if observed is None else show(observed),
        threshold=c["call"],
        rows=frame.rows,
        failing_rows=int(failing),
        examples=tuple(show(e) for e in found[:MAX_EXAMPLES]),
    )


CHECK = CheckType("custom", KEYS, State)
