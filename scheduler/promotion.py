"""Promotion, approval and rollback: what serves changes only through a gated,
approved, recorded step, and can be put back in one step.

Every change runs in one store transaction (BEGIN IMMEDIATE) that re-reads the
state it acts on, moves the alias, records the transition, the audit entry and
the timeline event, and applies the change to the outside world (the serving
pointer, or the alias in the connector that holds the model, such as MLflow)
before it commits; if the commit fails the outside change is undone while the
lock is still held. Reload hooks are called after the commit: a hook that
fails is reported and recorded, but what the store says serves and what the
pointer says always agree.

The gates a production request records are `lookout.scheduler.gates`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lookout.scheduler import calls, policy, reconcile, safefs, serving
from lookout.scheduler.connectors import model_source
from lookout.scheduler.gates import production_gates
from lookout.scheduler.policy import ROLES, PermissionDenied, can, role_of
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, events, faults, intents, registry
from lookout.storage.records import AliasIntent, Gate, PromotionRequest, Version
from lookout.storage.text import sanitize

__all__ = [
    "ROLES",
    "Outcome",
    "PromotionError",
    "approve",
    "can",
    "evaluate_gates",
    "on_version_registered",
    "reject",
    "request_promotion",
    "role_of",
    "rollback",
    "rollback_target",
]

PRODUCTION = "production"
CANDIDATE = "candidate"


class PromotionError(Exception):
    """A refused or failed promotion action; the message is one line for the user."""


@dataclass(frozen=True)
class Outcome:
    """What an action did: the request it touched and, if the alias moved, from/to."""

    ok: bool
    message: str
    request: PromotionRequest | None = None
    from_version: int | None = None
    to_version: int | None = None
    hook_error: str | None = None  # the reload hook failed after the change committed


def evaluate_gates(ws: Workspace, model: str, version: int) -> list[Gate]:
    """The production gates for a version, as they stand now (switched by `[policy.gates]`)."""
    candidate = registry.get_version(ws.store, model, version)
    if candidate is None:
        raise PromotionError(f"model {model} has no version {version}")
    prod_no = registry.aliases(ws.store, model).get(PRODUCTION)
    production = None if prod_no is None else registry.get_version(ws.store, model, prod_no)
    return production_gates(ws, candidate, production)


# -- applying an alias change ------------------------------------------------------


def _source(ws: Workspace, model: str) -> str:
    source = (ws.config.models.get(model) or {}).get("source")
    if source is None:
        stored = registry.get_model(ws.store, model)
        source = stored.source if stored else "local"
    return str(source)


def _io(exc: BaseException) -> str:
    """A store or file error as one line (a full disk, above all)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return sanitize(str(exc) or type(exc).__name__, 200, single_line=True)


class _Change:
    """The outside half of one alias change: the serving pointer of a local model (after
    its artifact's sha256 check), or the alias in the connector holding the model.

    It is made last inside the transaction that records the decision, and marks the
    intent recorded beforehand `done` in that same transaction. If the transaction
    does not commit, `undo` puts the outside back while the write lock is still held
    (for a pointer, by renames only, so it works on a full disk).
    """

    def __init__(self, ws: Workspace, intent: AliasIntent):
        self.ws = ws
        self.intent = intent
        self.switches: list[serving.Switch] = []
        self.connector_undos: list[Callable[[], None]] = []
        self.undo_error: str | None = None
        self.applied = False  # the decision moved the alias (an approval may only count)

    def apply(
        self,
        conn: sqlite3.Connection,
        model: str,
        alias: str,
        target: Version,
        previous: int | None,
        actor: str,
    ) -> None:
        connector = model_source(_source(self.ws, model))
        if connector is not None:
            try:
                connector.set_alias(self.ws, model, alias, target.version)
            except Exception as exc:
                raise PromotionError(
                    f"{connector.title} did not set {model}@{alias} to v{target.version}:"
                    f" {calls.failure(exc)}"
                ) from None

            def undo() -> None:
                if previous is not None:
                    connector.set_alias(self.ws, model, alias, previous)
                else:
                    connector.delete_alias(self.ws, model, alias)

            self.connector_undos.append(undo)
        else:
            switch = serving.Switch(self.ws, model, alias, f"intent-{self.intent.id}")
            try:
                artifact = serving.verify_artifact(self.ws, target)
                switch.prepare(serving.pointer_bytes(target, alias, artifact, actor))
                self.switches.append(switch)
                faults.point("promotion.pointer_staged")
                switch.apply()
            except serving.ServingError as exc:
                raise PromotionError(str(exc)) from None
            faults.point("promotion.pointer_switched")
        intents.finish(conn, self.intent.id, "done", previous, target.version)
        self.applied = True

    def undo(self) -> None:
        """Put the outside back; a failure is kept (reconcile finishes the job), not raised."""
        for fn in reversed(self.connector_undos):
            try:
                fn()
            except Exception as exc:
                self.undo_error = calls.failure(exc)
        for switch in reversed(self.switches):
            try:
                switch.undo()
            except (OSError, safefs.UnsafePath) as exc:
                self.undo_error = f"cannot put the serving pointer back: {_io(exc)}"
            switch.discard()

    def finish(self) -> None:
        for switch in self.switches:
            switch.finish()


