"""The console's mutating actions, as the screens start them.

Promote, approve or reject, and roll back: plan in a thread, show the plan in the
confirm modal, act in a thread. Acknowledge asks for a note first. A run or a
cancellation is a request the scheduler picks up, with no modal; for a pipeline an
outside system runs (Airflow) the action's thread waits for the scheduler's answer. Every
change goes through the one door, `Console.changes` (in-process for a personal workspace,
the daemon's socket for a shared one); every outcome, or error, ends as a flash message
through `Console.perform`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from lookout.console.messages import Failed
from lookout.console.modals.confirm import Confirmed, ConfirmModal
from lookout.console.modals.note import NoteModal
from lookout.console.plans import Plan, plan_promote, plan_request, plan_rollback
from lookout.console.protocol import Console
from lookout.scheduler.connectors import pipeline_source
from lookout.storage import mirror, scheduling
from lookout.storage.db import Store, now

OUTSIDE_WAIT = 45.0  # seconds to wait for an outside system's answer (timeout × 3 tries)


@dataclass(frozen=True)
class Done:
    """An outcome `perform` turns into a flash message (an error one when not ok)."""

    ok: bool
    message: str


def _confirm_then(
    app: Console,
    what: str,
    build: Callable[[Store], Plan],
    act: Callable[[Plan, Confirmed], Any],
) -> None:
    """Plan in a thread, then the confirm modal, which runs `act` and stays open if it is
    refused. Keys typed meanwhile wait for the modal (typeahead.py)."""

    def plan_in_thread() -> None:
        try:
            plan = build(app.ws.store)
        except Exception as exc:
            app.call_from_thread(app.release_keys)
            app.post_message(Failed(what, exc))
            return
        modal = ConfirmModal(plan, partial(act, plan), what)
        app.call_from_thread(app.push_screen, modal, lambda _: None)
        app.call_from_thread(app.release_keys)

    app.hold_keys()
    app.run_worker(plan_in_thread, thread=True, group="plan")


def promote(app: Console, model: str, version: int) -> None:
    _confirm_then(
        app,
        f"promote {model} v{version}",
        partial(plan_promote, model=model, version=version, ws=app.ws),
        lambda plan, answer: app.changes.perform(
            "promote", model=plan.model, version=version, reason=answer.reason, alias=plan.alias
        ),
    )


def decide(app: Console, verb: str, request_id: int) -> None:
    """Approve or reject a pending promotion request."""

    def act(plan: Plan, answer: Confirmed) -> Any:
        if verb == "approve":
            return app.changes.perform(
                "approve", request=request_id, reason=answer.reason, override=answer.override
            )
        return app.changes.perform("reject", request=request_id, reason=answer.reason)

    _confirm_then(
        app,
        f"{verb} request {request_id}",
        partial(plan_request, request_id=request_id, verb=verb),
        act,
    )


def rollback(app: Console, model: str) -> None:
    """Roll back to what the plan showed; refused if production moved while it was on screen."""
    _confirm_then(
        app,
        f"roll back {model}",
        partial(plan_rollback, model=model),
        lambda plan, answer: app.changes.perform(
            "rollback",
            model=plan.model,
            reason=answer.reason,
            to_version=plan.to_version,
            expected_current=plan.from_version,
        ),
    )


def acknowledge(app: Console, event_id: int) -> None:
    def done(note: str | None) -> None:
        if note is not None:
            app.perform(
                f"acknowledge event {event_id}",
                lambda: app.changes.perform("acknowledge", event=event_id, note=note),
            )

    app.push_screen(
        NoteModal(f"Acknowledge event {event_id}: note (optional)", "what you did"), done
    )


def _answer(app: Console, what: str, request_id: int) -> Done:
    """Wait (in the action's thread) for the scheduler's answer to a request an outside
    system acts on, so a refusal or an unreachable Airflow comes back as one line."""
    deadline = time.monotonic() + OUTSIDE_WAIT
    tick = threading.Event()
    while time.monotonic() < deadline:
        got = scheduling.get_request(app.ws.store, request_id)
        if got is not None and got.status in ("done", "failed"):
            return Done(got.status == "done", f"{what}: {got.result}")
        if not app.scheduler_alive():
            return Done(False, f"{what}: request {request_id} queued; no scheduler is running")
        tick.wait(0.2)
    return Done(True, f"{what}: request {request_id} sent; no answer yet")


def trigger_run(app: Console, pipeline: str, retry_of: int | None = None) -> None:
    """Ask the scheduler for a run (it picks the request up). For a pipeline an outside
    system runs, a retry clears the run's failed tasks, and the answer is waited for."""
    what = f"retry run {retry_of}" if retry_of else f"run {pipeline}"
    p = app.ws.config.pipelines.get(pipeline)
    outside = p is not None and pipeline_source(p["kind"]) is not None

    def submit() -> Any:
        asked = app.changes.perform("run", pipeline=pipeline, retry_of=retry_of)
        if not asked.ok:
            return asked
        if outside:
            return _answer(app, what, int(asked.data["request"]))
        note = "" if app.scheduler_alive() else " (no scheduler is running to pick it up)"
        return Done(True, f"{what}: request {asked.data['request']} queued{note}")

    app.perform(what, submit)


def cancel_run(app: Console, run_id: int) -> None:
    """Flag a local run for cancellation; a mirrored one is cancelled by the scheduler,
    whose answer is waited for."""
    what = f"cancel run {run_id}"

    def cancel() -> Any:
        asked = app.changes.perform("cancel", run=run_id)
        if asked.ok and mirror.key_of(app.ws.store, run_id) is not None:
            return _answer(app, what, int(asked.data["request"]))
        return asked

    app.perform(what, cancel)


def write_report(app: Console, hours: float = 12.0) -> None:
    """The hand-off report of the last `hours` as one HTML file in the current directory."""

    def write() -> Done:
        from lookout.scheduler import report, report_html

        t = now()
        path = Path.cwd() / f"lookout-report-{time.strftime('%Y%m%dT%H%MZ', time.gmtime(t))}.html"
        text = report_html.render(report.build(app.ws, t - hours * 3600, t))
        path.write_text(text, encoding="utf-8")
        return Done(True, f"hand-off report written to {path}")

    app.perform("write the hand-off report", write)
