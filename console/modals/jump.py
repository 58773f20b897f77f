"""`:`: type a screen's name (`model churn`, `timeline`), with suggestions as you type."""

from __future__ import annotations

from collections.abc import Sequence

from lookout.console.protocol import Target
from lookout.console.widgets import QuietInput
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input


class JumpModal(ModalScreen[str | None]):
    """Returns what was typed, without the `:`, or None; the app opens it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def __init__(self, targets: Sequence[Target], suggestions: Sequence[str] = ()) -> None:
        super().__init__()
        self.targets = targets
        self.suggestions = suggestions  # what the screen below lists now: `model churn`

    def compose(self) -> ComposeResult:
        rows = [t for t in self.targets if t.open is not None]
        yield QuietInput(
            placeholder=" · ".join(f":{t.usage}" for t in rows),
            id="jump",
            suggester=SuggestFromList(
                [
                    *self.suggestions,
                    *(t.word for t in self.targets if not t.argument),
                    *(f"{t.word} " for t in self.targets if t.argument),
                ],
                case_sensitive=False,
            ),
        )

    def on_mount(self) -> None:
        self.query_one("#jump", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.lstrip(":").strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
