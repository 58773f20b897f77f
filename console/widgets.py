"""Widgets every screen shares: a table updated by row key, a quiet input, a pane."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from lookout.console.format import Cells, Times
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

FLEX_FLOOR = 10  # free-text columns give way first, but not below this (nor their content)


def fit(natural: Sequence[int], room: int, flex: Sequence[int] = (), least: int = 3) -> list[int]:
    """Column widths for `room` cells (two of padding per column): every column as wide
    as its content while they all fit. Past that the `flex` columns (long free text:
    messages, reasons) give way first, down to `FLEX_FLOOR`; then all of them, the
    widest down to a common cap, so short columns stay whole and only the longest are cut."""
    widths = list(natural)
    over = sum(widths) + 2 * len(widths) - room
    for group, floor in ((list(flex), FLEX_FLOOR), (list(range(len(widths))), least)):
        if over <= 0:
            break
        have = sum(widths[i] for i in group)
        cap = _cap([widths[i] for i in group], have - over, floor)
        for i in group:
            widths[i] = min(widths[i], max(cap, min(natural[i], floor)))
        over = sum(widths) + 2 * len(widths) - room
    return widths


def _cap(widths: list[int], budget: int, least: int) -> int:
    """The largest width such that capping every column at it keeps their sum ≤ budget
    (never below `least`)."""
    rest = budget
    for i, width in enumerate(sorted(widths)):
        share = rest // (len(widths) - i)
        if width > share:
            return max(least, share)
        rest -= width
    return max(widths, default=least)


class KeyedTable(ScrollView, can_focus=True):
    """A table synced by stable row keys and drawn a line at a time.

    Rows are added, changed and removed by key, never cleared, and the cursor stays on
    the row it was on. Only screen lines whose row changed are repainted, so one
    changed status costs one line over SSH, not the whole table. (Textual's DataTable
    repaints every visible row when a column widens and renders each cell through
    Rich's layout engine, which made the first frame and every change slow.)

    Columns are as wide as their content while the table has room; when it has not,
    the free-text columns give way first, then the widest (`fit`). A cut free-text cell
    wraps onto more lines while the table has empty lines to spare (rows from the top,
    up to `WRAP` lines each), and ends in `…` once the table is full. `w` shows wide rows
    instead: every cell whole, scrolling sideways. A filter is shown at the right of
    the header line (`/wine 2 of 9`) unless a pane shows it in its title.
    """

    WRAP = 3  # lines a wrapped row may take
    COMPONENT_CLASSES = {"keyed-table--header", "keyed-table--cursor"}
    DEFAULT_CSS = """
    KeyedTable {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
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
        Binding("w", "wide", "Wide rows", id="table.wide"),
    ]

    class Highlighted(Message):
        """The cursor is on a different row (or on the first row that arrived)."""

        def __init__(self, table: KeyedTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Filtered(Message):
        """The filter, or how many rows pass it, changed (`note` is "" when unfiltered)."""

        def __init__(self, table: KeyedTable, note: str) -> None:
            super().__init__()
            self.table = table
            self.note = note

    class Selected(Message):
        """Enter (or a click on the cursor row) chose the row under the cursor."""

        def __init__(self, table: KeyedTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self, columns: Sequence[tuple[str, str]], flex: Sequence[str] = (), **kwargs: Any
    ) -> None:
        """`flex` names the columns of free text that give way first when room is short."""
        super().__init__(**kwargs)
        self._columns = [key for key, _ in columns]
        self._labels = [label for _, label in columns]
        self._flex = [i for i, (key, _) in enumerate(columns) if key in flex]
        self._natural = [cell_len(label) for label in self._labels]  # they only grow
        self._widths = list(self._natural)  # as drawn: fitted to the room there is
        self.wide = False  # every cell whole, scrolling sideways
        self.note_in_header = True  # a pane shows the filter in its title instead
        self.filter_text = ""
        self._note = ""
        self._rows: list[tuple[str, Cells]] = []
        self._shown: list[tuple[str, Cells]] = []  # the rows that pass the filter
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._heights: list[int] = []  # lines each shown row takes
        self._tops: list[int] = []  # the first line of each shown row
        self._strips: dict[str, tuple[Style, list[Strip]]] = {}  # drawn rows, by key
        self._header: tuple[Style, Strip] | None = None
        self._painted: dict[int, object] = {}  # screen line -> what was drawn there

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

    def lines_of(self, key: str) -> range:
        """The table lines (0 = the first row's) row `key` is drawn on: more than one when
        its cut text wraps onto spare lines."""
        index = self.get_row_index(key)
        return range(self._tops[index], self._tops[index] + self._heights[index])

    def sync(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Make the table show `rows` in this order, repainting only what changed."""
        self._rows = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply()

    def relabel(self, labels: dict[str, str]) -> None:
        """New header labels by column key (a time column says `Age` or `At (UTC)`)."""
        new = [
            labels.get(key, label) for key, label in zip(self._columns, self._labels, strict=True)
        ]
        if new == self._labels:
            return
        self._labels = new
        self._natural = [
            max(w, cell_len(label)) for w, label in zip(self._natural, new, strict=True)
        ]
        self._header = None
        if self._layout():
            self._repaint_all()
        else:
            self.refresh(Region(0, 0, self.size.width, 1))

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
        for key, cells in shown:
            if was.get(key) != cells:
                self._strips.pop(key, None)
                for i, cell in enumerate(cells):
                    width = cell.cell_len if isinstance(cell, Text) else cell_len(cell)
                    if width > self._natural[i]:
                        self._natural[i] = width
        self._shown = shown
        self._index = {key: i for i, (key, _) in enumerate(shown)}
        if before in self._index:
            self._cursor = self._index[before]
        else:
            self._cursor = max(0, min(self._cursor, len(shown) - 1))
        note = f"/{self.filter_text.strip()} {len(shown)} of {len(self._rows)}" if needle else ""
        noted = note != self._note
        self._note = note
        if self._layout() or (noted and self.note_in_header):
            self._repaint_all()
        else:
            self._refresh_changed_lines()
        if noted:
            self.post_message(self.Filtered(self, note))
        if self.selected_key != before:
            self.post_message(self.Highlighted(self, self.selected_key))

    def _layout(self) -> bool:
        """Fit the columns to the width there is and give cut rows the spare lines;
        True when a column changed width (every drawn row is then stale)."""
        room = self.scrollable_content_region if self.is_mounted else None
        if self.wide or room is None or room.width <= 0:
            widths = list(self._natural)
        else:
            widths = fit(self._natural, room.width, self._flex)
        changed = widths != self._widths
        self._widths = widths
        spare = (room.height - 1 - len(self._shown)) if room is not None and not self.wide else 0
        heights = []
        for _key, cells in self._shown:
            height = 1
            if spare > 0:
                height = min(self.WRAP, spare + 1, self._lines_needed(cells))
                spare -= height - 1
            heights.append(height)
        if heights != self._heights:
            self._strips = {
                key: strip
                for (key, _), h in zip(self._shown, heights, strict=True)
                if (strip := self._strips.get(key)) is not None and len(strip[1]) == h
            }
        self._heights = heights
        self._tops = list(itertools.accumulate(heights, initial=0))[:-1]
        lines = sum(heights)
        self._set_virtual_size(Size(sum(w + 2 for w in widths), lines + 1))
        return changed

    def _lines_needed(self, cells: Cells) -> int:
        """How many lines the row's cut cells would wrap to in their columns."""
        need = 1
        for i in self._flex:
            if i >= len(cells) or self._widths[i] < FLEX_FLOOR:
                continue
            cell = cells[i]
            text = cell if isinstance(cell, Text) else Text(cell)
            if text.cell_len > self._widths[i]:
                need = max(need, len(text.wrap(self.app.console, self._widths[i])))
        return need

    def on_resize(self) -> None:
        if self._layout():
            self._repaint_all()
        else:
            self._refresh_changed_lines()

    def action_wide(self) -> None:
        """Wide rows: every cell whole, the table scrolls sideways; again to fit."""
        self.wide = not self.wide
        self.styles.overflow_x = "auto" if self.wide else "hidden"
        if not self.wide:
            self.scroll_to(x=0, animate=False, immediate=True)
        self._layout()
        self._repaint_all()

    def _repaint_all(self) -> None:
        self._strips.clear()
        self._header = None
        self.refresh()

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

    def _row_at(self, line: int) -> tuple[int, int] | None:
        """The shown row drawn on table line `line` (0 = first row) and which of its lines."""
        if line < 0 or not self._tops or line >= self._tops[-1] + self._heights[-1]:
            return None
        index = bisect.bisect_right(self._tops, line) - 1
        return index, line - self._tops[index]

    def _refresh_changed_lines(self) -> None:
        top = round(self.scroll_y)
        for y in range(1, self.size.height):
            if self._painted.get(y, ()) != self._line_content(top + y - 1):
                self.refresh(Region(0, y, self.size.width, 1))

    def _line_content(self, line: int) -> object:
        at = self._row_at(line)
        if at is None:
            return None
        index, sub = at
        key, cells = self._shown[index]
        return (key, cells, index == self._cursor, sub, self._heights[index], self._widths)

    def _refresh_rows(self, *indexes: int) -> None:
        top = round(self.scroll_y)
        for index in indexes:
            if not 0 <= index < len(self._tops):
                continue
            for line in range(self._tops[index], self._tops[index] + self._heights[index]):
                y = line - top + 1
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
            if self._note and self.note_in_header:
                return self._noted(strip.crop_extend(scroll_x, scroll_x + width, pad), pad)
        else:
            line = scroll_y + y - 1
            self._painted[y] = self._line_content(line)
            at = self._row_at(line)
            if at is None:
                return Strip.blank(width, base)
            index, sub = at
            key, cells = self._shown[index]
            height = self._heights[index]
            if index == self._cursor:
                style = self.get_component_rich_style("keyed-table--cursor")
                strip = self._lines(cells, height, base, style)[sub]
                pad = base + style
            else:
                cached = self._strips.get(key)
                if cached is None or cached[0] != base:
                    cached = (base, self._lines(cells, height, base))
                    self._strips[key] = cached
                strip = cached[1][sub]
        return strip.crop_extend(scroll_x, scroll_x + width, pad)

    def _noted(self, strip: Strip, style: Style) -> Strip:
        """The header line with the filter at its right end: `/wine 2 of 9`."""
        note = f" {self._note} "
        keep = max(0, strip.cell_length - cell_len(note))
        tail = Segment(note[: strip.cell_length - keep], style + Style(reverse=True))
        return Strip([*strip.crop(0, keep), tail], strip.cell_length)

    def _header_strip(self, base: Style) -> Strip:
        if self._header is None or self._header[0] != base:
            style = self.get_component_rich_style("keyed-table--header")
            self._header = (base, self._lines(self._labels, 1, base, style)[0])
        return self._header[1]

    def _lines(
        self, cells: Sequence[Text | str], height: int, base: Style, over: Style | None = None
    ) -> list[Strip]:
        """A row as `height` lines: each cell padded to its column, one space either side;
        a cut cell wraps onto the row's lines and ends in `…` on its last one.

        Segments are merged within a cell but not across cells, so each cell starts
        at its exact column in exported SVG screenshots too.
        """
        console = self.app.console
        rows: list[list[Segment]] = [[] for _ in range(height)]
        length = 0
        for i, (cell, width) in enumerate(zip(cells, self._widths, strict=False)):
            content = cell if isinstance(cell, Text) else Text(cell)
            parts = [content]
            if content.cell_len > width:
                wraps = height > 1 and i in self._flex and width >= FLEX_FLOOR
                parts = list(content.wrap(console, width)) if wraps else [content]
                if len(parts) > height:
                    # the rest goes on the last line; a wrapped line keeps its trailing space
                    rest = [part.copy() for part in parts[height - 1 :]]
                    for part in rest:
                        part.rstrip()
                    parts = parts[: height - 1] + [Text(" ").join(rest)]
                last = parts[-1].copy()
                last.truncate(width, overflow="ellipsis")
                parts[-1] = last
            for i in range(height):
                text = Text(" ", end="", no_wrap=True)
                if i < len(parts):
                    text.append_text(parts[i])
                text.append(" " * (width - text.cell_len + 2))
                rows[i].extend(Segment.simplify(text.render(console)))
            length += width + 2
        return [Strip(Segment.apply_style(segs, base, over), length) for segs in rows]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    # -- moving ------------------------------------------------------------------------

    def _scroll_to_cursor(self) -> None:
        if not self._tops:
            return
        top = round(self.scroll_y)
        lines = max(1, self.size.height - 1)  # the header does not scroll
        first = self._tops[self._cursor]
        last = first + self._heights[self._cursor] - 1
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif last >= top + lines:
            self.scroll_to(y=last - lines + 1, animate=False, immediate=True)

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
        at = self._row_at(round(self.scroll_y) + offset.y - 1)
        if at is None:
            return
        row = at[0]
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

    ALLOW_MAXIMIZE = True  # `z` zooms the pane, not just its table

    DEFAULT_CSS = """
    Pane { border: round $secondary; height: 1fr; }
    Pane:focus-within { border: round $accent; }
    Pane > .empty { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, spec: Any, bindings: Sequence[Binding] = (), **kwargs: Any) -> None:
        """`bindings`: the keys of this pane (say `screen.approve`), offered while it has
        focus and shown first in the key bar."""
        super().__init__(id=f"pane-{spec.name}", **kwargs)
        self.spec = spec
        self.border_title = spec.title
        self.loaded = False
        if bindings:
            self._bindings = BindingsMap.merge([self._bindings, BindingsMap(bindings)])

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…"), classes="empty")
        table = KeyedTable(self.spec.columns, self.spec.flex, id=f"table-{self.spec.name}")
        table.note_in_header = False
        yield table

    def on_keyed_table_filtered(self, event: KeyedTable.Filtered) -> None:
        """A filter shows in the title until cleared: `Events /wine 2 of 9`."""
        event.stop()
        self.border_title = f"{self.spec.title} {event.note}".rstrip()

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def show(self, data: Any, times: Times) -> None:
        """Render freshly fetched data (UI thread), times as `times` says."""
        rows = self.spec.rows(data, times)
        self.table.relabel(
            {key: times.label(utc, ages) for key, (ages, utc) in self.spec.times.items()}
        )
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
        """As many keys as fit in `width`: the focused pane's first, then the screen's,
        then those of every table and screen (wide rows, back, filter, zoom); then the
        app's (quit, help) and the palette, which always show: on a narrow terminal the
        way out stays visible."""
        pane_keys: list[Text] = []
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
            elif isinstance(node, KeyedTable) or (binding.id or "").startswith("screen."):
                common.append(hint)
            elif node is self.screen:
                screen_keys.append(hint)
            else:
                pane_keys.append(hint)
        screen_keys = pane_keys + screen_keys + common
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
