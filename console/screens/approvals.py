"""Every promotion request waiting for approval, across all models, oldest first, and the
ones decided recently: the approver's queue, without visiting each model in turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lookout.console import actions
from lookout.console.format import delta, glyph, safe, status_text
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import registry, watch
from lookout.storage.db import Store
from lookout.storage.records import PromotionRequest
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

DECIDED = 50  # how many decided requests to show


@dataclass(frozen=True)
class Waiting:
    """A pending request and its primary metric before and after (None when unknown)."""

    request: PromotionRequest
    metric: str
    before: object
    after: object


@dataclass(frozen=True)
class ApprovalsData:
    pending: list[Waiting]  # oldest first
    decided: list[PromotionRequest]  # most recently decided first


def fetch(store: Store) -> ApprovalsData:
    pending = registry.list_requests(store, status="pending", limit=500)[::-1]
    recent = registry.list_requests(store, limit=len(pending) + DECIDED)
    decided = sorted(
        (r for r in recent if r.status != "pending"),
        key=lambda r: r.decided_at or 0.0,
        reverse=True,
    )
    metrics = {m.name: m.primary_metric for m in registry.list_models(store)}

    def value(model: str, version: int | None, metric: str) -> object:
        v = registry.get_version(store, model, version) if version is not None else None
        return None if v is None else v.metrics.get(metric)

    waiting = []
    for r in pending:
        metric = metrics.get(r.model, "")
        waiting.append(
            Waiting(
                r, metric, value(r.model, r.from_version, metric), value(r.model, r.version, metric)
            )
        )
    return ApprovalsData(waiting, decided)


def change(r: PromotionRequest) -> Text:
    move = f"{r.alias} v{r.from_version or '-'} → v{r.version}"
    return safe(move + (" (rollback)" if r.kind == "rollback" else ""), 120)


def gates(r: PromotionRequest) -> Text:
    """Passed, failed or overridden, as glyph and word; failed gates named."""
    if not r.gates:
        return Text("- no gates", style="dim")
    failed = [g.name for g in r.gates if not g.passed]
    if not failed:
        return Text(f"{glyph('pass')} passed", style="green")
    names = safe(": " + ", ".join(failed), 120)
    if any(a.override for a in r.approvals):
        return Text(f"{glyph('warn')} overridden", style="yellow") + names
    return Text(f"{glyph('fail')} failed", style="bold red") + names


def decision_reason(r: PromotionRequest) -> Text:
    """Why it was decided: the deciding person's reason, or what replaced it."""
    if r.status == "superseded":
        return Text("a newer request replaced it", style="dim")
    decision = next((a for a in reversed(r.approvals) if a.actor == r.decided_by), None)
    if decision is None:
        return Text("-", style="dim")
    reason = safe(decision.reason, 300)
    if decision.override:
        return Text(f"{glyph('warn')} gates overridden · ", style="yellow") + reason
    return reason


