"""Every event, open first, then acknowledged, then resolved; acknowledge the selected
one with a note.

`/` searches instead of filtering: events, stage logs, failing checks and audit
reasons that mention every word typed (`lookout.storage.search`), newest first,
in place of the events until esc. Enter on a log or a check opens its screen.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from lookout.console import actions
from lookout.console.format import safe, when
from lookout.console.panes import events as events_pane
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import search, watch
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

PLACEHOLDER = "search events, stage logs, checks, audit (enter searches, esc clears)"
LABELS = {"event": "event", "log": "run", "check": "result", "audit": "audit"}
RESULT_COLUMNS = [
    ("at", "At (UTC)"),
    ("kind", "Kind"),
    ("subject", "Belongs to"),
    ("text", "Text"),
]


class TimelineScreen(LookoutScreen):
    BINDINGS = [
        Binding("a", "acknowledge", "Acknowledge", id="timeline.acknowledge"),
        Binding("slash", "search", "Search", id="timeline.search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._title = ""
        self._hits: dict[str, search.Hit] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(id="timeline-title", classes="title")
        yield KeyedTable(
            [*events_pane.COLUMNS, ("note", "Ack note")], flex=("message", "note"), id="events"
        )
        yield KeyedTable(RESULT_COLUMNS, flex=("text", "subject"), id="results")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#results").display = False
        self.query_one("#events").focus()

    def sources(self) -> dict[str, Any]:
        return {"events": (watch.events_key, partial(events_pane.fetch, limit=1000))}

    def show_data(self, name: str, data: events_pane.EventsData) -> None:
        times = self.lookout.times
        self.query_one("#events", KeyedTable).relabel({"at": times.label("At (UTC)")})
        self._title = f"Timeline · {events_pane.summary(data)} · {len(data.events)} shown"
        if not self.searching:
            self.query_one("#timeline-title", Static).update(safe(self._title, 80, style="bold"))
        self.query_one("#events", KeyedTable).sync(
            [
                (
                    str(e.id),
                    (
                        *events_pane.event_cells(e, times),
                        safe(f"{e.acked_by}: {e.ack_note}" if e.acked_by else "", 40),
                    ),
                )
                for e in data.events
            ]
        )

    def action_acknowledge(self) -> None:
        key = self.query_one("#events", KeyedTable).selected_key
        if key is None or self.searching:
            self.lookout.report("no event selected")
            return
        actions.acknowledge(self.lookout, int(key))

    # -- search ---------------------------------------------------------------------

    @property
    def searching(self) -> bool:
        return bool(self.query_one("#results").display)

    def action_search(self) -> None:
        box = self.query_one("#filter", Input)
        box.placeholder = PLACEHOLDER
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()  # the words are searched on enter, not filtered as they are typed

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        event.stop()
        text = event.value.strip()
        event.input.display = False
        if text:
            self.run_worker(
                partial(self._search, text), thread=True, group="search", exclusive=True
            )
        else:
            self._close_results()

    def _search(self, text: str) -> None:
        """In a thread: the query reads the store on this thread's own connection."""
        try:
            hits = search.search(self.lookout.ws.store, text)
        except search.SearchError as exc:
            self.app.call_from_thread(self.lookout.report, str(exc))
            return
        self.app.call_from_thread(self._show_results, text, hits)

    def _show_results(self, text: str, hits: list[search.Hit]) -> None:
        self._hits = {f"{h.kind}:{h.id}:{n}": h for n, h in enumerate(hits)}
        self.query_one("#timeline-title", Static).update(
            safe(
                f"Search “{text}” · {len(hits)} found, newest first · esc: back", 100, style="bold"
            )
        )
        results = self.query_one("#results", KeyedTable)
        results.sync(
            [
                (
                    key,
                    (
                        Text(when(h.at)),
                        safe(h.kind, 6),
                        safe(f"{LABELS[h.kind]} {h.id} · {h.subject}", 40),
                        safe(h.text, 120),
                    ),
                )
                for key, h in self._hits.items()
            ]
        )
        self.query_one("#events").display = False
        results.display = True
        results.focus()

    def _close_results(self) -> None:
        self.query_one("#results").display = False
        events = self.query_one("#events")
        events.display = True
        events.focus()
        self.query_one("#timeline-title", Static).update(safe(self._title, 80, style="bold"))

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.display = False
            self.query_one("#results" if self.searching else "#events").focus()
        elif self.searching:
            self._close_results()
        else:
            super().action_back()

    def on_keyed_table_selected(self, message: KeyedTable.Selected) -> None:
        hit = self._hits.get(message.key) if message.table.id == "results" else None
        if hit is None:
            return
        target = jump_target(hit)
        if target is not None:
            self.lookout.jump(target)


def jump_target(hit: search.Hit) -> str | None:
    """The `:` target a search hit belongs to: its pipeline, its check, the audit."""
    if hit.kind == "log":
        return "pipeline " + hit.subject.split(" run ")[0]
    if hit.kind == "check":
        return f"check {hit.subject}"
    if hit.kind == "audit":
        return "audit"
    return None
