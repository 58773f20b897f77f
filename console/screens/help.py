"""`?`: the keys of the screen you came from, what the glyphs mean, how to remap keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookout.console.constants import keymap_path
from lookout.console.format import STATUS
from lookout.console.protocol import Target
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

LEGEND = ["succeeded", "failed", "running", "pending", "skipped", "interrupted", "warn", "error"]


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

    def _content(self) -> Text:
        rows: dict[str, list[str]] = {}  # description -> [keys, id]
        for node in (self.origin, self.app):
            for _key, binding in node._bindings:
                if not binding.description or node.check_action(binding.action, ()) is False:
                    continue
                key = self.app.get_key_display(binding)
                entry = rows.setdefault(binding.description, ["", binding.id or ""])
                if key not in entry[0].split(", "):
                    entry[0] = f"{entry[0]}, {key}" if entry[0] else key
        for key, what in (
            ("enter", "open the selected row"),
            ("ctrl+p", "command palette: every action and screen"),
            (":", "jump: " + " · ".join(t.usage for t in self.targets if t.open is not None)),
        ):
            rows.setdefault(what, [key, ""])
        out = Text()
        out.append("Keys", style="bold underline")
        out.append("\n")
        out.append(f"{'key':<14}{'does':<44}id (for keymap.toml)\n", style="bold")
        for what, (keys, binding_id) in rows.items():
            out.append(f"{keys:<14}", style="bold")
            out.append(f"{what:<44}")
            out.append(f"{binding_id}\n", style="dim")
        out.append("\nStatus glyphs\n", style="bold underline")
        for word in LEGEND:
            out.append(f"  {STATUS[word][0]}  {word}\n")
        out.append(f"\nRemap keys by id in {keymap_path()}, e.g.\n")
        out.append('  "app.quit" = "ctrl+q"\n', style="bold")
        out.append("\nesc closes", style="dim")
        return out
