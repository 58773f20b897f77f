"""Data checks pane: the latest result of every check, failing first (a failed check's
severity is its result word, `✗ fail` or `▲ warn`; the check screen shows the rest)."""

from __future__ import annotations

from lookout.console.format import Cells, Times, safe, status_text
from lookout.console.panes import PaneSpec
from lookout.storage import checks, watch
from lookout.storage.db import Store
from lookout.storage.records import CheckResult


def fetch(store: Store) -> list[CheckResult]:
    return checks.latest_results(store)


def check_key(r: CheckResult) -> str:
    return f"{r.dataset}.{r.name}"


def rows(data: list[CheckResult], times: Times) -> list[tuple[str, Cells]]:
    return [
        (
            check_key(r),
            (
                safe(check_key(r), 120),
                status_text(r.result),
                safe(r.observed, 120),
                safe(r.threshold, 120),
            ),
        )
        for r in data
    ]


def summary(data: list[CheckResult]) -> str:
    bad = sum(1 for r in data if r.result in ("fail", "error"))
    return f"{bad} failing of {len(data)}" if data else ""


SPEC = PaneSpec(
    name="checks",
    title="Data checks",
    columns=[
        ("check", "Check"),
        ("result", "Result"),
        ("observed", "Observed"),
        ("threshold", "Threshold"),
    ],
    empty="No data checks recorded yet.",
    key=watch.checks_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("observed", "threshold"),
)
