"""unique: no key (one column or a composite) appears twice; rows with a missing part are skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lookout.scheduler.checks.base import (
    COLUMN_KEYS,
    CheckType,
    Context,
    Outcome,
    Unevaluable,
    one_column_key,
)

if TYPE_CHECKING:
    import numpy as np
    from lookout.scheduler.frame import Frame

KEYS = dict(COLUMN_KEYS)


def rules(label: str, check: dict[str, Any]) -> None:
    one_column_key("unique", label, check)


def evaluate(frame: Frame, c: dict[str, Any], ctx: Context) -> Outcome:
    import numpy as np
    from lookout.scheduler.checks.columns import (
        column,
        examples,
        missing,
        need_rows,
        plural,
        show,
    )

    names = c["columns"] or [c["column"]]
    need_rows(frame)
    cols = [column(frame, n) for n in names]
    present: np.ndarray | None = None
    for values, kind in cols:
        gap = missing(values, kind)
        if gap is not None:
            present = ~gap if present is None else present & ~gap
    keys = [v if present is None else v[present] for v, _ in cols]
    n = len(keys[0])
    if n == 0:
        raise Unevaluable("every key has a missing part")
    if len(keys) == 1:
        ordered = [np.sort(keys[0])]
    else:
        order = np.lexsort(keys[::-1])
        ordered = [k[order] for k in keys]
    dup = np.ones(n - 1, dtype=bool)
    for k in ordered:
        dup &= k[1:] == k[:-1]
    count = int(np.count_nonzero(dup))
    found: tuple[str, ...] = ()
    if count:
        at = np.flatnonzero(dup)[:1000] + 1
        if len(ordered) == 1:
            found = examples(ordered[0][at], cols[0][1])
        else:
            parts = [[show(v) for v in k[at].tolist()] for k in ordered]
            found = examples(np.array([", ".join(p) for p in zip(*parts, strict=True)]))
    return Outcome(
        passed=count == 0,
        observed=f"{count} duplicate {plural(count, 'row')}",
        threshold=f"unique ({', '.join(names)})",
        rows=n,
        failing_rows=count,
        examples=found,
    )


CHECK = CheckType("unique", KEYS, evaluate, rules)
