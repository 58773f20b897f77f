"""`?`: the keys of the screen you came from, what the glyphs mean, how to remap keys."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from console.widgets import STATUS

LEGEND = ["succeeded", "failed", "running", "pending", "skipped", "interrupted", "warn", "error"]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close2"),
        Binding("q", "dismiss", "Close", show=False, id="help.close3"),
    ]

    def __init__(self, origin: Screen[Any]) -> None:
        super().__init__()
        self.origin = origin

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self._content())

    def _content(self) -> Table:
        from console.app import keymap_path

        keys = Table(title="Keys", box=None, padding=(0, 2), title_justify="left")
        keys.add_column("key", style="bold")
        keys.add_column("does")
        keys.add_column("id (for keymap.toml)", style="dim")
        seen = set()
        for node in (self.origin, self.app):
            for _key, binding in node._bindings:
                if binding.action in seen or not binding.description:
                    continue
                if node.check_action(binding.action, ()) is False:
                    continue
                seen.add(binding.action)
                keys.add_row(
                    Text(self.app.get_key_display(binding)),
                    Text(binding.description),
                    Text(binding.id or ""),
                )
        for key, what in (
            ("enter", "open the selected row"),
            ("tab / shift+tab", "next / previous pane"),
            ("ctrl+p", "command palette: every action and screen"),
            (":", "jump: model NAME, pipeline NAME, check DS.NAME, drift MODEL, timeline, audit"),
        ):
            keys.add_row(Text(key), Text(what), Text(""))
        legend = Table(title="Status glyphs", box=None, padding=(0, 2), title_justify="left")
        legend.add_column("glyph")
        legend.add_column("means")
        for word in LEGEND:
            legend.add_row(Text(STATUS[word][0]), Text(word))
        outer = Table.grid(padding=(1, 0))
        outer.add_row(keys)
        outer.add_row(legend)
        outer.add_row(Text(f'Remap keys by id in {keymap_path()}, e.g.  "app.quit" = "ctrl+q"'))
        outer.add_row(Text("esc closes", style="dim"))
        return outer
