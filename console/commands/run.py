"""`lookout run PIPELINE [--wait] [--json]`: ask for a pipeline run, or run it here and wait.

The request goes through the one door, so it needs the operator role. In a
personal workspace without a live scheduler, `--wait` runs the pipeline in this
process while holding the scheduler lease (like `airflow dags test`), so scripts
and CI work without a daemon; in a shared one the daemon runs it and this waits.
Exit 0 when the run succeeded, found nothing changed (`unchanged`: the data, pipeline
config and code of an existing version; `--force` trains anyway) or was requested, 1 when
it failed.
"""

from __future__ import annotations

import argparse
import re
import threading
from typing import Any

from lookout.console.output import (
    UsageError,
    perform,
    print_json,
    refusal,
    wait_request,
    workspace,
)
from lookout.scheduler import pipeline
from lookout.scheduler.config import ConfigError
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import pipelines, scheduling
from lookout.storage.db import now
from lookout.storage.records import RUN_ENDED, Request, Run, iso
from lookout.storage.text import sanitize


def run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "status": run.status,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "error": run.error,
        "stages": [
            {
                "name": s.name,
                "status": s.status,
                "seconds": s.seconds,
                "error": s.error,
                "metrics": s.metrics,
            }
            for s in run.stages
        ],
    }


def _in_process(ws: Workspace, sched: Scheduler, name: str, request: Request) -> Run | None:
    """Run the claimed request here under the lease; a heartbeat thread keeps the lease alive."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(sched.heartbeat):
            scheduling.renew_lease(ws.store, sched.holder, sched.ttl)

    beater = threading.Thread(target=beat, name="lookout-run-heartbeat", daemon=True)
    beater.start()
    try:
        sched.prepare()
        forced = bool(request.args.get("force"))
        queued = pipeline.queue_run(ws, name, "manual", request.requested_by, forced)
        scheduling.finish_request(ws.store, request.id, True, f"run {queued.id}")
        try:
            return sched.runner.execute(queued.id)
        except KeyboardInterrupt:
            sched.stop_event.set()
            pipelines.interrupt_running(ws.store, [queued.id])
            raise
    finally:
        done.set()
        sched.release()


def _wait_here(ws: Workspace, name: str, req_id: int) -> tuple[Run | None, str]:
    """Wait for the request's run to end (a personal workspace).

    While the request is still queued and no live scheduler holds the lease
    (none was running, or it died), this process takes the lease and runs it.
    """
    try:
        sched = Scheduler(ws)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    tick = threading.Event()
    next_try = 0.0
    while True:
        current = scheduling.get_request(ws.store, req_id)
        assert current is not None
        if current.status in ("done", "failed"):
            break
        if current.status == "queued" and now() >= next_try:
            next_try = now() + 1.0
            won, _ = sched.acquire()
            if won and scheduling.claim_request(ws.store, req_id):
                return _in_process(ws, sched, name, current), "the run did not start"
            if won:
                sched.release()
        tick.wait(0.1)
    return _run_of(ws, current)


def _wait_daemon(ws: Workspace, req_id: int) -> tuple[Run | None, str]:
    """Wait for the daemon of a shared workspace to take the request and end its run."""
    return _run_of(ws, wait_request(ws, req_id))


def _run_of(ws: Workspace, req: Request) -> tuple[Run | None, str]:
    m = re.match(r"run (\d+)", req.result or "")
    if req.status == "failed" or m is None:
        return None, req.result or "the scheduler refused the request"
    run_id = int(m.group(1))
    tick = threading.Event()
    while True:
        got = pipelines.get_run(ws.store, run_id)
        if got is not None and got.status in RUN_ENDED:
            return got, ""
        lease = scheduling.get_lease(ws.store)
        if lease is None or not lease.alive(now()):
            state = got.status if got is not None else "queued"
            return None, f"the scheduler stopped while run {run_id} was {state}"
        tick.wait(0.2)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, changing=True)
    try:
        return _run(ws, args)
    finally:
        ws.close()


def _run(ws: Workspace, args: argparse.Namespace) -> int:
    name = args.pipeline
    asked = perform(ws, "run", pipeline=name, force=args.force)
    if not asked.ok:
        return refusal(asked)
    req_id = int(asked.data["request"])
    if not args.wait:
        lease = scheduling.get_lease(ws.store)
        message = f"requested a run of {name} (request {req_id})"
        if lease is None or not lease.alive(now()):
            message += "; no scheduler is running: start `lookout scheduler` or use --wait"
        return _report(args, True, message, None, req_id)
    result, refused = _wait_daemon(ws, req_id) if ws.shared else _wait_here(ws, name, req_id)
    if result is None:
        return _report(args, False, f"run of {name} not started: {refused}", None, req_id)
    ok = result.status in ("succeeded", "unchanged")
    took = (
        f" in {result.ended_at - result.started_at:.1f}s"
        if result.ended_at and result.started_at
        else ""
    )
    message = f"run {result.id} of {name} {result.status}{took}"
    if not ok and result.error:
        message += f": {result.error}"
    same = next(
        (s.metrics["same_as_version"] for s in result.stages if "same_as_version" in s.metrics),
        None,
    )
    if result.status == "unchanged" and same is not None:
        message += (
            f": same data, config and code as v{same}; nothing registered (--force trains anyway)"
        )
    return _report(args, ok, message, result, req_id)


def _report(
    args: argparse.Namespace, ok: bool, message: str, result: Run | None, req_id: int
) -> int:
    if args.json:
        print_json(
            {
                "ok": ok,
                "message": message,
                "run": None if result is None else run_json(result),
                "request": {"id": req_id},
            }
        )
    else:
        print(sanitize(message, single_line=True))
        for s in result.stages if result is not None else ():
            secs = f"{s.seconds:.2f}s" if s.seconds is not None else ""
            err = f"  {s.error}" if s.error else ""
            print(sanitize(f"  {s.name:<12} {s.status:<11} {secs:>8}{err}", single_line=False))
    return 0 if ok else 1
