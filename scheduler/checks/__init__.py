"""Data checks: one module per check type, one row each in CHECK_TYPES (see ARCHITECTURE.md).

A check type (`base.CheckType`) holds its keys in lookout.toml, the rules
that refuse combinations of them, and its evaluator, which works on whole
NumPy columns with the helpers in `columns`. `engine` runs a dataset's checks
and records the results. Adding a check type is a module here plus a row below.

Nothing imported here loads NumPy: `lookout.toml` is validated against this
table, and reading a config must stay light (the console's first frame,
`lookout status`). Evaluators import NumPy when they run.
"""

from __future__ import annotations

from lookout.scheduler.checks import (
    allowed_values,
    custom,
    drift,
    freshness,
    mean,
    not_null,
    row_count,
    schema,
    std,
    unique,
)
from lookout.scheduler.checks import range as value_range  # "range" would hide the built-in
from lookout.scheduler.checks.base import CheckType

CHECK_TYPES: dict[str, CheckType] = {
    t.name: t
    for t in (
        schema.CHECK,
        not_null.CHECK,
        value_range.CHECK,
        allowed_values.CHECK,
        unique.CHECK,
        row_count.CHECK,
        freshness.CHECK,
        mean.CHECK,
        std.CHECK,
        drift.CHECK,
        custom.CHECK,
    )
}
