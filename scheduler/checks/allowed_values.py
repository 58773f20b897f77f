"""allowed_values: every present value is one of `values` (missing ones are not_null's business)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, Unevaluable, not_empty
from lookout.scheduler.validate import Key, list_of, nonempty, scalar

if TYPE_CHECKING:
    import numpy as np
    from lookout.scheduler.frame import Frame

# Allowed-value lists up to this size are matched with one `==` pass per value
# (faster than np.isin's sort for the few categories typical of such checks).
SMALL_ALLOWED = 16

KEYS = {
    "column": Key(nonempty, required=True),
    "values": Key(list_of(scalar), required=True),
}


def rules(label: str, check: dict[str, Any]) -> None:
    not_empty("values", label, check)


def _allowed_array(values: list[Any], kind: str) -> np.ndarray:
    import numpy as np

    if kind == "string":
        return np.array([str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue  # a word can never equal a number; such values simply never match
    return np.array(out, dtype=float)


class State:
    """Rows with other values, examples of them, and whether any value was present."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        from lookout.scheduler.checks.columns import FailingExamples

        self.c = c
        self.count = 0
        self.present = 0
        self.found = FailingExamples()

    def update(self, frame: Frame, first_row: int) -> None:
        import numpy as np
        from lookout.scheduler.checks.columns import column, missing

        values, kind = column(frame, self.c["column"])
        rows = frame.rows
        if rows == 0:
            return
        allowed = _allowed_array(self.c["values"], kind)
        absent = missing(values, kind)
        self.present += rows - (0 if absent is None else int(np.count_nonzero(absent)))
        ok = np.zeros(rows, dtype=bool) if absent is None else absent.copy()
        if len(allowed) <= SMALL_ALLOWED:
            for a in allowed:
                ok |= values == a
        else:
            ok |= np.isin(values, allowed)
        bad = ~ok
        count = int(np.count_nonzero(bad))
        if count:
            self.count += count
            self.found.add(values, bad)

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        from lookout.scheduler.checks.columns import plural, show

        if rows == 0:
            raise Unevaluable("no rows to examine")
        if not self.present:
            raise Unevaluable(f'column "{self.c["column"]}" has no values (all missing)')
        allowed = _allowed_array(self.c["values"], kinds.get(self.c["column"], ""))
        listed = ", ".join(show(a) for a in allowed[:20]) + (", …" if len(allowed) > 20 else "")
        return Outcome(
            passed=self.count == 0,
            observed=f"{self.count} {plural(self.count, 'row')} with other values",
            threshold=f"one of {listed}" if len(allowed) else "no numeric values listed",
            rows=rows,
            failing_rows=self.count,
            examples=self.found.examples(),
        )


CHECK = CheckType("allowed_values", KEYS, State, rules)
