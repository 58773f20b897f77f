"""The scheduler service: one lease holder runs pipelines, checks, drift and connector jobs.

Jobs are rebuilt from the config at every start into APScheduler's memory job
store (never shared between processes). When each job fires next is kept in
the store (`schedule_state`), so a restart applies the misfire policy to
slots missed while no scheduler ran:

- coalesce: however many slots were missed, the job runs once;
- grace: it runs only if the latest missed slot is at most
  `[scheduler] misfire_grace` old (default 5 minutes), otherwise it waits
  for its next slot.

A job that never ran starts at once when its schedule is an interval and at
its first slot when it is a cron expression. Requests from consoles are
polled every `[scheduler] poll` (at most 1 s); every execution is written to
the job-run ledger before it starts.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import glob
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from lookout.scheduler import calls, drift_job, metrics, pipeline, reconcile, schedules
from lookout.scheduler.artifacts import remove_orphaned_artifacts
from lookout.scheduler.checks import engine as checks
from lookout.scheduler.connectors import (
    CONNECTORS,
    Connector,
    PipelineSource,
    model_source,
    pipeline_source,
    webhooks,
)
from lookout.scheduler.connectors.base import ConnectorError
from lookout.scheduler.retention import run_retention
from lookout.scheduler.workspace import Workspace, record_config
from lookout.storage import events, mirror, pipelines, scheduling
from lookout.storage.db import now
from lookout.storage.identity import current_user
from lookout.storage.records import Lease, Request

log = logging.getLogger("lookout.scheduler")
FILE_SCAN = 2.0  # seconds between looks at trigger globs
WEBHOOK_EVERY = 5.0
STOP_TIMEOUT = 10.0
LEDGER_KEEP = 7 * 86400  # finished job-run entries older than this are pruned (hourly)
RECONCILE_EVERY = 1.0  # seconds between comparisons of what serves with the store
DISK_EVERY = 10.0  # seconds between looks at the free disk space


def _at(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def first_fire(trigger: BaseTrigger, stored: float | None, t: float) -> dt.datetime | None:
    """When a job fires first after a start: as stored, else now (interval) or its next slot.

    A stored time later than the schedule's own next slot comes from a longer
    schedule the config no longer has; the new schedule wins.
    """
    natural = trigger.get_next_fire_time(None, _at(t))
    if stored is not None:
        kept = _at(stored)
        return kept if natural is None or kept <= natural else natural
    if isinstance(trigger, IntervalTrigger):
        return _at(t)
    return natural


def due(
    trigger: BaseTrigger, first: dt.datetime | None, t: float, grace: float
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(slot to run now or None, next slot after now): coalesce, then the grace period.

    The same rule APScheduler applies with `coalesce=True` and
    `misfire_grace_time=grace`, for `--once` where no scheduler loop runs.
    """
    current = _at(t)
    slots: list[dt.datetime] = []
    nxt = first
    while nxt is not None and nxt <= current:
        slots.append(nxt)
        nxt = trigger.get_next_fire_time(nxt, current)
    if not slots:
        return None, nxt
    latest = slots[-1]
    return (latest if (current - latest).total_seconds() <= grace else None), nxt


def sync_connector(ws: Workspace, connector: Connector) -> None:
    """One sync of a connector; a failed one raises so the ledger records it as failed.

    Its error is the connector's own line. Anything it did not expect is named by kind only
    (`calls.failure`): the ledger and the log are read by many, and an HTTP client's
    exception can quote a credential it was sending."""
    try:
        report = connector.sync(ws)
    except Exception as exc:
        raise RuntimeError(f"{connector.title} sync failed: {calls.failure(exc)}") from None
    if not report.ok:
        raise RuntimeError(report.error or f"{connector.title} sync failed")


