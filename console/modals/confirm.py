"""The confirmation that shows exactly what will change.

A promotion, approval, rejection or rollback is shown with focus on Cancel and
confirmed only by typing the version number and giving a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from lookout.console.format import delta, number, safe, status_text
from lookout.console.plans import Plan
from lookout.console.widgets import QuietInput
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


@dataclass(frozen=True)
class Confirmed:
    reason: str
    override: bool = False


class ConfirmModal(ModalScreen[Confirmed | None]):
    """Shows the plan; returns the reason once the version is typed, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        p = self.plan
        with Vertical(id="dialog"):
            yield Label(safe(p.title, 90, style="bold"), id="title")
            yield Static(self._details(), id="details")
            yield Label(Text(f"Type {p.confirm_text} to confirm:"))
            yield QuietInput(placeholder=p.confirm_text, id="typed")
            yield Label(Text("Reason (required, goes on the audit record):"))
            yield QuietInput(placeholder="why", id="reason")
            if p.verb == "approve" and not all(g.passed for g in p.gates):
                yield Checkbox("Override the failed gates (approvers; recorded)", id="override")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    Text(p.verb.capitalize() if p.verb != "rollback" else "Roll back"),
                    id="confirm",
                    variant="error" if p.verb in ("reject", "rollback") else "warning",
                    disabled=True,
                )

    def _details(self) -> Text | Table:
        p = self.plan
        grid = Table.grid(padding=(0, 2))
        grid.add_column()
        grid.add_column()
        v = lambda n: Text("none") if n is None else Text(f"v{n}")  # noqa: E731
        grid.add_row(Text("from", style="bold"), v(p.from_version))
        grid.add_row(Text("to", style="bold"), v(p.to_version))
        for note in p.notes:
            grid.add_row(Text(""), safe(note, 100))
        if p.gates:
            grid.add_row(Text("gates", style="bold"), safe(p.gates_note, 90, style="dim"))
            for g in p.gates:
                line = Text()
                line.append_text(status_text("pass" if g.passed else "fail", 7))
                line.append_text(safe(g.name, 20, style="bold"))
                line.append(" ")
                line.append_text(safe(g.detail, 70))
                grid.add_row(Text(""), line)
        if p.deltas:
            metrics = Table(box=None, padding=(0, 1), show_edge=False)
            metrics.add_column("metric")
            metrics.add_column(f"v{p.from_version}" if p.from_version else "from", justify="right")
            metrics.add_column(f"v{p.to_version}" if p.to_version else "to", justify="right")
            metrics.add_column("Δ", justify="right")

            for name, old, new in p.deltas:
                metrics.add_row(
                    safe(name, 24), Text(number(old)), Text(number(new)), delta(new, old)
                )
            grid.add_row(Text("metrics", style="bold"), metrics)
        return grid

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def _valid(self) -> bool:
        typed = self.query_one("#typed", Input).value.strip().lstrip("v")
        reason = self.query_one("#reason", Input).value.strip()
        return typed == self.plan.confirm_text and bool(reason)

    def _result(self) -> Confirmed:
        boxes = self.query("#override")
        override = bool(boxes and boxes.first(Checkbox).value)
        return Confirmed(self.query_one("#reason", Input).value.strip(), override)

    def on_input_changed(self, _: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not self._valid()

    @on(Input.Submitted, "#typed")
    def _typed(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _reason(self) -> None:
        if self._valid():
            self.dismiss(self._result())

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(self._result() if self._valid() else None)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