@contextlib.contextmanager
def _changing(
    ws: Workspace, model: str, alias: str, action: str, actor: str, to_version: int | None
) -> Iterator[tuple[sqlite3.Connection, _Change]]:
    """One change of what `model@alias` serves, recoverable at every step.

    1. Settle what a process that died left on this alias (`reconcile.settle`).
    2. Record the intent and commit it, before anything outside is touched.
    3. In one transaction (BEGIN IMMEDIATE): the caller re-checks and records the
       decision, then `change.apply` switches the outside and marks the intent done;
       commit. If the commit does not happen, the outside is put back under the lock.
    A process killed anywhere leaves the intent pending, and the next reconcile makes
    the outside match what the store committed.
    """
    _settle(ws, model, alias, actor)
    try:
        current = registry.aliases(ws.store, model).get(alias)
        intent = intents.begin(ws.store, model, alias, action, actor, current, to_version)
    except (sqlite3.Error, OSError) as exc:
        raise PromotionError(f"cannot record the change: {_io(exc)}; nothing changed") from None
    faults.point("promotion.intent_recorded")
    change = _Change(ws, intent)
    try:
        with registry.changing(ws.store) as (conn, undos):
            undos.append(change.undo)
            yield conn, change
            faults.point("promotion.before_commit")
    except BaseException as exc:
        settled = _after_failure(ws, change)
        if isinstance(exc, sqlite3.Error | OSError):
            raise PromotionError(f"the change was not recorded: {_io(exc)}; {settled}") from None
        raise
    faults.point("promotion.after_commit")
    change.finish()
    if not change.applied:
        with contextlib.suppress(sqlite3.Error, OSError):  # else reconcile closes it later
            intents.forget(ws.store, intent.id)


def _settle(ws: Workspace, model: str, alias: str, actor: str) -> None:
    """Settle what a process that died left on this alias, before acting on it."""
    try:
        reconcile.settle(ws, model, alias, actor)
    except (sqlite3.Error, OSError) as exc:
        raise PromotionError(f"cannot check what serves: {_io(exc)}; nothing changed") from None


@contextlib.contextmanager
def _plain(ws: Workspace) -> Iterator[tuple[sqlite3.Connection, _Change | None]]:
    """A write transaction for a change that touches nothing outside the store."""
    with ws.store.write() as conn:
        yield conn, None


def _after_failure(ws: Workspace, change: _Change) -> str:
    """Close the intent of a change that did not commit; says what state it left."""
    try:
        if change.undo_error is None:
            intents.forget(ws.store, change.intent.id)
        else:
            intents.hand_over(ws.store, change.intent.id)
    except (sqlite3.Error, OSError):
        pass  # still pending: the next reconcile, once this process is gone, closes it
    if change.undo_error is None:
        return "nothing changed"
    return f"{change.undo_error}; the scheduler's next pass puts it back"


