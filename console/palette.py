"""The command palette, with a search mark the console's fonts draw (Textual's is an
emoji that many terminal fonts lack). What it lists is `screens/base.ScreenCommands`."""

from __future__ import annotations

from textual.command import CommandPalette, SearchIcon


class Palette(CommandPalette):
    def on_mount(self) -> None:
        self.query_one(SearchIcon).icon = ">"
