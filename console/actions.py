"""The console's mutating actions, as the screens start them.

Promote, approve or reject, and roll back: plan in a thread, show the plan in the
confirm modal, act in a thread. Acknowledge asks for a note first. A run or a
cancellation is a request the scheduler picks up, with no modal. Every outcome, or
error, ends as a flash message through `Console.perform`.
"""

from __future__ import annotations

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
from lookout.scheduler import promotion
from lookout.storage import events, pipelines, scheduling
from lookout.storage.db import Store, now
from lookout.storage.records import Event


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


def promote(app: Console, model: str, version: int) -> None:
    _confirm_then(
        app,
        f"promote {model} v{version}",
        partial(plan_promote, model=model, version=version, ws=app.ws),
        lambda plan, answer: promotion.request_promotion(
            app.ws, plan.model, version, app.user, answer.reason, plan.alias
        ),
    )


def decide(app: Console, verb: str, request_id: int) -> None:
    """Approve or reject a pending promotion request."""

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


def rollback(app: Console, model: str) -> None:
    _confirm_then(
        app,
        f"roll back {model}",
        partial(plan_rollback, model=model),
        lambda plan, answer: promotion.rollback(
            app.ws, plan.model, app.user, answer.reason, to_version=plan.to_version
        ),
    )


def acknowledge(app: Console, event_id: int) -> None:
    def done(note: str | None) -> None:
        if note is not None:
            app.perform(
                f"acknowledge event {event_id}",
                lambda: _acked(events.acknowledge(app.ws.store, event_id, app.user, note)),
            )

    app.push_screen(
        NoteModal(f"Acknowledge event {event_id}: note (optional)", "what you did"), done
    )


def _acked(event: Event) -> Done:
    return Done(True, f"event {event.id} acknowledged by {event.acked_by}")


def trigger_run(app: Console, pipeline: str, retry_of: int | None = None) -> None:
    """Ask the scheduler for a run (it picks the request row up)."""
    args = {"retry_of": retry_of} if retry_of is not None else {}
    what = f"retry run {retry_of}" if retry_of else f"run {pipeline}"

    def submit() -> Done:
        req = scheduling.submit_request(app.ws.store, "run_pipeline", pipeline, app.user, args)
        note = "" if app.scheduler_alive() else " (no scheduler is running to pick it up)"
        return Done(True, f"{what}: request {req.id} queued{note}")

    app.perform(what, submit)


def cancel_run(app: Console, run_id: int) -> None:
    def cancel() -> Done:
        if pipelines.request_cancel(app.ws.store, run_id):
            return Done(True, f"run {run_id}: cancellation requested")
        return Done(False, f"run {run_id} already finished")

    app.perform(f"cancel run {run_id}", cancel)


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