def _call_hook(
    ws: Workspace, model: str, alias: str, version: Version, action: str, actor: str
) -> str | None:
    """Tell the serving system to reload; record a failure. Returns the failure, if any.

    Only for local models: a connector's models are served from where their
    aliases live, which the connector already moved.
    """
    cfg = ws.config.models.get(model) or {}
    url = cfg.get("reload_hook")
    if not url or model_source(cfg.get("source")) is not None:
        return None
    pointer = serving.read_pointer(ws, model, alias)
    payload = {
        "model": model,
        "alias": alias,
        "version": version.version,
        "artifact": pointer.artifact if pointer else version.artifact_path,
        "sha256": version.artifact_sha256,
        "action": action,
        "actor": actor,
    }
    variable = cfg.get("hook_secret_env")
    secret = os.environ.get(variable) if variable else None
    if variable and not secret:
        # Calling unsigned would let a hook that checks signatures be bypassed.
        result = serving.HookResult(False, 0, f"hook_secret_env {variable} is not set; not called")
    else:
        result = serving.call_reload_hook(
            str(url),
            payload,
            float(cfg.get("hook_timeout", 5.0)),
            int(cfg.get("hook_retries", 2)),
            secret,
        )
    if result.ok:
        return None
    problem = sanitize(
        f"reload hook failed after {result.attempts} attempt(s): {result.detail}",
        300,
        single_line=True,
    )
    events.record(
        ws.store,
        action,
        model,
        f"{model} v{version.version} is {alias}, but the {problem}; the serving system may still run the old model",
        severity="error",
    )
    return problem


# -- helpers -------------------------------------------------------------------------


def shown_version(version: int | None) -> str:
    """What an alias pointed at, in messages: `v3`, or `none` when it pointed at nothing."""
    return f"v{version}" if version is not None else "none"


def _reason(reason: str) -> str:
    text = sanitize(reason or "", 500, single_line=True).strip()
    if not text:
        raise PromotionError("a reason is required (--reason TEXT)")
    return text


def _check_actor(ws: Workspace, actor: str, action: str) -> None:
    if ws.store.readonly:
        raise PromotionError(f"{action} changes the store, which is open read-only")
    try:
        policy.require(ws, actor, action)
    except PermissionDenied as exc:
        raise PromotionError(str(exc)) from None


def _model_cfg(ws: Workspace, model: str) -> dict[str, Any] | None:
    if registry.get_model(ws.store, model) is None:
        raise PromotionError(f"no model named {model!r} in the registry")
    return ws.config.models.get(model)


def _pending_key(request_id: int) -> str:
    return registry.pending_key(request_id)


def _close_pending(conn: sqlite3.Connection, request_id: int) -> None:
    """Resolve the request's open `approval_pending` (deciding a request does it too)."""
    events.resolve(conn, _pending_key(request_id))


def _gate_summary(gates: list[Gate] | tuple[Gate, ...]) -> str:
    if not gates:
        return "no gates"
    failed = [g.name for g in gates if not g.passed]
    return f"gates failed: {', '.join(failed)}" if failed else "all gates passed"


def _supersede(
    conn: sqlite3.Connection, model: str, alias: str, keep: int | None, kind: str = "promotion"
) -> list[int]:
    """Mark pending requests of a kind for model+alias superseded (except version `keep`)."""
    ids = []
    for old in registry.pending_requests(conn, model, alias):
        if old.kind != kind or (keep is not None and old.version == keep):
            continue
        registry.set_request_status(conn, old.id, "superseded", None)
        ids.append(old.id)
    return ids


def _open_request(
    conn: sqlite3.Connection,
    ws: Workspace,
    model: str,
    version: int,
    alias: str,
    actor: str,
    reason: str,
    gates: list[Gate],
    kind: str = "promotion",
) -> PromotionRequest:
    superseded = _supersede(conn, model, alias, keep=None, kind=kind)
    need = int(ws.config.policy.get("approvals_required", 1))
    req = registry.create_request(conn, model, version, alias, actor, reason, gates, need, kind)
    audit.append(
        conn,
        actor,
        "request" if kind == "promotion" else "request_rollback",
        model,
        reason,
        {
            "request": req.id,
            "version": version,
            "alias": alias,
            "from_version": req.from_version,
            "gates": [g.__dict__ for g in gates],
            "superseded": superseded,
        },
    )
    verb = "promotion" if kind == "promotion" else "rollback"
    events.raise_event(
        conn,
        "approval_pending",
        model,
        sanitize(
            f"request #{req.id}: {verb} of {model} v{version} to {alias} by {actor} awaits"
            f" {need} approval(s); {_gate_summary(gates)}",
            300,
        ),
        severity="warn" if not req.gates_passed else "info",
        dedup_key=_pending_key(req.id),
    )
    return req


