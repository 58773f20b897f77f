"""Data checks pane: the latest result of every check, failing first (a failed check's
severity is its result word, `✗ fail` or `▲ warn`; the check screen shows the rest)."""

from __future__ import annotations

from lookout.console.format import Cells, Times, safe, status_text
from lookout.console.panes import PaneSpec
from lookout.storage import checks, watch
from lookout.storage.db import Store
from lookout.storage.records import CheckResult
from rich.text import Text


def fetch(store: Store) -> list[CheckResult]:
    return checks.latest_results(store)


def check_key(r: CheckResult) -> str:
    return f"{r.dataset}.{r.name}"


def observed(r: CheckResult) -> Text:
    """`17 nulls · want 0`: what was seen and what the check wants, in one column that
    wraps, so the check's name stays whole in a half-width pane."""
    text = safe(r.observed, 120)
    if r.threshold:
        text.append(" · want ", style="dim")
        text.append_text(safe(r.threshold, 120))
    return text


def rows(data: list[CheckResult], times: Times) -> list[tuple[str, Cells]]:
    return [
        (
            check_key(r),
            (
                safe(check_key(r), 120),
                status_text(r.result),
                observed(r),
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
        ("observed", "Observed · want"),
    ],
    empty="No data checks recorded yet.",
    key=watch.checks_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("observed",),
)