def io_error(exc: BaseException) -> str:
    """A store or file failure (a full disk, above all) as one line for the log."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


@dataclass(frozen=True)
class Job:
    id: str  # pipeline:NAME | checks:DATASET | drift:MODEL | a connector's name | webhooks
    trigger: BaseTrigger
    action: Callable[[float], None]  # gets the scheduled time


class _SlotExecutor(ThreadPoolExecutor):
    """Remembers each submission's scheduled time so the job can key its ledger entry on it.

    APScheduler 3 does not pass the scheduled time to the job function; with
    `max_instances=1` one slot per job is in flight, so a dict by job id suffices.
    """

    def __init__(self, slots: dict[str, float], max_workers: int = 8):
        super().__init__(max_workers)
        self.slots = slots

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> Any:
        self.slots[job.id] = run_times[-1].timestamp()
        return super()._do_submit_job(job, run_times)


class Scheduler:
    """The service for one workspace: `start()` in a thread, `serve()` in the foreground,
    or `run_once()` for what is due or queued."""

    def __init__(self, ws: Workspace, holder: str | None = None):
        self.ws = ws
        self.store = ws.store
        cfg = ws.config.scheduler
        self.ttl = float(cfg["lease"])
        self.heartbeat = min(float(cfg["heartbeat"]), self.ttl / 2)
        self.poll = min(float(cfg["poll"]), 1.0)
        self.grace = float(cfg["misfire_grace"])
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = holder or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self.runner = pipeline.Runner(ws, self.holder, self.stop_event)
        self.reconciler = reconcile.Reconciler(ws, "scheduler")
        self.min_free = int(cfg.get("min_free", 0))
        self.missed: list[str] = []  # jobs whose slot was skipped by the grace period
        self.lease: Lease | None = None
        self._slots: dict[str, float] = {}
        self._aps: BackgroundScheduler | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop_thread: threading.Thread | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._files: dict[str, dict[str, tuple[int, int]]] = {}
        self._active: set[concurrent.futures.Future[Any]] = set()
        self._holding = False
        self._begun = False
        self._metrics: metrics.MetricsServer | None = None
        self.jobs = self._build_jobs()

    # -- the lease ------------------------------------------------------------------

    def acquire(self) -> tuple[bool, Lease]:
        """Take the lease; a holder on this host whose process is gone is taken over at once."""
        won, lease = scheduling.acquire_lease(
            self.store, self.holder, self.host, self.pid, self.ttl
        )
        if not won and not lease.alive(now()):  # its process is gone from this host
            scheduling.expire_lease(self.store, lease.holder)
            won, lease = scheduling.acquire_lease(
                self.store, self.holder, self.host, self.pid, self.ttl
            )
        self.lease = lease
        self._holding = won
        return won, lease

    def release(self) -> None:
        """Give the lease up; if the store cannot take even that (a full disk), the lease
        still ends when this process does (see `Lease.alive`)."""
        if self._holding:
            self._holding = False
            try:
                scheduling.release_lease(self.store, self.holder)
            except (sqlite3.Error, OSError) as exc:
                log.warning("could not release the lease: %s", io_error(exc))

    # -- starting and stopping ------------------------------------------------------------

    def start(self) -> bool:
        """Run in background threads; False (and nothing started) if a live scheduler holds the lease."""
        won, _ = self.acquire()
        if not won:
            return False
        self.prepare()
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="lookout-run")
        aps = BackgroundScheduler(
            executors={"default": _SlotExecutor(self._slots)},
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": max(int(self.grace), 1),
                "max_instances": 1,
            },
            timezone=dt.UTC,
        )
        stored = scheduling.next_runs(self.store)
        t = now()
        for job in self.jobs:
            first = first_fire(job.trigger, stored.get(job.id), t)
            aps.add_job(
                self._fire,
                job.trigger,
                args=[job.id],
                id=job.id,
                name=job.id,
                next_run_time=first,
            )
            self._persist_next(job.id, first)
        aps.add_listener(
            self._on_job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        self._aps = aps
        aps.start()
        self._dispatch_queued()
        self._loop_thread = threading.Thread(
            target=self._loop, name="lookout-scheduler", daemon=True
        )
        self._loop_thread.start()
        self._metrics = metrics.serve(self.ws)
        log.info("scheduler %s started with %d jobs", self.holder, len(self.jobs))
        return True

    def serve(self) -> None:
        """Block until `stop()` (e.g. from a signal handler), then stop cleanly."""
        while not self.stop_event.wait(0.5):
            pass
        self.stop()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop timers, let running stages reach a boundary, re-queue what could not finish."""
        self.stop_event.set()
        if self._metrics is not None:
            self._metrics.stop()
            self._metrics = None
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        if self._loop_thread is not None and self._loop_thread is not threading.current_thread():
            self._loop_thread.join(timeout)
        if self._pool is not None:
            done = concurrent.futures.wait(list(self._active), timeout=timeout)
            if done.not_done:
                self._requeue_own()
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.release()

    def abandon(self) -> None:
        """Stop at once, waiting for nothing (the console's terminal hung up): running
        stages are abandoned, their runs marked interrupted and queued again, the lease
        given up. The caller exits the process right after."""
        self.stop_event.set()
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        try:
            self._requeue_own("the console running it went away")
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not mark abandoned runs: %s", io_error(exc))
        self.release()

    def _requeue_own(self, reason: str = "the scheduler stopped") -> None:
        """Runs of ours still going when we must exit: interrupted now and queued again."""
        for jr in scheduling.list_job_runs(self.store, limit=200):
            if jr.status != "running" or jr.lease_holder != self.holder:
                continue
            self._recover_job_run(jr.id, jr.job, reason)

    def run_once(self) -> bool:
        """Do what is due or queued, in this thread, then return; False if the lease is held."""
        own = not self._holding
        if own:
            won, _ = self.acquire()
            if not won:
                return False
        try:
            self.prepare()
            self._take_requests()
            stored = scheduling.next_runs(self.store)
            t = now()
            for job in self.jobs:
                before = stored.get(job.id)
                slot, nxt = due(job.trigger, first_fire(job.trigger, before, t), t, self.grace)
                if slot is None and before is not None and before <= t:
                    self.missed.append(job.id)
                    log.warning("job %s missed its slot by more than the grace period", job.id)
                self._persist_next(job.id, nxt)
                if slot is not None:
                    job.action(slot.timestamp())
            self._dispatch_queued()
            self.runner.settle()
            self.reconcile()
        finally:
            if own:
                self.release()
        return True

    # -- recovery ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Once per lease: record the config in the audit, recover a dead holder's work and
        publish the configured pipelines."""
        if self._begun:
            return
        self._begun = True
        record_config(self.ws, current_user())
        self.recover()
        self.reconcile()
        self._remove_orphans()
        stored = scheduling.next_runs(self.store)
        for name, p in self.ws.config.pipelines.items():
            pipelines.upsert_pipeline(
                self.store,
                name,
                p["kind"],
                p["model"],
                p["dataset"],
                p,
                stored.get(f"pipeline:{name}") if p["schedule"] else None,
            )
        for name, p in self.ws.config.pipelines.items():
            if p["triggers"]["files"]:
                self._files[name] = self._stat_files(p["triggers"]["files"])

    def recover(self) -> None:
        """Executions a dead holder left `running` become `interrupted`; pipeline runs re-queue."""
        for jr in scheduling.orphaned_job_runs(self.store, self.holder):
            self._recover_job_run(jr.id, jr.job, f"scheduler {jr.lease_holder} died")
        scheduling.requeue_taken_requests(self.store)

    def reconcile(self) -> None:
        """Make what serves match the store (`lookout.scheduler.reconcile`); a repair or
        a disagreement it cannot repair is logged, and on the timeline and in the audit."""
        for finding in self.reconciler.run():
            if finding.repaired:
                log.warning("repaired: %s", finding.problem)
            else:
                log.error("cannot repair: %s", finding.problem)

    def _remove_orphans(self) -> None:
        for path in remove_orphaned_artifacts(self.ws):
            log.info("removed %s: no version refers to it and its run has ended", path)

    def check_disk(self) -> None:
        """A warning event while the store's or the artifacts' disk has less free space
        than `[scheduler] min_free`, resolved when there is enough again."""
        if self.min_free <= 0:
            return
        seen: set[int] = set()
        for path in (self.store.path.parent, self.ws.config.artifacts):
            try:
                device = os.stat(path).st_dev
                free = shutil.disk_usage(path).free
            except OSError:
                continue
            if device in seen:
                continue
            seen.add(device)
            key = f"disk:{path}"
            with self.store.write() as conn:
                if free < self.min_free:
                    events.raise_event(
                        conn,
                        "disk_space",
                        str(path),
                        f"only {_megabytes(free)} free on the disk of {path} (below"
                        f" {_megabytes(self.min_free)}): writes fail when it is full",
                        "warn",
                        dedup_key=key,
                    )
                elif events.open_event(conn, key) is not None:
                    events.resolve(conn, key)

    def _recover_job_run(self, job_run_id: int, job: str, reason: str) -> None:
        with self.store.write() as conn:
            runs = [
                r
                for r in pipelines.runs_of_job_runs(self.store, [job_run_id])
                if r.status == "running"
            ]
            if runs:
                scheduling.finish_job_run(self.store, job_run_id, "requeued", reason)
                for run in runs:
                    pipeline.interrupt_and_requeue(self.ws, run, reason)
            else:
                scheduling.finish_job_run(self.store, job_run_id, "interrupted", reason)
                events.raise_event(
                    conn, "interrupted", job, f"{job} interrupted ({reason})", "warn"
                )

    # -- jobs ----------------------------------------------------------------------------

    def _build_jobs(self) -> list[Job]:
        """Every scheduled job the config asks for (its schedules parsed when it loaded)."""
        cfg = self.ws.config
        tz = schedules.timezone(cfg.scheduler["timezone"])

        def make_trigger(schedule: str) -> BaseTrigger:
            return schedules.trigger(schedule, tz)  # parsed when the config loaded

        jobs: list[Job] = []
        for name, p in cfg.pipelines.items():
            if p["schedule"]:
                jobs.append(
                    Job(
                        f"pipeline:{name}",
                        make_trigger(p["schedule"]),
                        self._scheduled_run(name),
                    )
                )
        for name, d in cfg.datasets.items():
            if d["check_schedule"]:
                jobs.append(
                    Job(
                        f"checks:{name}",
                        make_trigger(d["check_schedule"]),
                        self._ledgered_job(f"checks:{name}", checks.run_dataset, name),
                    )
                )
        for name, m in cfg.models.items():
            # a connector's models are watched where their versions live
            if model_source(m["source"]) is None and m["drift"]["schedule"]:
                jobs.append(
                    Job(
                        f"drift:{name}",
                        make_trigger(m["drift"]["schedule"]),
                        self._ledgered_job(f"drift:{name}", drift_job.run_drift, name),
                    )
                )
        for connector in CONNECTORS.values():
            if connector.enabled(self.ws):
                jobs.append(
                    Job(
                        connector.name,
                        IntervalTrigger(seconds=connector.interval(self.ws), timezone=dt.UTC),
                        self._ledgered_job(connector.name, sync_connector, connector),
                    )
                )
        jobs.append(
            Job(
                "retention",
                IntervalTrigger(seconds=cfg.retention["interval"], timezone=dt.UTC),
                self._ledgered_job("retention", run_retention),
            )
        )
        if cfg.notifications:
            jobs.append(
                Job(
                    "webhooks",
                    IntervalTrigger(seconds=WEBHOOK_EVERY, timezone=dt.UTC),
                    self._ledgered_job("webhooks", webhooks.deliver_pending),
                )
            )
        return jobs

    def _scheduled_run(self, name: str) -> Callable[[float], None]:
        def action(slot: float) -> None:
            waiting = pipelines.runs_with_status(self.store, "queued")
            if any(r.pipeline == name and r.trigger == "schedule" for r in waiting):
                log.info("%s: a scheduled run is still queued; not queueing another", name)
                return
            run = pipeline.queue_run(self.ws, name, "schedule", "scheduler")
            self._dispatch(run.id, slot)

        return action

    def _ledgered_job(
        self, job: str, fn: Callable[..., Any], *args: Any
    ) -> Callable[[float], None]:
        """A job that calls `fn(ws, *args)` once per slot, through the ledger."""

        def action(slot: float) -> None:
            self._ledgered(job, slot, lambda: fn(self.ws, *args))

        return action

    def _ledgered(self, job: str, slot: float, work: Callable[[], Any]) -> bool:
        """Write the execution, do the work, write its outcome; False if this slot already ran."""
        entry = scheduling.start_job_run(self.store, job, slot, self.holder)
        if entry is None:
            return False
        try:
            work()
        except Exception as exc:
            error = pipeline.one_line(exc)
            log.warning("%s failed: %s", job, error)
            scheduling.finish_job_run(self.store, entry.id, "failed", error)
            return True
        scheduling.finish_job_run(self.store, entry.id, "succeeded")
        return True

    def _fire(self, job_id: str) -> None:
        """APScheduler calls this for a due slot."""
        slot = self._slots.pop(job_id, now())
        job = next((j for j in self.jobs if j.id == job_id), None)
        if job is None or self.stop_event.is_set():
            return
        try:
            job.action(slot)
        except (sqlite3.Error, OSError) as exc:
            log.warning("job %s could not start: %s", job_id, io_error(exc))
        except Exception:
            log.exception("job %s failed to start", job_id)

    def _on_job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            self.missed.append(event.job_id)
            log.warning("job %s missed its slot by more than the grace period", event.job_id)
        aps = self._aps
        job = aps.get_job(event.job_id) if aps is not None else None
        if job is not None:
            try:
                self._persist_next(event.job_id, job.next_run_time)
            except (sqlite3.Error, OSError) as exc:  # the next start re-reads the schedule
                log.warning("could not record when %s runs next: %s", event.job_id, io_error(exc))

    def _persist_next(self, job_id: str, when: dt.datetime | None) -> None:
        ts = None if when is None else when.timestamp()
        scheduling.set_next_run(self.store, job_id, ts)
        if job_id.startswith("pipeline:"):
            pipelines.set_next_run(self.store, job_id.split(":", 1)[1], ts)

    # -- runs ----------------------------------------------------------------------------

    def _dispatch(self, run_id: int, slot: float | None = None) -> None:
        """Execute a queued run: on the run pool in the service, right here in `run_once`."""
        if self._pool is None:
            self._execute(run_id, slot)
            return
        if self.stop_event.is_set():
            return
        future = self._pool.submit(self._execute, run_id, slot)
        self._active.add(future)
        future.add_done_callback(self._active.discard)

    def _dispatch_queued(self) -> None:
        for run in pipelines.runs_with_status(self.store, "queued"):
            self._dispatch(run.id)

    def _execute(self, run_id: int, slot: float | None) -> None:
        run = pipelines.get_run(self.store, run_id)
        if run is None:
            return
        lock = self._locks.setdefault(run.pipeline, threading.Lock())
        with lock:  # one run of a pipeline at a time; the next stays queued
            try:
                self.runner.execute(run_id, slot)
            except (sqlite3.Error, OSError) as exc:
                log.warning("run %d: %s; marked failed when the store takes writes", run_id, exc)
            except Exception:
                log.exception("run %d crashed", run_id)

    # -- the polling loop: heartbeat, requests, file triggers -------------------------------

    def _loop(self) -> None:
        """Heartbeat, requests, file triggers, reconcile, disk space and housekeeping.

        Each chore keeps its own clock and runs on its own, so one the store refuses
        (a full disk) is retried on a later pass without holding up the others.
        """
        seen = -1
        due: dict[str, float] = {}

        def chore(name: str, every: float, work: Callable[[], Any]) -> None:
            t = time.monotonic()
            if t < due.get(name, 0.0):
                return
            due[name] = t + every
            try:
                work()
            except (sqlite3.Error, OSError) as exc:
                due[name] = t + min(every, 5.0)
                log.warning("%s failed: %s; trying again later", name, io_error(exc))
            except Exception:
                log.exception("scheduler loop error in %s", name)

        while not self.stop_event.wait(self.poll):
            t = time.monotonic()
            if t >= due.get("heartbeat", 0.0):
                due["heartbeat"] = t + self.heartbeat
                try:
                    renewed = scheduling.renew_lease(self.store, self.holder, self.ttl)
                except (sqlite3.Error, OSError) as exc:
                    log.warning("heartbeat failed: %s; trying again", io_error(exc))
                    due["heartbeat"] = t + min(self.heartbeat, 1.0)
                    renewed = True
                if not renewed:
                    log.error("lost the scheduler lease; stopping")
                    self._holding = False
                    self.stop_event.set()
                    if self._aps is not None:
                        self._aps.shutdown(wait=False)
                    return

            def requests() -> None:
                nonlocal seen
                version = self.store.data_version()
                if version != seen:
                    self._take_requests()
                    seen = version

            chore("requests", 0.0, requests)
            chore("file triggers", FILE_SCAN, self._scan_files)
            chore("marking failed runs", 0.0, self.runner.settle)
            chore("reconcile", RECONCILE_EVERY, self.reconcile)
            chore("disk space", DISK_EVERY, self.check_disk)
            chore("ledger pruning", 3600, self._prune)

    def _prune(self) -> None:
        scheduling.prune_job_runs(self.store, now() - LEDGER_KEEP)
        self._remove_orphans()

    def _take_requests(self) -> None:
        for req in scheduling.take_requests(self.store):
            self.handle(req)

    def handle(self, req: Request) -> None:
        """Act on a request this process has taken (its outcome is written when the work ends).

        In the service, long work goes to the run pool; without one (`run_once`, a
        command running its own request) it is done here before this returns.
        """
        try:
            outcome = self._handle(req)
        except Exception as exc:
            outcome = (False, pipeline.one_line(exc))
        if outcome is not None:
            scheduling.finish_request(self.store, req.id, *outcome)

    def _handle(self, req: Request) -> tuple[bool, str] | None:
        """Act on a request; None when its work continues elsewhere and finishes it there.

        Request rows come from the door (`lookout.scheduler.door`), which has already
        checked the asker's role and recorded who asked, or from the drift job; a run
        keeps that asker as its `triggered_by`, so four-eyes can follow them.
        """
        cfg = self.ws.config
        if req.kind == "run_pipeline":
            p = cfg.pipelines.get(req.target)
            if p is None:
                return False, f"no pipeline named {req.target}"
            # A console's "retry run N" is a new manual run, recorded as a retry.
            trigger = str(req.args.get("trigger", "retry" if "retry_of" in req.args else "manual"))
            switch = "manual" if trigger == "retry" else trigger
            if switch in ("manual", "drift") and not p["triggers"][switch]:
                return False, f"{trigger} runs of {req.target} are turned off"
            source = pipeline_source(p["kind"])
            if source is not None:
                drive = partial(self._drive, source, req, trigger)
                self._spawn(lambda: self._finish(req, drive))
                return None
            forced = bool(req.args.get("force"))
            run = pipeline.queue_run(self.ws, req.target, trigger, req.requested_by, forced)
            self._dispatch(run.id)
            return True, f"run {run.id}"
        if req.kind in ("cancel_run", "fetch_log"):
            try:
                run_id = int(req.target)
            except ValueError:
                return False, f"not a run id: {req.target}"
            where = mirror.key_of(self.store, run_id)
            source = pipeline_source(where.source) if where is not None else None
            if source is not None:
                drive_run = partial(self._drive_run, source, req, run_id)
                self._spawn(lambda: self._finish(req, drive_run))
                return None
            if req.kind == "fetch_log":
                return False, f"run {run_id} is not mirrored from an outside system"
            if self.runner.cancel(run_id, req.requested_by):
                return True, f"run {run_id} cancelling"
            return False, f"run {run_id} is not queued or running"
        if req.kind in ("run_checks", "run_drift"):
            known = cfg.datasets if req.kind == "run_checks" else cfg.models
            if req.target not in known:
                return (
                    False,
                    f"no {'dataset' if req.kind == 'run_checks' else 'model'} named {req.target}",
                )
            fn, job = (
                (checks.run_dataset, f"checks:{req.target}")
                if req.kind == "run_checks"
                else (drift_job.run_drift, f"drift:{req.target}")
            )
            self._spawn(lambda: self._request_work(req, job, fn))
            return None
        return False, f"unknown request kind {req.kind}"

    def _finish(self, req: Request, act: Callable[[], str]) -> None:
        """Do a request's work here (a pool thread) and record its one-line outcome."""
        try:
            outcome = (True, act())
        except Exception as exc:
            plain = isinstance(exc, ConnectorError | LookupError)  # already one line for people
            outcome = (False, str(exc) if plain else pipeline.one_line(exc))
        scheduling.finish_request(self.store, req.id, *outcome)

    def _drive(self, source: PipelineSource, req: Request, trigger: str) -> str:
        """Start a run of a pipeline an outside system runs, or run a failed one's failed steps."""
        retry_of = req.args.get("retry_of")
        if retry_of is not None:
            run = pipelines.get_run(self.store, int(retry_of))
            if run is None or run.pipeline != req.target:
                raise LookupError(f"{req.target} has no run {retry_of}")
            source.clear_failed(self.ws, run, req.requested_by)
            return f"run {run.id}: failed tasks cleared"
        conf = req.args.get("conf")
        drift = req.args.get("drift")
        run = source.trigger(
            self.ws,
            req.target,
            req.requested_by,
            trigger,
            conf if isinstance(conf, dict) else None,
            drift if isinstance(drift, dict) else None,
        )
        return f"run {run.id}"

    def _drive_run(self, source: PipelineSource, req: Request, run_id: int) -> str:
        """Cancel a mirrored run, or fetch one of its stages' log."""
        run = pipelines.get_run(self.store, run_id)
        if run is None:
            raise LookupError(f"no run {run_id}")
        if req.kind == "fetch_log":
            source.fetch_log(self.ws, run, str(req.args.get("stage", "")))
            return f"run {run_id}: log fetched"
        if run.status not in ("queued", "running"):
            raise LookupError(f"run {run_id} is not queued or running")
        source.mark_failed(self.ws, run, req.requested_by)
        return f"run {run_id} cancelled"

    def _request_work(self, req: Request, job: str, fn: Callable[..., Any]) -> None:
        outcome: list[tuple[bool, str]] = []

        def work() -> None:
            try:
                fn(self.ws, req.target)
            except Exception as exc:
                outcome.append((False, pipeline.one_line(exc)))
                raise
            outcome.append((True, "done"))

        self._ledgered(f"{job}#request{req.id}", req.at, work)
        scheduling.finish_request(
            self.store, req.id, *(outcome[0] if outcome else (False, "already ran"))
        )

    def _spawn(self, work: Callable[[], None]) -> None:
        if self._pool is None:
            work()
            return
        future = self._pool.submit(work)
        self._active.add(future)
        future.add_done_callback(self._active.discard)

    def _stat_files(self, pattern: str) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for p in glob.glob(str(self.ws.config.resolve(pattern))):
            try:
                st = os.stat(p)
            except OSError:
                continue
            if os.path.isfile(p):
                out[p] = (st.st_mtime_ns, st.st_size)
        return out

    def _scan_files(self) -> None:
        """New or changed files matching a pipeline's `triggers.files` start one run."""
        for name, before in list(self._files.items()):
            pattern = self.ws.config.pipelines[name]["triggers"]["files"]
            current = self._stat_files(pattern)
            changed = sorted(p for p, sig in current.items() if before.get(p) != sig)
            self._files[name] = current
            if changed:
                who = f"file:{Path(changed[0]).name}"
                run = pipeline.queue_run(self.ws, name, "file", who)
                log.info("%s changed: run %d of %s", changed[0], run.id, name)
                self._dispatch(run.id)