def _move(
    conn: sqlite3.Connection,
    change: _Change,
    ws: Workspace,
    model: str,
    alias: str,
    target: Version,
    *,
    kind: str,
    actor: str,
    reason: str,
    request_id: int | None,
    details: dict[str, Any],
) -> int | None:
    """Move the alias, record transition + audit + event, and apply it outside (last)."""
    from_version = registry.alias_version(conn, model, alias)
    registry.move_alias(
        conn,
        model,
        alias,
        target.version,
        kind=kind,
        actor=actor,
        reason=reason,
        request_id=request_id,
    )
    audit.append(
        conn,
        actor,
        kind,
        model,
        reason,
        {
            "alias": alias,
            "from_version": from_version,
            "to_version": target.version,
            "request": request_id,
            **details,
        },
    )
    was = shown_version(from_version)
    verb = "rolled back" if kind == "rollback" else "promoted"
    events.raise_event(
        conn,
        kind,
        model,
        sanitize(f"{model} {verb}: {alias} {was} → v{target.version} by {actor}: {reason}", 300),
        severity="warn" if kind == "rollback" else "info",
    )
    change.apply(conn, model, alias, target, from_version, actor)
    return from_version


def _refuse_decided(conn: sqlite3.Connection, req: PromotionRequest) -> None:
    """Explain why a request can no longer be acted on."""
    if req.status == "pending":
        return
    if req.status == "superseded":
        newer = registry.next_request(conn, req)
        by = f" by request #{newer.id} (v{newer.version})" if newer else ""
        raise PromotionError(f"request #{req.id} was superseded{by}; act on the newer request")
    who = req.decided_by or "someone"
    if req.status == "approved":
        raise PromotionError(
            f"request #{req.id} is already approved by {who}: {req.model} v{req.version} is {req.alias}"
            if req.kind == "promotion"
            else f"request #{req.id} is already approved by {who}"
        )
    raise PromotionError(f"request #{req.id} is already {req.status} by {who}")


def _describe(req: PromotionRequest) -> str:
    return f"{req.model} v{req.version} → {req.alias}"


# -- the public actions --------------------------------------------------------------


def on_version_registered(
    ws: Workspace, model: str, version: int, requested_by: str, request: bool = True
) -> PromotionRequest | None:
    """Called by a pipeline's register stage: make the version the `candidate` and,
    when `request` is true, open a promotion request to `production` with its gates.

    A newer candidate supersedes pending production requests for older versions.
    The gates are evaluated even without a request, so a later promotion (from
    any process) finds the costly drift comparison done.
    """
    gates = evaluate_gates(ws, model, version)
    # A `candidate` pointer exists only if someone promoted to that alias by hand; then
    # registering moves it the way a promotion would, so it never disagrees with the store.
    pointer = model_source(_source(ws, model)) is None and (
        serving.read_pointer(ws, model, CANDIDATE) is not None
    )
    with (
        _changing(ws, model, CANDIDATE, "register", requested_by, version)
        if pointer
        else _plain(ws)
    ) as (conn, change):
        target = registry.read_version(conn, model, version)
        if target is None:
            raise PromotionError(f"model {model} has no version {version}")
        previous = registry.alias_version(conn, model, CANDIDATE)
        if change is not None:
            change.apply(conn, model, CANDIDATE, target, previous, requested_by)
        registry.move_alias(
            conn,
            model,
            CANDIDATE,
            version,
            kind="register",
            actor=requested_by,
            reason="registered",
        )
        audit.append(
            conn,
            requested_by,
            "register",
            model,
            "registered",
            {"alias": CANDIDATE, "from_version": previous, "to_version": version},
        )
        if request:
            return _open_request(
                conn,
                ws,
                model,
                version,
                PRODUCTION,
                requested_by,
                f"v{version} registered by {requested_by}",
                gates,
            )
        superseded = _supersede(conn, model, PRODUCTION, keep=version)
        events.raise_event(
            conn,
            "promotion",
            model,
            sanitize(
                f"{model} v{version} is the new candidate (registered by {requested_by})"
                + (
                    f"; superseded request(s) {', '.join(f'#{i}' for i in superseded)}"
                    if superseded
                    else ""
                ),
                300,
            ),
        )
    return None


