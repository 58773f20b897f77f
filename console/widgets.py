"""Widgets every screen shares: a table updated by row key, a quiet input, a pane."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey, RowKey

from console.format import Cells


class KeyedTable(DataTable[Text | str]):
    """A DataTable synced by stable row keys: rows are added, updated cell by cell and
    removed, never cleared, and the cursor stays on the row it was on."""

    DEFAULT_CSS = "KeyedTable { height: 1fr; }"

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._columns = list(columns)
        self._rows: list[tuple[str, Cells]] = []
        self._shown: dict[str, Cells] = {}
        self.filter_text = ""

    def on_mount(self) -> None:
        for key, label in self._columns:
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)

    def sync(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Make the table show `rows` in this order, touching only what changed."""
        self._rows = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply()

    def _visible(self) -> list[tuple[str, Cells]]:
        needle = self.filter_text.casefold().strip()
        if not needle:
            return self._rows
        return [
            (k, cells)
            for k, cells in self._rows
            if needle in " ".join(str(c) for c in cells).casefold()
        ]

    def _apply(self) -> None:
        visible = self._visible()
        wanted = dict(visible)
        current = self.selected_key
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
        changed_width = False
        for key, cells in visible:
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                changed_width = True
            elif old != cells:
                for (col, _), new, was in zip(self._columns, cells, old, strict=True):
                    if new != was:
                        self._update(key, col, new)
            self._shown[key] = cells
        if [k for k, _ in visible] != self._display_order():
            first = self._columns[0][0]
            order = {id(self.get_cell(k, first)): i for i, (k, _) in enumerate(visible)}
            self.sort(key=lambda values: order.get(id(values[0]), 0))
        if changed_width:
            self.refresh()
        if current is not None and current in self._shown:
            index = self.get_row_index(current)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)

    def _update(self, key: str, col: str, value: Text | str) -> None:
        """Change one cell, repainting only its row unless the column must widen.

        `DataTable.update_cell` repaints the whole table; over SSH that is every
        visible row for one changed word.
        """
        width = value.cell_len if isinstance(value, Text) else Text(value).cell_len
        column = self.columns.get(ColumnKey(col))
        if column is None or width > column.content_width:
            self.update_cell(key, col, value, update_width=True)
            return
        self._data[RowKey(key)][ColumnKey(col)] = value
        self._update_count += 1  # part of the line cache key: drops cached lines
        self.refresh_row(self.get_row_index(key))

    def _display_order(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]


class QuietInput(Input):
    """An Input whose cursor does not blink, so an open prompt costs no bytes at rest."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cursor_blink = False


class Pane(Vertical, can_focus=False):
    """A bordered, titled table that says plainly when nothing is recorded."""

    DEFAULT_CSS = """
    Pane { border: round $secondary; height: 1fr; }
    Pane:focus-within { border: round $accent; }
    Pane > .empty { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, spec: Any, **kwargs: Any) -> None:
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

    def show(self, data: Any, limit: int | None = None) -> None:
        """Render freshly fetched data (UI thread); `limit` shows only the first rows
        (enough to fill the pane) so the first frame is quick."""
        rows = self.spec.rows(data)[:limit]
        first = not self.loaded
        self.loaded = True
        note = self.query_one(".empty", Static)
        if first or note.display != (not rows):  # touch nothing that did not change
            note.update(Text(self.spec.empty if not rows else ""))
            note.display = not rows
        self.table.sync(rows)
        summary = self.spec.summary(data) or None
        if summary != self.border_subtitle:
            self.border_subtitle = summary


class KeyHints(Static):
    """The keys this screen offers, on one line: a light footer.

    Textual's Footer composes a widget per key and recomposes on every focus
    change, which costs a quarter of a second at start on a slow host.
    """

    DEFAULT_CSS = "KeyHints { dock: bottom; height: 1; background: $panel; color: $text; }"

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.changed)
        self.changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def changed(self, screen: Any) -> None:
        if screen is not self.screen:
            return
        hints = self.hints()
        if hints.plain != getattr(self, "_shown", None):
            self._shown = hints.plain
            self.update(hints)

    def hints(self) -> Text:
        out = Text()
        seen: set[str] = set()
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == "app.command_palette" or binding.action == "command_palette":
                palette = binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append(f" {self.app.get_key_display(binding)} ", style="bold")
            out.append(f"{binding.description} ", style="" if enabled else "dim")
        if palette is not None:
            out.append(f"  {self.app.get_key_display(palette)} ", style="bold")
            out.append("palette")
        return out
