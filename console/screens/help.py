"""`?`: the keys of the screen you came from (each command once, with the id that
remaps it), what every glyph means, how to remap keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookout.console.constants import keymap_path
from lookout.console.keys import commands
from lookout.console.protocol import Target
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# Every glyph the console draws, and what it means where.
LEGEND = [
    ("✓", "succeeded, pass, ok, approved; acknowledged event"),
    ("✗", "failed, fail, drift, rejected"),
    ("‼", "error: could not be evaluated"),
    ("▲", "warn; scheduler late (heartbeat overdue)"),
    ("▶", "running"),
    ("…", "queued"),
    ("·", "pending, info"),
    ("-", "skipped"),
    ("!", "interrupted"),
    ("⊘", "cancelled, superseded; a request four-eyes keeps you from approving"),
    ("●", "open event (needs a person); scheduler up"),
    ("○", "resolved event (its condition cleared); scheduler down"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close2"),
        Binding("q", "dismiss", "Close", show=False, id="help.close3"),
    ]

    def __init__(self, origin: Screen[Any], targets: Sequence[Target]) -> None:
        super().__init__()
        self.origin = origin
        self.targets = targets  # the screens `:` opens (screens/registry.py)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self._content())

    def _content(self) -> Group:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(no_wrap=True, style="bold")
        keys.add_column(ratio=1)
        keys.add_column(no_wrap=True, style="dim")
        keys.add_row(Text("key"), Text("does", style="bold"), Text("id (keymap.toml)"))
        shown = commands(self.app, self.origin, panes=True)
        if not any("enter" in c.keys for c in shown):
            keys.add_row(Text("enter"), Text("open the selected row"), Text(""))
        for command in shown:
            what = command.description
            if command.action == "jump":
                what = "jump to a screen: " + ", ".join(
                    t.usage for t in self.targets if t.open is not None
                )
            if command.where:
                what += f" ({command.where} pane)"
            keys.add_row(Text(", ".join(command.keys)), Text(what), Text(command.id))
        glyphs = Text()
        for glyph, meaning in LEGEND:
            glyphs.append(f"  {glyph}  {meaning}\n")
        remap = Text(f"Remap keys by id in {keymap_path()}, e.g.\n")
        remap.append('  "app.quit" = "ctrl+q"\n', style="bold")
        return Group(
            Text("Keys", style="bold underline"),
            keys,
            Text("\nStatus glyphs", style="bold underline"),
            glyphs,
            remap,
            Text("\nesc closes", style="dim"),
        )
