"""A one-line prompt (an acknowledgement's note): Enter accepts, Esc cancels."""

from __future__ import annotations

from lookout.console.format import safe
from lookout.console.widgets import QuietInput
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class NoteModal(ModalScreen[str | None]):
    """Returns the stripped text ("" when left empty), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="note.cancel")]

    def __init__(self, title: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(safe(self.title_text, 90, style="bold"))
            yield QuietInput(placeholder=self.placeholder, id="note")
            yield Label(Text("enter to save · esc to cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
