"""Modals: the confirmation that shows exactly what will change, a note prompt, `:` jump.

A promotion, approval, rejection or rollback is planned in a thread (what moves
from which version to which, the gate results, metric deltas), shown with focus
on Cancel, and confirmed only by typing the version number and giving a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from lookout.console.format import delta, number, safe, status_text
from lookout.console.messages import Failed
from lookout.console.widgets import QuietInput
from lookout.storage import events, pipelines, registry, scheduling
from lookout.storage.db import Store
from lookout.storage.records import Gate
from lookout.storage.text import sanitize
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Static

if TYPE_CHECKING:
    from lookout.console.app import LookoutApp


@dataclass(frozen=True)
class Plan:
    """What an action will change, for the person confirming it."""

    verb: str  # promote | approve | reject | rollback
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    gates: tuple[Gate, ...] = ()
    gates_note: str = ""
    deltas: tuple[tuple[str, object, object], ...] = ()
    request_id: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def confirm_text(self) -> str:
        return str(self.to_version if self.to_version is not None else self.from_version)

    @property
    def title(self) -> str:
        v = lambda n: "none" if n is None else f"v{n}"  # noqa: E731
        head = {
            "promote": "Promote",
            "approve": "Approve",
            "reject": "Reject",
            "rollback": "Roll back",
        }[self.verb]
        req = f" request {self.request_id}:" if self.request_id is not None else ""
        return (
            f"{head}{req} {self.model} {self.alias} {v(self.from_version)} → {v(self.to_version)}"
        )


def _deltas(store: Store, model: str, old: int | None, new: int | None) -> tuple[Any, ...]:
    a = registry.get_version(store, model, old) if old is not None else None
    b = registry.get_version(store, model, new) if new is not None else None
    names = sorted(set(a.metrics if a else {}) | set(b.metrics if b else {}))
    return tuple(
        (m, a.metrics.get(m) if a else None, b.metrics.get(m) if b else None) for m in names
    )


def plan_promote(
    store: Store, model: str, version: int, ws: Any, alias: str = "production"
) -> Plan:
    """The promotion of `version`, with the gates as they stand now."""
    from lookout.scheduler import promotion

    current = registry.aliases(store, model).get(alias)
    if registry.get_version(store, model, version) is None:
        raise LookupError(f"{model} has no version {version}")
    return Plan(
        "promote",
        model,
        alias,
        current,
        version,
        tuple(promotion.evaluate_gates(ws, model, version)),
        "as they stand now; recorded again when the request is made",
        _deltas(store, model, current, version),
    )


def plan_request(store: Store, request_id: int, verb: str) -> Plan:
    """Approving or rejecting a pending request: its recorded gates and deltas."""
    req = registry.get_request(store.conn, request_id)
    if req is None:
        raise LookupError(f"no promotion request {request_id}")
    if req.status != "pending":
        raise LookupError(f"request {request_id} is {req.status}, not pending")
    notes = tuple(
        sanitize(f"{a.decision} by {a.actor}: {a.reason}", 120, single_line=True)
        for a in req.approvals
    )
    return Plan(
        verb,
        req.model,
        req.alias,
        req.from_version,
        req.version,
        req.gates,
        f"recorded when {req.requested_by} asked; {req.approvals_required} approval(s) needed",
        _deltas(store, req.model, req.from_version, req.version),
        req.id,
        (sanitize(f"reason given: {req.reason}", 160, single_line=True), *notes),
    )


def plan_rollback(store: Store, model: str) -> Plan:
    """Put back the version production had before the current one."""
    current = registry.aliases(store, model).get("production")
    if current is None:
        raise LookupError(f"{model} has no production version to roll back")
    previous = None
    for t in registry.transitions(store, model, "production"):
        if t.to_version == current and t.from_version is not None:
            previous = t.from_version
            break
    if previous is None:
        raise LookupError(f"{model} has no earlier production version to return to")
    return Plan(
        "rollback",
        model,
        "production",
        current,
        previous,
        deltas=_deltas(store, model, current, previous),
    )


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

    def on_input_changed(self, _: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not self._valid()

    def _result(self) -> Confirmed:
        boxes = self.query("#override")
        override = bool(boxes and boxes.first(Checkbox).value)
        return Confirmed(self.query_one("#reason", Input).value.strip(), override)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "typed":
            self.query_one("#reason", Input).focus()
        elif self._valid():
            self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm" and self._valid():
            self.dismiss(self._result())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteModal(ModalScreen[str | None]):
    """A one-line prompt (acknowledgement note); Enter accepts, Esc cancels."""

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


# -- the flows: plan in a thread, confirm, act in a thread --------------------------


def _confirm_then(
    app: LookoutApp,
    what: str,
    build: Callable[[Store], Plan],
    act: Callable[[Plan, Confirmed], Any],
) -> None:
    def plan_in_thread() -> None:
        try:
            plan = build(app.ws.store)
        except Exception as exc:
            app.post_message(Failed(what, exc))
            return

        def confirmed(answer: Confirmed | None) -> None:
            if answer is not None:
                app.perform(what, partial(act, plan, answer))

        app.call_from_thread(app.push_screen, ConfirmModal(plan), confirmed)

    app.run_worker(plan_in_thread, thread=True, group="plan")


def promote(app: LookoutApp, model: str, version: int) -> None:
    from lookout.scheduler import promotion

    _confirm_then(
        app,
        f"promote {model} v{version}",
        partial(plan_promote, model=model, version=version, ws=app.ws),
        lambda plan, answer: promotion.request_promotion(
            app.ws, plan.model, version, app.user, answer.reason, plan.alias
        ),
    )


def decide(app: LookoutApp, verb: str, request_id: int) -> None:
    """Approve or reject a pending promotion request."""
    from lookout.scheduler import promotion

    def act(plan: Plan, answer: Confirmed) -> Any:
        if verb == "approve":
            return promotion.approve(app.ws, request_id, app.user, answer.reason, answer.override)
        return promotion.reject(app.ws, request_id, app.user, answer.reason)

    _confirm_then(
        app,
        f"{verb} request {request_id}",
        partial(plan_request, request_id=request_id, verb=verb),
        act,
    )


def rollback(app: LookoutApp, model: str) -> None:
    from lookout.scheduler import promotion

    _confirm_then(
        app,
        f"roll back {model}",
        partial(plan_rollback, model=model),
        lambda plan, answer: promotion.rollback(
            app.ws, plan.model, app.user, answer.reason, to_version=plan.to_version
        ),
    )


def acknowledge(app: LookoutApp, event_id: int) -> None:
    def done(note: str | None) -> None:
        if note is not None:
            app.perform(
                f"acknowledge event {event_id}",
                lambda: _acked(events.acknowledge(app.ws.store, event_id, app.user, note)),
            )

    app.push_screen(
        NoteModal(f"Acknowledge event {event_id}: note (optional)", "what you did"), done
    )


@dataclass(frozen=True)
class _Done:
    ok: bool
    message: str


def _acked(event: Any) -> _Done:
    return _Done(True, f"event {event.id} acknowledged by {event.acked_by}")


def trigger_run(app: LookoutApp, pipeline: str, retry_of: int | None = None) -> None:
    """Ask the scheduler for a run (it picks the request row up)."""
    args = {"retry_of": retry_of} if retry_of is not None else {}
    what = f"retry run {retry_of}" if retry_of else f"run {pipeline}"

    def submit() -> _Done:
        req = scheduling.submit_request(app.ws.store, "run_pipeline", pipeline, app.user, args)
        note = "" if app.scheduler_alive() else " (no scheduler is running to pick it up)"
        return _Done(True, f"{what}: request {req.id} queued{note}")

    app.perform(what, submit)


def cancel_run(app: LookoutApp, run_id: int) -> None:
    def cancel() -> _Done:
        if pipelines.request_cancel(app.ws.store, run_id):
            return _Done(True, f"run {run_id}: cancellation requested")
        return _Done(False, f"run {run_id} already finished")

    app.perform(f"cancel run {run_id}", cancel)
