"""The confirmation that shows exactly what will change.

A promotion, approval, rejection or rollback is shown with focus on Cancel and goes
ahead only once the version number is typed, a reason given and, for failed gates,
the override ticked; a line under the fields says what is still missing. The dialog
runs the action itself and closes only when it went through: a refusal stays in the
dialog, with everything typed, in the console's words.

It fits any terminal the console runs in (60×16 and up): the plan scrolls in its own
box, and on a short terminal the fields and buttons lose their borders, so the inputs
and the buttons are always on screen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lookout.console.format import delta, number, safe, status_text
from lookout.console.messages import ActionDone
from lookout.console.plans import Plan
from lookout.console.widgets import QuietInput
from lookout.scheduler.promotion import PromotionError
from lookout.storage.text import sanitize
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

COMPACT_BELOW = 32  # terminal rows under which fields and buttons drop their borders
# The command line's words in a refusal, and the console's for the same thing; what is
# left in brackets naming a flag (`with --alias candidate`) has no console equivalent.
CONSOLE_WORDS = (
    ("approve anyway with --override and a reason", "tick the override box to approve anyway"),
    ("--override", "the override box"),
)
CLI_HINT = re.compile(r" \([^()]*--[a-z][^()]*\)")


@dataclass(frozen=True)
class Confirmed:
    reason: str
    override: bool = False


def in_console_words(message: str) -> str:
    for cli, console in CONSOLE_WORDS:
        message = message.replace(cli, console)
    return CLI_HINT.sub("", message)


class ConfirmModal(ModalScreen[Confirmed | None]):
    """Shows the plan and runs `act` once confirmed; returns what was confirmed, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("pageup", "scroll_plan(-1)", "Scroll the plan up", show=False, id="confirm.up"),
        Binding(
            "pagedown", "scroll_plan(1)", "Scroll the plan down", show=False, id="confirm.down"
        ),
    ]

    def __init__(self, plan: Plan, act: Callable[[Confirmed], Any], what: str) -> None:
        super().__init__()
        self.plan = plan
        self.act = act  # the change itself, run in a thread; returns an outcome with ok, message
        self.what = what  # how a refusal or an error names the action
        self.busy = False
        self.refusal = ""  # why the last try was refused, until something is typed

    @property
    def needs_override(self) -> bool:
        return self.plan.verb == "approve" and not all(g.passed for g in self.plan.gates)

    def compose(self) -> ComposeResult:
        p = self.plan
        with Vertical(id="dialog") as dialog:
            dialog.border_title = sanitize(p.title, 90, single_line=True)
            with VerticalScroll(id="plan", can_focus=False):
                yield Static(self._details(), id="details")
            with Horizontal(classes="field"):
                yield Label(Text(f"Type {p.confirm_text} to confirm"))
                yield QuietInput(placeholder=p.confirm_text, id="typed")
            with Horizontal(classes="field"):
                yield Label(Text("Reason (audited)"))
                yield QuietInput(placeholder="why", id="reason")
            if self.needs_override:
                yield Checkbox("Override the failed gates (approvers; recorded)", id="override")
            yield Static(id="missing")
            # Confirm comes before Cancel, so from Cancel (where focus starts) tab goes
            # round to the first field, and from the last field on to Confirm.
            with Horizontal(id="buttons"):
                yield Button(
                    Text(p.verb.capitalize() if p.verb != "rollback" else "Roll back"),
                    id="confirm",
                    variant="error" if p.verb in ("reject", "rollback") else "warning",
                    disabled=True,
                )
                yield Button("Cancel", id="cancel")

    def _details(self) -> Table:
        p = self.plan
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        v = lambda n: Text("none") if n is None else Text(f"v{n}")  # noqa: E731
        grid.add_row(Text("from", style="bold"), v(p.from_version))
        grid.add_row(Text("to", style="bold"), v(p.to_version))
        for note in p.notes:
            grid.add_row(Text(""), safe(note, 300))
        if p.gates:
            grid.add_row(Text("gates", style="bold"), safe(p.gates_note, 200, style="dim"))
            for g in p.gates:
                line = Text()
                line.append_text(status_text("pass" if g.passed else "fail", 7))
                line.append_text(safe(g.name, 40, style="bold"))
                line.append(" ")
                line.append_text(safe(g.detail, 300))
                grid.add_row(Text(""), line)
        if p.deltas:
            metrics = Table(box=None, padding=(0, 1), show_edge=False)
            metrics.add_column("metric", overflow="fold")
            metrics.add_column(f"v{p.from_version}" if p.from_version else "from", justify="right")
            metrics.add_column(f"v{p.to_version}" if p.to_version else "to", justify="right")
            metrics.add_column("Δ", justify="right")
            for name, old, new in p.deltas:
                metrics.add_row(
                    safe(name, 80), Text(number(old)), Text(number(new)), delta(new, old)
                )
            grid.add_row(Text("metrics", style="bold"), metrics)
        return grid

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._fit(self.app.size.height)
        self._say_missing()

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, rows: int) -> None:
        """Borderless fields and buttons on a short terminal; the plan gets what is left."""
        compact = rows < COMPACT_BELOW
        for widget in self.query("Input, Button, Checkbox"):
            widget.compact = compact  # type: ignore[attr-defined]
        self.set_class(compact, "-compact")
        field = 1 if compact else 3
        fields = 2 + (1 if self.needs_override else 0)
        # the dialog's border, each field, the missing line (it may wrap once), the buttons
        fixed = 2 + fields * field + 2 + field
        self.query_one("#plan").styles.max_height = max(2, rows - fixed)

    def action_scroll_plan(self, direction: int) -> None:
        plan = self.query_one("#plan", VerticalScroll)
        plan.scroll_to(y=plan.scroll_y + direction * max(1, plan.size.height - 1), animate=False)

    # -- what is still missing ----------------------------------------------------------

    def _missing(self) -> list[tuple[str, str]]:
        """What is still needed, as (the field that takes it, what to do)."""
        typed = self.query_one("#typed", Input).value.strip().lstrip("v")
        out = []
        if typed != self.plan.confirm_text:
            want = self.plan.confirm_text
            out.append(("#typed", f"type {want}" + (f" (not {typed})" if typed else "")))
        if not self.query_one("#reason", Input).value.strip():
            out.append(("#reason", "give a reason"))
        if self.needs_override and not self._override():
            failed = ", ".join(g.name for g in self.plan.gates if not g.passed)
            out.append(("#override", f"tick the override ({failed} failed)"))
        return out

    def _override(self) -> bool:
        boxes = self.query("#override")
        return bool(boxes and boxes.first(Checkbox).value)

    def _say_missing(self) -> None:
        missing = self._missing()
        self.query_one("#confirm", Button).disabled = bool(missing) or self.busy
        line = Text()
        if self.busy:
            line.append(f"{self.what}…", style="bold")
        elif self.refusal:
            line.append("✗ refused: ", style="bold red")
            line.append_text(safe(self.refusal, 300))
        elif missing:
            line.append("to go ahead: " + " · ".join(what for _, what in missing), style="dim")
        else:
            line.append("ready: enter or the button goes ahead", style="dim")
        self.query_one("#missing", Static).update(line)

    def on_input_changed(self, _: Input.Changed) -> None:
        self.refusal = ""
        self._say_missing()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        self.refusal = ""
        self._say_missing()

    # -- going ahead ----------------------------------------------------------------------

    @on(Input.Submitted, "#typed")
    def _typed(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _reason(self) -> None:
        self._go()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self._go()

    def _go(self) -> None:
        """Act if everything is there; else put the cursor where something is missing."""
        if self.busy:
            return
        missing = self._missing()
        if missing:
            self.query_one(missing[0][0]).focus()
            self._say_missing()
            return
        answer = Confirmed(self.query_one("#reason", Input).value.strip(), self._override())
        self.busy = True
        self._say_missing()
        self._act(answer)

    @work(thread=True, exclusive=True, group="confirm")
    def _act(self, answer: Confirmed) -> None:
        try:
            outcome = self.act(answer)
        except Exception as exc:
            self.app.call_from_thread(self._refused, str(exc), exc)
            return
        message = str(getattr(outcome, "message", None) or f"{self.what}: done")
        if getattr(outcome, "ok", True):
            self.app.call_from_thread(self._done, answer, message)
        else:
            self.app.call_from_thread(self._refused, message, None)

    def _done(self, answer: Confirmed, message: str) -> None:
        self.app.post_message(ActionDone(message, True, self.what))
        self.dismiss(answer)

    def _refused(self, message: str, error: BaseException | None) -> None:
        """Stay open with what was typed; say why in the dialog (and log real errors)."""
        if error is not None and not isinstance(error, PromotionError | LookupError):
            self.app.post_message(ActionDone(f"{error}", False, self.what))
        self.busy = False
        self.refusal = in_console_words(sanitize(message, 300, single_line=True))
        self._say_missing()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)
