"""`lookout run PIPELINE [--force] [--conf JSON] [--retry RUN | --cancel RUN] [--wait] [--json]`.

The request goes through the one door, so it needs the operator role. In a
personal workspace without a live scheduler, `--wait` does the work in this
process while holding the scheduler lease (like `airflow dags test`), so scripts
and CI work without a daemon: a local pipeline runs here; for one an outside
system runs (`kind = "airflow"`), this process asks Airflow and mirrors the run
until it ends. In a shared workspace the daemon does it and this waits. Exit 0
when the run succeeded, found nothing changed (`unchanged`: the data, pipeline config
and code of an existing version; `--force` trains anyway), was requested, or the
cancellation was done; 1 when it failed.

A retry of a local pipeline is a new run; of an Airflow one, the same DAG run
with its failed tasks cleared. Cancelling an Airflow run marks it failed.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from lookout.console.output import (
    UsageError,
    echo,
    perform,
    print_json,
    refusal,
    wait_request,
    workspace,
)
from lookout.scheduler import pipeline
from lookout.scheduler.config import ConfigError
from lookout.scheduler.connectors import PipelineSource, pipeline_source
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import pipelines, scheduling
from lookout.storage.db import now
from lookout.storage.records import RUN_ENDED, Request, Run, iso

SYNC_EVERY = 2.0  # seconds between mirror syncs while this process follows an Airflow run


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


def _holding(
    ws: Workspace, sched: Scheduler, work: Callable[[], tuple[Run | None, str]]
) -> tuple[Run | None, str]:
    """Do `work` under the lease this process took; a heartbeat thread keeps it alive."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(sched.heartbeat):
            scheduling.renew_lease(ws.store, sched.holder, sched.ttl)

    beater = threading.Thread(target=beat, name="lookout-run-heartbeat", daemon=True)
    beater.start()
    try:
        sched.prepare()
        return work()
    finally:
        done.set()
        sched.release()


def _in_process(ws: Workspace, sched: Scheduler, name: str, req: Request) -> tuple[Run | None, str]:
    """Run a local pipeline for the claimed request here."""
    forced = bool(req.args.get("force"))
    queued = pipeline.queue_run(ws, name, "manual", req.requested_by, forced)
    scheduling.finish_request(ws.store, req.id, True, f"run {queued.id}")
    try:
        return sched.runner.execute(queued.id), "the run did not start"
    except KeyboardInterrupt:
        sched.stop_event.set()
        pipelines.interrupt_running(ws.store, [queued.id])
        raise


def _handled_here(
    ws: Workspace, sched: Scheduler, source: PipelineSource | None, req: Request
) -> tuple[Run | None, str]:
    """Do any other claimed request as the scheduler would (a local retry runs to its end
    here); an outside system's run is then mirrored here until it ends."""
    sched.handle(req)
    done = scheduling.get_request(ws.store, req.id)
    assert done is not None
    if source is None or done.status == "failed" or req.kind == "cancel_run":
        return _run_of(ws, done)
    m = re.match(r"run (\d+)", done.result or "")
    if m is None:
        return None, done.result or "the scheduler refused the request"
    tick = threading.Event()
    while True:
        got = pipelines.get_run(ws.store, int(m.group(1)))
        if got is not None and got.status in RUN_ENDED:
            return got, ""
        tick.wait(SYNC_EVERY)
        source.sync(ws)


def _wait_here(
    ws: Workspace, name: str, req_id: int, source: PipelineSource | None
) -> tuple[Run | None, str]:
    """Wait for the request's outcome, and its run's end (a personal workspace).

    While the request is still queued and no live scheduler holds the lease
    (none was running, or it died), this process takes the lease and does it.
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
                local_run = (
                    source is None
                    and current.kind == "run_pipeline"
                    and "retry_of" not in current.args
                )
                if local_run:
                    return _holding(ws, sched, partial(_in_process, ws, sched, name, current))
                return _holding(ws, sched, partial(_handled_here, ws, sched, source, current))
            if won:
                sched.release()
        tick.wait(0.1)
    return _run_of(ws, current)


def _wait_daemon(ws: Workspace, req_id: int) -> tuple[Run | None, str]:
    """Wait for the daemon of a shared workspace to take the request and end its run."""
    return _run_of(ws, wait_request(ws, req_id))


def _run_of(ws: Workspace, req: Request) -> tuple[Run | None, str]:
    m = re.match(r"run (\d+)", req.result or "")
    if req.status == "failed" or m is None or req.kind == "cancel_run":
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


def _conf(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--conf: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError("--conf: expected a JSON object, like '{\"hold\": 60}'")
    return value


def _run(ws: Workspace, args: argparse.Namespace) -> int:
    name = args.pipeline
    if args.retry is not None and args.cancel is not None:
        raise UsageError("--retry and --cancel: give one")
    cfg = ws.config.pipelines.get(name)
    source = pipeline_source(cfg["kind"]) if cfg is not None else None
    if args.cancel is not None:
        return _cancel(ws, args, source)
    asked = perform(
        ws, "run", pipeline=name, retry_of=args.retry, conf=_conf(args.conf), force=args.force
    )
    if not asked.ok:
        refusal(asked)
    req_id = int(asked.data["request"])
    what = f"retry of run {args.retry} of {name}" if args.retry is not None else f"run of {name}"
    if not args.wait:
        lease = scheduling.get_lease(ws.store)
        message = f"requested a {what} (request {req_id})"
        if lease is None or not lease.alive(now()):
            message += "; no scheduler is running: start `lookout scheduler` or use --wait"
        return _report(args, True, message, None, req_id)
    result, refused = (
        _wait_daemon(ws, req_id) if ws.shared else _wait_here(ws, name, req_id, source)
    )
    if result is None:
        return _report(args, False, f"{what} not started: {refused}", None, req_id)
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


def _cancel(ws: Workspace, args: argparse.Namespace, source: PipelineSource | None) -> int:
    """Cancel a run: at once for a local one; a mirrored one is cancelled by the scheduler,
    whose answer `--wait` waits for."""
    found = pipelines.get_run(ws.store, args.cancel)
    if found is None or found.pipeline != args.pipeline:
        raise UsageError(f"--cancel: {args.pipeline} has no run {args.cancel}")
    asked = perform(ws, "cancel", run=args.cancel)
    if not asked.ok:
        return refusal(asked)
    req_id = asked.data.get("request")
    if req_id is None or not args.wait:
        return _report(args, True, asked.message, None, int(req_id or 0))
    if ws.shared:
        answer = wait_request(ws, int(req_id))
        ok, said = answer.status == "done", answer.result or ""
    else:
        _wait_here(ws, args.pipeline, int(req_id), source)
        done = scheduling.get_request(ws.store, int(req_id))
        ok, said = done is not None and done.status == "done", (done.result if done else "") or ""
    run = pipelines.get_run(ws.store, args.cancel)
    return _report(args, ok, f"cancel run {args.cancel}: {said}", run, int(req_id))


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
        echo(message)
        for s in result.stages if result is not None else ():
            secs = f"{s.seconds:.2f}s" if s.seconds is not None else ""
            err = f"  {s.error}" if s.error else ""
            echo(f"  {s.name:<12} {s.status:<11} {secs:>8}{err}")
    return 0 if ok else 1
