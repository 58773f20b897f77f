"""What every console screen shares: the header, live data plumbing, `/` filter,
too-small message, and its command-palette provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, cast

from lookout.console.actions import write_report
from lookout.console.constants import MIN_SIZE, Source
from lookout.console.format import Times
from lookout.console.keys import commands
from lookout.console.protocol import Console
from lookout.console.widgets import KeyedTable, KeyHints, QuietInput
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Input, Static


class ScreenCommands(Provider):
    """The palette: every action the current screen allows, and every screen to open."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        console = cast(Console, self.app)
        names: set[str] = set()
        for command in commands(self.app, screen):
            if command.action == "command_palette":
                continue
            names.add(command.description)
            yield (command.description, "key " + ", ".join(command.keys), command.run)
        if isinstance(screen, LookoutScreen):
            for name, target in screen.palette_targets():
                yield (name, "open", partial(console.jump, target))
        for row in console.targets:
            if row.title and row.title not in names:  # else a key on this screen opens it
                yield (row.title, row.help, partial(console.jump, row.word))
        yield (
            "Write the hand-off report",
            "the last 12 hours as an HTML file in the current directory",
            partial(write_report, console),
        )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)


class LookoutScreen(Screen[None]):
    """Base screen: header, body, filter bar, footer; live data via `sources()`."""

    COMMANDS = {ScreenCommands}
    _times: Times | None = None  # how the times on screen were drawn
    ALLOW_IN_MAXIMIZED_VIEW = "#header, KeyHints, #filter"  # a zoomed pane keeps these
    loaded = False  # set once its first data is on screen
    _header_shown: str | None = None  # the header's text as last drawn
    BINDINGS = [
        Binding("escape", "back", "Back", id="screen.back"),
        Binding("slash", "filter", "Filter", id="screen.filter"),
        Binding("z", "zoom", "Zoom", id="screen.zoom"),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="screen.next"),
        Binding("shift+tab", "app.focus_previous", "Prev pane", show=False, id="screen.prev"),
    ]

    @property
    def lookout(self) -> Console:
        """The app, as screens may use it (they cannot import app.py: it imports them)."""
        return cast(Console, self.app)

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, Any] = {}  # each source's last data, to redraw times

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        with Vertical(id="body"):
            yield from self.compose_body()
        yield Static(id="too-small")
        yield QuietInput(placeholder="filter rows (enter keeps, esc clears)", id="filter")
        yield KeyHints()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def sources(self) -> dict[str, Source]:
        return {}

    def show_data(self, name: str, data: Any) -> None:
        """Render one source's fresh data (UI thread); times as `self.lookout.times` says."""

    def show(self, name: str, data: Any) -> None:
        """Show a source's data and keep it, so the times in it can be redrawn."""
        self._data[name] = data
        self._times = self.lookout.times
        self.show_data(name, data)

    def retime(self) -> None:
        """The minute moved on or `t` switched ages and UTC times: redraw with the data we
        have (the tables repaint only the rows whose text changed)."""
        if self._times != self.lookout.times:
            self._times = self.lookout.times
            for name, data in self._data.items():
                self.show_data(name, data)

    def palette_targets(self) -> list[tuple[str, str]]:
        return []

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.update_header()
        self._check_size(self.size.width, self.size.height)

    def on_screen_resume(self) -> None:
        self.update_header()
        self.retime()
        self.lookout.request_refresh(screen=self)

    def on_unmount(self) -> None:
        self.lookout.forget(self)

    def update_header(self) -> None:
        header = self.query("#header")
        if header:
            text = self.lookout.header_text()
            if self._header_shown != text.plain:
                self._header_shown = text.plain
                header.first(Static).update(text, layout=False)  # one line: no relayout

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(small, "-too-small")
        self.set_class(width < 100, "-narrow")
        if small:
            self.query_one("#too-small", Static).update(
                Text(
                    f"Lookout needs a terminal of at least {MIN_SIZE[0]}×{MIN_SIZE[1]}; "
                    f"this one is {width}×{height}. Enlarge it or press q to quit."
                )
            )

    # -- navigation and filtering ---------------------------------------------------

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            self._close_filter(clear=True)
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_zoom(self) -> None:
        """The focused pane (or table) fills the screen, k9s-style; again, or esc, to return."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def _table(self) -> KeyedTable | None:
        focused = self.focused
        if isinstance(focused, KeyedTable):
            return focused
        tables = self.query(KeyedTable)
        return tables.first() if tables else None

    def action_filter(self) -> None:
        table = self._table()
        if table is None:
            return
        self._filtering = table
        box = self.query_one("#filter", Input)
        box.value = table.filter_text
        box.display = True
        box.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter" and getattr(self, "_filtering", None) is not None:
            self._filtering.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._close_filter(clear=False)

    def _close_filter(self, clear: bool) -> None:
        table = getattr(self, "_filtering", None)
        box = self.query_one("#filter", Input)
        if clear and table is not None:
            table.set_filter("")
        box.display = False
        if table is not None:
            table.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # the bottom screen has nothing to go back to
            return self.is_filtering or len(self.app.screen_stack) > 1
        return self.lookout.may(action)

    @property
    def is_filtering(self) -> bool:
        """The filter box is open (esc closes it)."""
        boxes = self.query("#filter")
        return bool(boxes) and bool(boxes.first().display)
