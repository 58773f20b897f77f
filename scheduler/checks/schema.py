"""schema: required columns with their kinds; `strict` also refuses columns not listed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import CheckType, Context, Outcome, not_empty
from lookout.scheduler.validate import Key, boolean, choice, free_table, join

if TYPE_CHECKING:
    from lookout.scheduler.frame import Frame

COLUMN_KINDS = ("number", "integer", "string", "datetime", "bool")

KEYS = {
    "columns": Key(free_table, required=True),
    "strict": Key(boolean, default=False),
}


def rules(label: str, check: dict[str, Any]) -> None:
    not_empty("columns", label, check)
    for col, col_kind in check["columns"].items():
        choice(*COLUMN_KINDS)(join(join(label, "columns"), col), col_kind)


def _kind_fits(have: str, want: str) -> bool:
    return have == want or (want == "number" and have == "integer")


class State:
    """Nothing to keep: the engine knows each column's kind at the end."""

    def __init__(self, c: dict[str, Any], ctx: Context):
        self.c = c

    def update(self, frame: Frame, first_row: int) -> None:
        pass

    def finish(self, rows: int, kinds: dict[str, str]) -> Outcome:
        return _outcome(self.c, rows, kinds)


def _outcome(c: dict[str, Any], rows: int, kinds: dict[str, str]) -> Outcome:
    from lookout.scheduler.checks.columns import MAX_EXAMPLES

    wanted: dict[str, str] = c["columns"]
    problems = []
    for name, want in wanted.items():
        have = kinds.get(name)
        if have is None:
            problems.append(f"{name}: missing")
        elif not _kind_fits(have, want):
            problems.append(f"{name}: {have}, expected {want}")
    if c["strict"]:
        problems += [f"{n}: unexpected" for n in kinds if n not in wanted]
    threshold = ", ".join(f"{n}: {k}" for n, k in wanted.items())
    return Outcome(
        passed=not problems,
        observed="; ".join(problems) if problems else f"{len(kinds)} columns as expected",
        threshold=threshold + (" (strict)" if c["strict"] else ""),
        rows=rows,
        examples=tuple(problems[:MAX_EXAMPLES]),
    )


CHECK = CheckType("schema", KEYS, State, rules)