def request_promotion(
    ws: Workspace, model: str, version: int, actor: str, reason: str, alias: str = "production"
) -> Outcome:
    """Ask to move an alias to a version (operator).

    `production` goes through a request (gates + approvals) and only for the
    current candidate; other aliases (e.g. staging) move at once.
    """
    _check_actor(ws, actor, "promote")
    reason = _reason(reason)
    _model_cfg(ws, model)
    if not serving.valid_name(alias):
        raise PromotionError(f"{alias!r} is not a valid alias name")
    gates = evaluate_gates(ws, model, version) if alias == PRODUCTION else []
    if alias != PRODUCTION:
        with _changing(ws, model, alias, "promotion", actor, version) as (conn, change):
            target = registry.read_version(conn, model, version)
            if target is None:
                raise PromotionError(f"model {model} has no version {version}")
            current = registry.alias_version(conn, model, alias)
            if current == version:
                last = registry.last_transition(conn, model, alias)
                raise PromotionError(
                    f"{model} v{version} is already {alias}"
                    + (f" (promoted by {last.actor})" if last else "")
                )
            from_version = _move(
                conn,
                change,
                ws,
                model,
                alias,
                target,
                kind="promotion",
                actor=actor,
                reason=reason,
                request_id=None,
                details={},
            )
        hook = _call_hook(ws, model, alias, target, "promotion", actor)
        msg = f"{model} {alias}: {shown_version(from_version)} → v{version}"
        return Outcome(True, msg + (f"; {hook}" if hook else ""), None, from_version, version, hook)
    with ws.store.write() as conn:
        if registry.read_version(conn, model, version) is None:
            raise PromotionError(f"model {model} has no version {version}")
        current = registry.alias_version(conn, model, PRODUCTION)
        if current == version:
            last = registry.last_transition(conn, model, PRODUCTION)
            raise PromotionError(
                f"{model} v{version} is already production"
                + (f" (promoted by {last.actor})" if last else "")
            )
        candidate = registry.alias_version(conn, model, CANDIDATE)
        if candidate != version:
            now_is = f"v{candidate}" if candidate is not None else "no version"
            raise PromotionError(
                f"{model} v{version} is not the candidate ({now_is} is); only the candidate can be"
                f" promoted to production (make it the candidate first with --alias candidate)"
            )
        for pending in registry.pending_requests(conn, model, PRODUCTION):
            if pending.version == version and pending.kind == "promotion":
                raise PromotionError(
                    f"{model} v{version} already has pending request #{pending.id}"
                    f" (requested by {pending.requested_by})"
                )
        req = _open_request(conn, ws, model, version, PRODUCTION, actor, reason, gates)
    need = req.approvals_required
    return Outcome(
        True,
        f"request #{req.id}: {_describe(req)} awaits {need} approval(s); {_gate_summary(req.gates)}",
        req,
    )


