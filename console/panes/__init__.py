"""The overview's live panes: each module has a `fetch(store)` that reads (in a thread)
and a `rows(data)` that turns what it read into keyed table rows (on the UI thread)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from console.widgets import Cells, KeyedTable
from storage.db import Store


@dataclass(frozen=True)
class PaneSpec:
    """How one pane reads, notices change, and shows its data."""

    name: str
    title: str
    columns: Sequence[tuple[str, str]]
    empty: str
    key: Callable[[Store], tuple[object, ...]]
    fetch: Callable[[Store], Any]
    rows: Callable[[Any], list[tuple[str, Cells]]]
    summary: Callable[[Any], str] = lambda data: ""


class Pane(Vertical, can_focus=False):
    """A bordered, titled table that says plainly when nothing is recorded."""

    DEFAULT_CSS = """
    Pane { border: round $secondary; height: 1fr; }
    Pane:focus-within { border: round $accent; }
    Pane > .empty { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, spec: PaneSpec, **kwargs: Any) -> None:
        super().__init__(id=f"pane-{spec.name}", **kwargs)
        self.spec = spec
        self.border_title = spec.title
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…"), classes="empty")
        yield KeyedTable(self.spec.columns, id=f"table-{self.spec.name}")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def show(self, data: Any) -> None:
        """Render freshly fetched data (UI thread)."""
        rows = self.spec.rows(data)
        self.loaded = True
        note = self.query_one(".empty", Static)
        note.update(Text(self.spec.empty if not rows else ""))
        note.display = not rows
        self.table.sync(rows)
        summary = self.spec.summary(data)
        self.border_subtitle = summary or None
