"""Widgets every screen shares: a table updated by row key, a quiet input, a pane."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lookout.console.format import Cells
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static


class KeyedTable(ScrollView, can_focus=True):
    """A table synced by stable row keys and drawn a line at a time.

    Rows are added, changed and removed by key, never cleared, and the cursor stays on
    the row it was on. Only screen lines whose row changed are repainted, so one
    changed status costs one line over SSH, not the whole table. (Textual's DataTable
    repaints every visible row when a column widens and renders each cell through
    Rich's layout engine, which made the first frame and every change slow.)
    """

    COMPONENT_CLASSES = {"keyed-table--header", "keyed-table--cursor"}
    DEFAULT_CSS = """
    KeyedTable {
        width: 1fr;
        height: 1fr;
        scrollbar-gutter: stable;
        background: $surface;
        color: $foreground;
        & > .keyed-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .keyed-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus { background-tint: $foreground 5%; }
        &:focus > .keyed-table--header { background-tint: $foreground 5%; }
        &:focus > .keyed-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    class Highlighted(Message):
        """The cursor is on a different row (or on the first row that arrived)."""

        def __init__(self, table: KeyedTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Selected(Message):
        """Enter (or a click on the cursor row) chose the row under the cursor."""

        def __init__(self, table: KeyedTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._labels = [label for _, label in columns]
        self._widths = [cell_len(label) for label in self._labels]  # they only grow
        self._rows: list[tuple[str, Cells]] = []
        self._shown: list[tuple[str, Cells]] = []  # the rows that pass the filter
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._strips: dict[str, tuple[Style, Strip]] = {}  # drawn rows, by key
        self._header: tuple[Style, Strip] | None = None
        self._painted: dict[int, object] = {}  # screen line -> what was drawn there
        self.filter_text = ""

    # -- what the screens use ----------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._shown)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected_key(self) -> str | None:
        return self._shown[self._cursor][0] if self._shown else None

    @property
    def keys(self) -> list[str]:
        """Every row's key, in order, filtered out or not."""
        return [key for key, _ in self._rows]

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def sync(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Make the table show `rows` in this order, repainting only what changed."""
        self._rows = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply()

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        if not self._shown:
            return
        row = max(0, min(row, len(self._shown) - 1))
        if row != self._cursor:
            self._refresh_rows(self._cursor, row)
            self._cursor = row
            self.post_message(self.Highlighted(self, self.selected_key))
        if scroll:
            self._scroll_to_cursor()

    # -- keeping rows ------------------------------------------------------------------

    def _apply(self) -> None:
        before = self.selected_key
        needle = self.filter_text.casefold().strip()
        shown = [
            (key, cells)
            for key, cells in self._rows
            if not needle or needle in " ".join(str(c) for c in cells).casefold()
        ]
        was = dict(self._shown)
        widened = False
        for key, cells in shown:
            if was.get(key) != cells:
                self._strips.pop(key, None)
                for i, cell in enumerate(cells):
                    width = cell.cell_len if isinstance(cell, Text) else cell_len(cell)
                    if width > self._widths[i]:
                        self._widths[i] = width
                        widened = True
        self._shown = shown
        self._index = {key: i for i, (key, _) in enumerate(shown)}
        if before in self._index:
            self._cursor = self._index[before]
        else:
            self._cursor = max(0, min(self._cursor, len(shown) - 1))
        self._set_virtual_size(Size(sum(w + 2 for w in self._widths), len(shown) + 1))
        if widened:
            self._strips.clear()
            self._header = None
            self.refresh()
        else:
            self._refresh_changed_lines()
        if self.selected_key != before:
            self.post_message(self.Highlighted(self, self.selected_key))

    def _set_virtual_size(self, size: Size) -> None:
        """Grow or shrink the scrollable extent without laying out the whole screen
        when the scrollbars stay as they are (a layout repaints every scrollbar)."""
        if size == self.virtual_size:
            return
        bars = (
            self.styles.overflow_y == "auto" and size.height > self.container_size.height,
            self.styles.overflow_x == "auto" and size.width > self.container_size.width,
        )
        if not self.is_mounted or bars != (
            self.show_vertical_scrollbar,
            self.show_horizontal_scrollbar,
        ):
            self.virtual_size = size  # a scrollbar comes or goes: the layout changes
            return
        self.set_reactive(KeyedTable.virtual_size, size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height
        if self.show_horizontal_scrollbar:
            self.horizontal_scrollbar.window_virtual_size = size.width
        self.scroll_y = self.validate_scroll_y(self.scroll_y)
        self.scroll_x = self.validate_scroll_x(self.scroll_x)

    def _refresh_changed_lines(self) -> None:
        top = round(self.scroll_y)
        for y in range(1, self.size.height):
            if self._painted.get(y, ()) != self._line_content(top + y - 1):
                self.refresh(Region(0, y, self.size.width, 1))

    def _line_content(self, index: int) -> object:
        if index >= len(self._shown):
            return None
        key, cells = self._shown[index]
        return (key, cells, index == self._cursor)

    def _refresh_rows(self, *indexes: int) -> None:
        top = round(self.scroll_y)
        for index in indexes:
            y = index - top + 1
            if 1 <= y < self.size.height:
                self.refresh(Region(0, y, self.size.width, 1))

    # -- drawing -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = pad = self.rich_style
        if y == 0:
            strip = self._header_strip(base)
            pad = base + self.get_component_rich_style("keyed-table--header")
        else:
            index = scroll_y + y - 1
            self._painted[y] = self._line_content(index)
            if index >= len(self._shown):
                return Strip.blank(width, base)
            key, cells = self._shown[index]
            if index == self._cursor:
                style = self.get_component_rich_style("keyed-table--cursor")
                strip = self._line(cells, base, style)
                pad = base + style
            else:
                cached = self._strips.get(key)
                if cached is None or cached[0] != base:
                    cached = (base, self._line(cells, base))
                    self._strips[key] = cached
                strip = cached[1]
        return strip.crop_extend(scroll_x, scroll_x + width, pad)

    def _header_strip(self, base: Style) -> Strip:
        if self._header is None or self._header[0] != base:
            style = self.get_component_rich_style("keyed-table--header")
            self._header = (base, self._line(self._labels, base, style))
        return self._header[1]

    def _line(self, cells: Sequence[Text | str], base: Style, over: Style | None = None) -> Strip:
        """One row: each cell padded to its column, one space either side.

        Segments are merged within a cell but not across cells, so each cell starts
        at its exact column in exported SVG screenshots too.
        """
        console = self.app.console
        segments: list[Segment] = []
        length = 0
        for cell, width in zip(cells, self._widths, strict=False):
            text = Text(" ", end="", no_wrap=True)
            text.append_text(cell if isinstance(cell, Text) else Text(cell))
            text.append(" " * (width - text.cell_len + 2))
            segments.extend(Segment.simplify(text.render(console)))
            length += width + 2
        return Strip(Segment.apply_style(segments, base, over), length)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    # -- moving ------------------------------------------------------------------------

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        lines = max(1, self.size.height - 1)  # the header does not scroll
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + lines:
            self.scroll_to(y=self._cursor - lines + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self._cursor - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self.move_cursor(row=self._cursor + max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._shown) - 1)

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = round(self.scroll_y) + offset.y - 1
        if row >= len(self._shown):
            return
        if row == self._cursor:
            self.action_select()
        else:
            self.move_cursor(row=row, scroll=False)


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

    def show(self, data: Any) -> None:
        """Render freshly fetched data (UI thread)."""
        rows = self.spec.rows(data)
        first = not self.loaded
        self.loaded = True
        note = self.query_one(".empty", Static)
        if first or note.display != (not rows):  # touch nothing that did not change
            note.update(Text(self.spec.empty if not rows else ""))
            note.display = not rows
        self.table.sync(rows)
        self._set_summary(self.spec.summary(data) or None)

    def _set_summary(self, summary: str | None) -> None:
        """Show `summary` in the bottom border, repainting only that line.

        Setting `border_subtitle` repaints the whole pane (every row, over SSH) when
        only its last line changed; before the first frame there is nothing to spare.
        """
        if summary == self.border_subtitle:
            return
        if not self.is_mounted or not self.size:
            self.border_subtitle = summary
            return
        self._border_subtitle = None if summary is None else Content(summary)
        # the bottom border, in content coordinates (the border sits outside them)
        self.refresh(Region(-1, self.size.height, self.outer_size.width, 1))


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

    def on_resize(self) -> None:
        self.changed(self.screen)

    def changed(self, screen: Any) -> None:
        if screen is not self.screen:
            return
        hints = self.hints(self.size.width or self.app.size.width)
        if hints.plain != getattr(self, "_shown", None):
            self._shown = hints.plain
            self.update(hints, layout=False)  # one docked line: no relayout

    def hints(self, width: int) -> Text:
        """As many of this screen's keys as fit in `width` (its own first, then back and
        filter), then the app's (quit, help) and the palette, which always show: on a
        narrow terminal the way out stays visible."""
        screen_keys: list[Text] = []
        common: list[Text] = []
        app_keys: list[Text] = []
        seen: set[str] = set()
        palette = None
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action in ("app.command_palette", "command_palette"):
                palette = binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            hint = Text()
            hint.append(f" {self.app.get_key_display(binding)} ", style="bold")
            hint.append(f"{binding.description} ", style="" if enabled else "dim")
            if node is self.app:
                app_keys.append(hint)
            elif (binding.id or "").startswith("screen."):  # back, filter: every screen
                common.append(hint)
            else:
                screen_keys.append(hint)
        screen_keys += common
        tail = Text().join(app_keys)
        if palette is not None:
            tail.append(f"  {self.app.get_key_display(palette)} ", style="bold")
            tail.append("palette")
        out = Text()
        for hint in screen_keys:
            if out.cell_len + hint.cell_len + tail.cell_len > width:
                break
            out.append_text(hint)
        out.append_text(tail)
        return out