def approve(
    ws: Workspace, request_id: int, actor: str, reason: str, override: bool = False
) -> Outcome:
    """Approve a pending request (approver); the last approval moves the alias at once."""
    _check_actor(ws, actor, "approve")
    reason = _reason(reason)
    asked = registry.get_request(ws.store.conn, request_id)
    if asked is None:
        raise PromotionError(f"no promotion request #{request_id}")
    with _changing(ws, asked.model, asked.alias, asked.kind, actor, asked.version) as (
        conn,
        change,
    ):
        req = registry.get_request(conn, request_id)
        assert req is not None  # requests are never deleted
        _refuse_decided(conn, req)
        four_eyes = bool(ws.config.policy.get("four_eyes", True))
        if four_eyes and req.requested_by == actor:
            raise PromotionError(
                f"four-eyes: {actor} requested #{req.id} and cannot approve it; another approver must"
            )
        if any(a.actor == actor for a in req.approvals):
            raise PromotionError(
                f"{actor} already approved request #{req.id}; it needs another approver"
            )
        target = registry.read_version(conn, req.model, req.version)
        if target is None:
            raise PromotionError(f"model {req.model} no longer has version {req.version}")
        current = registry.alias_version(conn, req.model, req.alias)
        if req.kind == "rollback":
            if req.version not in registry.versions_ever_at(conn, req.model, req.alias):
                raise PromotionError(
                    f"v{req.version} was never {req.alias}; cannot roll back to it"
                )
        elif req.alias == PRODUCTION:
            candidate = registry.alias_version(conn, req.model, CANDIDATE)
            if candidate != req.version:
                now_is = f"v{candidate}" if candidate is not None else "no version"
                raise PromotionError(
                    f"request #{req.id} is for {req.model} v{req.version}, which is no longer the"
                    f" candidate ({now_is} is); request a promotion of the candidate instead"
                )
        if current == req.version:
            last = registry.last_transition(conn, req.model, req.alias)
            by = f" (promoted by {last.actor})" if last else ""
            raise PromotionError(f"{req.model} v{req.version} is already {req.alias}{by}")
        failed = [g for g in req.gates if not g.passed]
        if failed and not override:
            raise PromotionError(
                f"request #{req.id}: {_gate_summary(req.gates)} ({failed[0].detail}); an approver may"
                " approve anyway with --override and a reason"
            )
        overriding = bool(failed) and override
        registry.add_approval(conn, req.id, actor, "approve", reason, overriding)
        audit.append(
            conn,
            actor,
            "override" if overriding else "approve",
            req.model,
            reason,
            {
                "request": req.id,
                "version": req.version,
                "alias": req.alias,
                "failed_gates": [g.__dict__ for g in failed] if overriding else [],
            },
        )
        have = sum(1 for a in req.approvals if a.decision == "approve") + 1
        if have < req.approvals_required:
            left = req.approvals_required - have
            _close_pending(conn, req.id)  # the request's one open event says what is left
            events.raise_event(
                conn,
                "approval_pending",
                req.model,
                sanitize(
                    f"request #{req.id}: {actor} approved; {left} more approval(s) needed", 300
                ),
                dedup_key=_pending_key(req.id),
            )
            done = registry.get_request(conn, req.id)
            return Outcome(
                True,
                f"request #{req.id}: approved by {actor}; {left} more approval(s) needed",
                done,
            )
        registry.set_request_status(conn, req.id, "approved", actor)
        kind = "rollback" if req.kind == "rollback" else "promotion"
        from_version = _move(
            conn,
            change,
            ws,
            req.model,
            req.alias,
            target,
            kind=kind,
            actor=actor,
            reason=reason,
            request_id=req.id,
            details={"requested_by": req.requested_by, "override": overriding},
        )
        done = registry.get_request(conn, req.id)
    hook = _call_hook(ws, req.model, req.alias, target, kind, actor)
    was = shown_version(from_version)
    msg = f"request #{req.id} approved: {req.model} {req.alias} {was} → v{req.version}"
    if overriding:
        msg += " (failed gates overridden)"
    return Outcome(True, msg + (f"; {hook}" if hook else ""), done, from_version, req.version, hook)


def reject(ws: Workspace, request_id: int, actor: str, reason: str) -> Outcome:
    """Turn a pending request down (approver); nothing moves."""
    _check_actor(ws, actor, "reject")
    reason = _reason(reason)
    with ws.store.write() as conn:
        req = registry.get_request(conn, request_id)
        if req is None:
            raise PromotionError(f"no promotion request #{request_id}")
        _refuse_decided(conn, req)
        if any(a.actor == actor for a in req.approvals):
            raise PromotionError(f"{actor} already approved request #{req.id}")
        registry.add_approval(conn, req.id, actor, "reject", reason)
        registry.set_request_status(conn, req.id, "rejected", actor)
        audit.append(
            conn,
            actor,
            "reject",
            req.model,
            reason,
            {"request": req.id, "version": req.version, "alias": req.alias},
        )
        events.raise_event(
            conn,
            "promotion",
            req.model,
            sanitize(f"request #{req.id} ({_describe(req)}) rejected by {actor}: {reason}", 300),
        )
        done = registry.get_request(conn, req.id)
    return Outcome(True, f"request #{req.id} rejected: {_describe(req)} will not happen", done)


