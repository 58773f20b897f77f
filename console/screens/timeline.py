"""Every event, unacknowledged first; acknowledge the selected one with a note."""

from __future__ import annotations

from functools import partial
from typing import Any

from lookout.console import actions
from lookout.console.format import safe
from lookout.console.panes import events as events_pane
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import watch
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static


class TimelineScreen(LookoutScreen):
    BINDINGS = [Binding("a", "acknowledge", "Acknowledge", id="timeline.acknowledge")]

    def compose_body(self) -> ComposeResult:
        yield Static(id="timeline-title", classes="title")
        yield KeyedTable([*events_pane.COLUMNS, ("note", "Ack note")], id="events")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#events").focus()

    def sources(self) -> dict[str, Any]:
        return {"events": (watch.events_key, partial(events_pane.fetch, limit=1000))}

    def show_data(self, name: str, data: events_pane.EventsData) -> None:
        self.query_one("#timeline-title", Static).update(
            safe(
                f"Timeline · {data.open} unacknowledged · {len(data.events)} shown",
                80,
                style="bold",
            )
        )
        self.query_one("#events", KeyedTable).sync(
            [
                (
                    str(e.id),
                    (
                        *events_pane.event_cells(e),
                        safe(f"{e.acked_by}: {e.ack_note}" if e.acked_by else "", 40),
                    ),
                )
                for e in data.events
            ]
        )

    def action_acknowledge(self) -> None:
        key = self.query_one("#events", KeyedTable).selected_key
        if key is None:
            self.lookout.report("no event selected")
            return
        actions.acknowledge(self.lookout, int(key))
