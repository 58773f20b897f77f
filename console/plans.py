"""What a promotion, approval, rejection or rollback will change, worked out before anyone
confirms it: which version moves from where to where, the gates, the metric deltas.

The action flows (actions.py) build a plan in a thread and show it in the confirm modal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lookout.scheduler import promotion
from lookout.scheduler.workspace import Workspace
from lookout.storage import registry
from lookout.storage.db import Store
from lookout.storage.records import Gate
from lookout.storage.text import sanitize


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
    store: Store, model: str, version: int, ws: Workspace, alias: str = "production"
) -> Plan:
    """The promotion of `version`, with the gates as they stand now."""
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
