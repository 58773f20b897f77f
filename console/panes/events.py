"""Events strip: the timeline, open first, then acknowledged, then resolved (greyed).

An event is `● open` until someone acknowledges it (`✓ acked by NAME`) or its
condition clears (`○ resolved`: the check passed again, the request was decided).
"""

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
    open: int  # neither acknowledged nor resolved
    acked: int  # acknowledged, condition not cleared yet


def fetch(store: Store, limit: int = 30) -> EventsData:
    return EventsData(events.list_events(store, limit=limit), *events.count_states(store))


def state(e: Event) -> Text:
    if e.resolved_at is not None:
        return Text("○ resolved")
    if e.acked_at is not None:
        return Text("✓ acked by ") + safe(e.acked_by, 40)
    return Text("● open", style="bold")


def event_cells(e: Event, times: Times) -> Cells:
    cells = (
        Text(times.ago(e.at)),
        state(e),
        status_text(e.severity),
        safe(e.kind, 40),
        safe(e.subject, 120),
        safe(e.message, 300),
    )
    if e.resolved_at is None:
        return cells
    return tuple(_greyed(c) for c in cells)


def _greyed(cell: Text) -> Text:
    """A resolved event's cell: dim, its colours dropped (it needs nobody)."""
    return Text(cell.plain, style="dim")


def rows(data: EventsData, times: Times) -> list[tuple[str, Cells]]:
    return [(str(e.id), event_cells(e, times)) for e in data.events]


def summary(data: EventsData) -> str:
    acked = f"{data.acked} acknowledged" if data.acked else ""
    if not data.open:
        return acked or "nothing open"
    return f"{data.open} open" + (f" · {acked}" if acked else "")


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
    times={"at": ("Age", "At (UTC)")},
)
