"""The overview: four live panes (pipelines, data checks, models, drift) and the events strip."""

from __future__ import annotations

from typing import Any

from lookout.console import actions
from lookout.console.panes import PaneSpec, overview_specs
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable, Pane
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid

SPECS: list[PaneSpec] = overview_specs()
OPENABLE = ("models", "pipelines", "checks", "drift")  # panes whose rows open a screen
# Each pane's own keys: offered while it has focus, first in the key bar.
PANE_KEYS: dict[str, list[Binding]] = {
    "pipelines": [Binding("R", "screen.trigger", "Run pipeline", id="overview.trigger")],
    "models": [
        Binding("a", "screen.approve", "Approve", id="overview.approve"),
        Binding("x", "screen.reject", "Reject", id="overview.reject"),
    ],
    "events": [Binding("a", "screen.acknowledge", "Acknowledge", id="overview.acknowledge")],
}


class OverviewScreen(LookoutScreen):
    """What is broken, what changed, what waits for a person — at a glance."""

    BINDINGS = [
        Binding("enter", "open", "Open", key_display="enter", id="overview.open"),
        Binding("e", "timeline", "Timeline", id="overview.timeline"),
        Binding("A", "approvals", "Approvals", id="overview.approvals"),
    ]

    def compose_body(self) -> ComposeResult:
        with Grid(id="panes"):
            for spec in SPECS[:4]:
                yield Pane(spec, PANE_KEYS.get(spec.name, ()))
        yield Pane(SPECS[4], PANE_KEYS.get(SPECS[4].name, ()), classes="strip")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#table-pipelines").focus()
        early = self.lookout.prefetch
        self.lookout.prefetch = None
        if early is not None and early.ready:  # read while Textual was loading
            for name, (key, data, _seconds) in early.results.items():
                self.show(name, data)
                self.lookout.seed(self, name, key)
            self.loaded = True
            self.lookout.first_data()

    def sources(self) -> dict[str, Any]:
        return {s.name: (s.key, s.fetch) for s in SPECS}

    def show_data(self, name: str, data: Any) -> None:
        self.query_one(f"#pane-{name}", Pane).show(data, self.lookout.times)
        if name == "models":
            self._requests = {r.id: r for r in data.requests}

    def palette_targets(self) -> list[tuple[str, str]]:
        """What the panes list now, by the keys of their rows."""
        out = []
        names = {n: self.query_one(f"#table-{n}", KeyedTable).keys for n in OPENABLE}
        for key in names["models"]:
            if key.startswith("model:"):
                out.append((f"Model {key[6:]}", f"model {key[6:]}"))
        for key in names["pipelines"]:
            out.append((f"Pipeline {key}", f"pipeline {key}"))
        for key in names["checks"]:
            out.append((f"Check {key}", f"check {key}"))
        for key in names["drift"]:
            out.append((f"Drift {key}", f"drift {key}"))
        return out

    def _selected(self) -> tuple[str, str | None]:
        table = self.focused
        if not isinstance(table, KeyedTable) or table.id is None:
            return "", None
        return table.id.removeprefix("table-"), getattr(table, "selected_key", None)

    def on_keyed_table_selected(self, event: KeyedTable.Selected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        pane, key = self._selected()
        if key is None:
            return
        if pane == "pipelines":
            target = f"pipeline {key}"
        elif pane == "checks":
            target = f"check {key}"
        elif pane == "models":
            kind, _, rest = key.partition(":")
            if kind == "request":
                request = getattr(self, "_requests", {}).get(int(rest))
                target = f"model {request.model}" if request else ""
            else:
                target = f"model {rest}"
        elif pane == "drift":
            target = f"drift {key}"
        else:
            target = "timeline"
        if target:
            self.lookout.jump(target)

    def _request_id(self) -> int | None:
        """The selected request, or the oldest one waiting for the selected model."""
        pane, key = self._selected()
        if pane != "models" or not key:
            return None
        kind, _, rest = key.partition(":")
        if kind == "request":
            return int(rest)
        waiting = [r.id for r in getattr(self, "_requests", {}).values() if r.model == rest]
        return min(waiting) if waiting else None

    def action_approve(self) -> None:
        self._decide("approve")

    def action_reject(self) -> None:
        self._decide("reject")

    def _decide(self, verb: str) -> None:
        request_id = self._request_id()
        if request_id is None:
            self.lookout.report(f"no request waits for approval here; select one to {verb} it")
            return
        actions.decide(self.lookout, verb, request_id)

    def action_acknowledge(self) -> None:
        pane, key = self._selected()
        if pane != "events" or key is None:
            return
        actions.acknowledge(self.lookout, int(key))

    def action_trigger(self) -> None:
        pane, key = self._selected()
        if pane != "pipelines" or key is None:
            self.lookout.report("select a pipeline in the Pipelines pane to run it")
            return
        actions.trigger_run(self.lookout, key)

    def action_timeline(self) -> None:
        self.lookout.jump("timeline")

    def action_approvals(self) -> None:
        self.lookout.jump("approvals")
