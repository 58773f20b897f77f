"""A data check: its history and the failing examples of the selected result."""

from __future__ import annotations

from functools import partial
from typing import Any

from lookout.console.format import safe, status_text
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import checks, watch
from lookout.storage.db import Store
from lookout.storage.records import CheckResult
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


def fetch(store: Store, dataset: str, name: str) -> list[CheckResult]:
    return checks.history(store, dataset, name, limit=200)


class CheckScreen(LookoutScreen):
    def __init__(self, dataset: str, name: str) -> None:
        super().__init__()
        self.dataset = dataset
        self.check_name = name
        self.results: list[CheckResult] = []

    def compose_body(self) -> ComposeResult:
        yield Static(
            safe(f"Check {self.dataset}.{self.check_name}", 80, style="bold"), classes="title"
        )
        yield KeyedTable(
            [
                ("at", "Age"),
                ("result", "Result"),
                ("sev", "Severity"),
                ("observed", "Observed"),
                ("threshold", "Threshold"),
                ("failing", "Failing rows"),
                ("message", "Message"),
            ],
            flex=("message", "observed", "threshold"),
            id="history",
        )
        with VerticalScroll(id="examples"):
            yield Static(
                Text("No results recorded for this check yet.", style="dim"), id="examples-text"
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#history").focus()

    def sources(self) -> dict[str, Any]:
        return {
            "check": (watch.checks_key, partial(fetch, dataset=self.dataset, name=self.check_name))
        }

    def show_data(self, name: str, data: list[CheckResult]) -> None:
        self.results = data
        times = self.lookout.times
        self.query_one("#history", KeyedTable).relabel({"at": times.label("At (UTC)")})
        self.query_one("#history", KeyedTable).sync(
            [
                (
                    str(r.id),
                    (
                        Text(times.ago(r.at)),
                        status_text(r.result),
                        safe(r.severity, 5),
                        safe(r.observed, 120),
                        safe(r.threshold, 120),
                        Text(f"{r.failing_rows} of {r.rows_examined}"),
                        safe(r.message, 300),
                    ),
                )
                for r in data
            ]
        )
        self._show_examples()

    def _show_examples(self) -> None:
        key = self.query_one("#history", KeyedTable).selected_key
        r = next((r for r in self.results if str(r.id) == key), None)
        if r is None:
            return
        text = Text()
        text.append(f"{r.kind} check, {r.severity} severity · result ", style="bold")
        text.append_text(status_text(r.result))
        text.append("\n")
        if r.message:
            text.append_text(safe(r.message, 300))
            text.append("\n")
        if r.examples:
            text.append("failing examples:\n", style="bold")
            for e in r.examples:
                text.append("  ")
                text.append_text(safe(e, 100))
                text.append("\n")
        elif r.result != "pass":
            text.append("no examples recorded\n", style="dim")
        self.query_one("#examples-text", Static).update(text)

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        self._show_examples()