def _rollback_target(
    conn: sqlite3.Connection,
    model: str,
    to_version: int | None,
    expected_current: int | None = None,
) -> tuple[int | None, int]:
    """(current production, the version to go back to), or a refusal.

    `expected_current` is the production version the asker saw: a rollback decided on
    a screen that is no longer true is refused rather than applied to something else.
    """
    current = registry.alias_version(conn, model, PRODUCTION)
    if expected_current is not None and current != expected_current:
        now_is = shown_version(current)
        raise PromotionError(
            f"production is no longer v{expected_current} ({model} production is {now_is} now)"
        )
    if to_version is None:
        last = registry.last_transition(conn, model, PRODUCTION)
        if current is None:
            raise PromotionError(f"{model} has no production version to roll back")
        if last is None or last.from_version is None:
            raise PromotionError(
                f"{model} v{current} is the first production version; there is nothing earlier to roll back to"
            )
        if last.kind == "rollback":
            # Undoing a rollback would put back the version someone just took out, and ten
            # people pressing rollback at once would flip production to and fro.
            raise PromotionError(
                f"{model} production v{current} is already a rollback (from v{last.from_version},"
                f" by {last.actor}); name the version to go to with --to"
            )
        return current, last.from_version
    if to_version == current:
        raise PromotionError(f"{model} v{to_version} is already production")
    if to_version not in registry.versions_ever_at(conn, model, PRODUCTION):
        raise PromotionError(
            f"{model} v{to_version} was never in production; rollback only goes to earlier production versions"
        )
    return current, to_version


def rollback_target(
    ws: Workspace, model: str, to_version: int | None = None
) -> tuple[int | None, int]:
    """(current production, the version `rollback` would put back), or PromotionError.

    For previews (the console's confirmation, the command line naming its target
    before it asks): the same rule `rollback` applies.
    """
    _model_cfg(ws, model)
    return _rollback_target(ws.store.conn, model, to_version)


def rollback(
    ws: Workspace,
    model: str,
    actor: str,
    reason: str,
    to_version: int | None = None,
    expected_current: int | None = None,
) -> Outcome:
    """Put an earlier production version back (operator): the emergency path.

    By default the version production held before its last change, unless that
    change was itself a rollback (undoing it would put back what someone just took
    out; `to_version` says where to go then); with
    `to_version` any version that was in production before. The target is named
    when the rollback is asked for, against the production version then (or
    `expected_current`, the one the person saw when they chose): if production
    moved before it is applied it is refused ("production is no longer vN"), so
    ten people pressing rollback at once make one rollback, not ten. No approval unless
    `policy.rollback_requires_approval`, in which case a request is opened.
    """
    _check_actor(ws, actor, "rollback")
    reason = _reason(reason)
    _model_cfg(ws, model)
    if ws.config.policy.get("rollback_requires_approval"):
        with ws.store.write() as conn:
            current, target_no = _rollback_target(conn, model, to_version, expected_current)
            gate = Gate("rollback", True, f"v{target_no} was in production before")
            req = _open_request(
                conn, ws, model, target_no, PRODUCTION, actor, reason, [gate], kind="rollback"
            )
        return Outcome(
            True,
            f"request #{req.id}: rollback of {model} production v{current} → v{target_no} awaits approval",
            req,
        )
    # The target is named now, against the production version seen now (or the one the
    # person saw); if production moves before this gets the lock, it is refused.
    _settle(ws, model, PRODUCTION, actor)
    seen, planned = _rollback_target(ws.store.conn, model, to_version, expected_current)
    with _changing(ws, model, PRODUCTION, "rollback", actor, planned) as (conn, change):
        expected = seen if expected_current is None else expected_current
        current, target_no = _rollback_target(conn, model, planned, expected)
        target = registry.read_version(conn, model, target_no)
        if target is None:
            raise PromotionError(f"model {model} no longer has version {target_no}")
        _move(
            conn,
            change,
            ws,
            model,
            PRODUCTION,
            target,
            kind="rollback",
            actor=actor,
            reason=reason,
            request_id=None,
            details={},
        )
    hook = _call_hook(ws, model, PRODUCTION, target, "rollback", actor)
    msg = f"{model} rolled back: production v{current} → v{target_no}"
    return Outcome(True, msg + (f"; {hook}" if hook else ""), None, current, target_no, hook)