class ApprovalsScreen(LookoutScreen):
    # enter is a priority binding so it opens the model whatever the table does with it
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approvals.approve"),
        Binding("x", "reject", "Reject", id="approvals.reject"),
        Binding(
            "enter", "open", "Open model", key_display="enter", id="approvals.open", priority=True
        ),
    ]
    DEFAULT_CSS = "ApprovalsScreen #approvals-note { height: auto; padding: 0 1; }"

    def __init__(self) -> None:
        super().__init__()
        self.data: ApprovalsData | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="approvals-title", classes="title")
        yield Static(id="approvals-note")
        yield KeyedTable(
            [
                ("id", "Req"),
                ("model", "Model"),
                ("change", "Change"),
                ("gates", "Gates"),
                ("metric", "Δ metric"),
                ("approvals", "Approvals"),
                ("by", "Requested by"),
                ("age", "Age"),
            ],
            flex=("gates", "change"),
            id="pending",
        )
        yield Static(id="decided-title", classes="title")
        yield KeyedTable(
            [
                ("id", "Req"),
                ("model", "Model"),
                ("change", "Change"),
                ("status", "Status"),
                ("by", "Decided by"),
                ("at", "Age"),
                ("reason", "Reason"),
            ],
            flex=("reason",),
            id="decided",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#approvals-note").display = False
        self.query_one("#pending").focus()

    def sources(self) -> dict[str, Any]:
        return {"approvals": (watch.models_key, fetch)}

    def _four_eyes(self, r: PromotionRequest) -> bool:
        """The current user asked for this request, so policy wants someone else to approve it."""
        return r.requested_by == self.lookout.user and bool(
            self.lookout.ws.config.policy.get("four_eyes", True)
        )

    def _approved_by_me(self, r: PromotionRequest) -> bool:
        return any(a.actor == self.lookout.user and a.decision == "approve" for a in r.approvals)

    def _say(self, widget_id: str, text: Text) -> None:
        """Update a line only when it changed: nothing is sent to the terminal at rest."""
        widget = self.query_one(widget_id, Static)
        if getattr(widget, "_said", None) != text:
            widget._said = text  # type: ignore[attr-defined]
            widget.update(text)

    def show_data(self, name: str, data: ApprovalsData) -> None:
        self.data = data
        count = len(data.pending)
        self._say(
            "#approvals-title",
            Text(
                f"Approvals · {count} waiting, oldest first"
                if count
                else "No promotion requests waiting for approval.",
                style="bold",
            ),
        )
        self._say(
            "#decided-title",
            Text(
                "Decided recently" if data.decided else "Decided recently: none yet",
                style="bold",
            ),
        )
        self._show_note(data)
        times = self.lookout.times
        pending = self.query_one("#pending", KeyedTable)
        pending.relabel({"age": times.label("Asked (UTC)")})
        self.query_one("#decided", KeyedTable).relabel({"at": times.label("Decided (UTC)")})
        rows = []
        for w in data.pending:
            r = w.request
            approved = sum(a.decision == "approve" for a in r.approvals)
            approvals = Text(f"{approved}/{r.approvals_required}")
            if self._four_eyes(r):
                approvals.append(" ⊘ yours", style="yellow")
            elif self._approved_by_me(r):
                approvals.append(" ✓ by you", style="green")
            metric = (
                safe(w.metric, 40) + Text(" ") + delta(w.after, w.before)
                if w.metric and w.after is not None and w.before is not None
                else Text("-", style="dim")
            )
            rows.append(
                (
                    str(r.id),
                    (
                        Text(str(r.id)),
                        safe(r.model, 120),
                        change(r),
                        gates(r),
                        metric,
                        approvals,
                        safe(r.requested_by, 60),
                        Text(times.ago(r.requested_at)),
                    ),
                )
            )
        self.query_one("#pending", KeyedTable).sync(rows)
        self.query_one("#decided", KeyedTable).sync(
            [
                (
                    str(r.id),
                    (
                        Text(str(r.id)),
                        safe(r.model, 120),
                        change(r),
                        status_text(r.status),
                        safe(r.decided_by, 60),
                        Text(times.ago(r.decided_at)),
                        decision_reason(r),
                    ),
                )
                for r in data.decided
            ]
        )

    def _show_note(self, data: ApprovalsData) -> None:
        """Tell an approver up front which requests they cannot approve themselves."""
        pending = [w.request for w in data.pending]
        mine = [str(r.id) for r in pending if self._four_eyes(r)]
        done = [str(r.id) for r in pending if not self._four_eyes(r) and self._approved_by_me(r)]
        parts = []
        if mine:
            parts.append(
                f"⊘ you requested {', '.join(mine)}: four-eyes means another approver must approve"
            )
        if done:
            parts.append(f"✓ you approved {', '.join(done)} already: another approver must too")
        note = self.query_one("#approvals-note", Static)
        note.display = bool(parts)
        self._say("#approvals-note", Text(" · ".join(parts), style="yellow"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open" and isinstance(self.focused, Input):
            return False  # enter belongs to the filter box while it is open
        return super().check_action(action, parameters)

    def _selected_pending(self) -> PromotionRequest | None:
        key = self.query_one("#pending", KeyedTable).selected_key
        if self.data is None or key is None:
            return None
        return next((w.request for w in self.data.pending if str(w.request.id) == key), None)

    def _decide(self, verb: str) -> None:
        r = self._selected_pending()
        if r is None:
            self.lookout.report(f"no pending promotion request to {verb}")
            return
        if verb == "approve" and self._four_eyes(r):
            self.lookout.report(
                f"cannot approve request {r.id}",
                "you requested it; four-eyes means another approver must approve it",
            )
            return
        if verb == "approve" and self._approved_by_me(r):
            self.lookout.report(
                f"cannot approve request {r.id}",
                "you approved it already; it needs another approver",
            )
            return
        actions.decide(self.lookout, verb, r.id)

    def action_approve(self) -> None:
        self._decide("approve")

    def action_reject(self) -> None:
        self._decide("reject")

    def action_open(self) -> None:
        table = self._table()
        if self.data is None or table is None or table.selected_key is None:
            return
        requests = [w.request for w in self.data.pending] + self.data.decided
        r = next((r for r in requests if str(r.id) == table.selected_key), None)
        if r is not None:
            self.lookout.jump(f"model {r.model}")
