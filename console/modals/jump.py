"""`:`: type a screen's name (`model churn`, `timeline`), with suggestions as you type."""

from __future__ import annotations

from lookout.console.widgets import QuietInput
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input


class JumpModal(ModalScreen[str | None]):
    """`:model churn`, `:pipeline x`, `:check ds.name`, `:approvals`, `:timeline`, `:audit`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def __init__(self, suggestions: list[str] | None = None) -> None:
        super().__init__()
        self.suggestions = suggestions or []

    def compose(self) -> ComposeResult:
        yield QuietInput(
            placeholder=(
                ":model NAME · :pipeline NAME · :check DS.NAME · :drift MODEL"
                " · :approvals · :timeline · :audit"
            ),
            id="jump",
            suggester=SuggestFromList(
                [
                    *self.suggestions,
                    "approvals",
                    "timeline",
                    "audit",
                    "overview",
                    "model ",
                    "pipeline ",
                    "check ",
                    "drift ",
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
