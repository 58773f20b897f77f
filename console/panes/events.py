"""Events strip: the timeline, unacknowledged first."""

from __future__ import annotations

from dataclasses import dataclass

from lookout.console.format import Cells, Times, safe, status_text
from lookout.console.panes import PaneSpec
from lookout.storage import events, watch
from lookout.storage.db import Store
from lookout.storage.records import Event
from rich.text import Text


@dataclass(frozen=True)
class EventsData:
    events: list[Event]
    open: int


def fetch(store: Store, limit: int = 30) -> EventsData:
    return EventsData(events.list_events(store, limit=limit), events.count_open(store))


def event_cells(e: Event, times: Times) -> Cells:
    acked = e.acked_at is not None
    return (
        Text(times.ago(e.at)),
        Text("✓ acked" if acked else "● open", style="dim" if acked else "bold"),
        status_text(e.severity),
        safe(e.kind, 40),
        safe(e.subject, 120),
        safe(e.message, 300),
    )


def rows(data: EventsData, times: Times) -> list[tuple[str, Cells]]:
    return [(str(e.id), event_cells(e, times)) for e in data.events]


def summary(data: EventsData) -> str:
    return f"{data.open} unacknowledged" if data.open else "all acknowledged"


COLUMNS = [
    ("at", "Age"),
    ("ack", "State"),
    ("severity", "Severity"),
    ("kind", "Kind"),
    ("subject", "Subject"),
    ("message", "Message"),
]

SPEC = PaneSpec(
    name="events",
    title="Events",
    columns=COLUMNS,
    empty="No events yet.",
    key=watch.events_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("message",),
    times={"at": "At (UTC)"},
)
