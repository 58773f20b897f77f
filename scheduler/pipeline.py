"""Running one pipeline run: its stages in order, each recorded as it happens.

A tabular pipeline has the built-in stages ingest → validate → train →
evaluate → register (`lookout.scheduler.stages`). A `[[pipelines.X.stages]]`
entry named like one of them replaces it; other entries run after
`register`, in order. A custom pipeline runs only its listed stages. A custom
stage is a `module:function` taking a `StageContext`, loaded from the
workspace's code folder (`lookout.scheduler.usercode`; the workspace itself is
never importable).

Each stage runs in its own thread so it can be timed out; its stdout, stderr
and log records go to the stage's log tail. A failed stage fails the run and
puts the error on the timeline; cancel stops a run between stages and sets
`ctx.cancelled` for a callable that is running. A run whose `train` finds a version
trained from the same data, pipeline config and code ends `unchanged`, the rest of its
stages skipped (`lookout.scheduler.stages.inputs_sha256`); a forced run trains anyway.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from lookout.scheduler.stages import BUILTINS, Stage, StageContext, StageFailed, custom_stage
from lookout.scheduler.workspace import Workspace
from lookout.storage import events, mirror, pipelines, scheduling
from lookout.storage.records import Run, iso

MAX_RECOVERY_ATTEMPTS = 3
CANCEL_POLL = 0.5  # seconds between looks at the store's cancel flag while a stage runs
LOG_PUBLISH = 2.0  # seconds between writes of a running stage's log so far
log = logging.getLogger("lookout.pipeline")


def plan(ws: Workspace, name: str) -> list[Stage]:
    """The stages of a configured pipeline, in order."""
    cfg = ws.config.pipelines[name]
    default_timeout = float(cfg["stage_timeout"])
    custom = {s["name"]: s for s in cfg["stages"]}

    def make(entry: dict[str, Any]) -> Stage:
        return Stage(
            entry["name"], custom_stage(entry["call"]), entry["timeout"] or default_timeout, True
        )

    stages: list[Stage] = []
    if cfg["kind"] == "tabular":
        for b, fn in BUILTINS.items():
            stages.append(make(custom[b]) if b in custom else Stage(b, fn, default_timeout, False))
        stages.extend(make(s) for s in cfg["stages"] if s["name"] not in BUILTINS)
    else:
        stages.extend(make(s) for s in cfg["stages"])
    return stages


def stage_names(ws: Workspace, name: str) -> list[str]:
    return [s.name for s in plan(ws, name)]


# -- capturing a stage's output -------------------------------------------------------


class _Tail:
    """The last `limit` characters written, cheaply."""

    def __init__(self, limit: int = pipelines.LOG_TAIL_CHARS):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.writes = 0
        self.lock = threading.Lock()

    def write(self, text: str) -> None:
        with self.lock:
            self.parts.append(text)
            self.size += len(text)
            self.writes += 1
            if self.size > 2 * self.limit:
                joined = "".join(self.parts)[-self.limit :]
                self.parts, self.size = [joined], len(joined)

    def text(self) -> str:
        with self.lock:
            return "".join(self.parts)[-self.limit :]


_captures: dict[int, _Tail] = {}
_capture_lock = threading.Lock()
_saved: list[tuple[TextIO, TextIO]] = []


class _Router(io.TextIOBase):
    """Sends a captured thread's writes to its stage tail, everyone else's to the real stream."""

    def __init__(self, real: TextIO):
        self.real = real

    def write(self, text: str) -> int:
        tail = _captures.get(threading.get_ident())
        if tail is None:
            return self.real.write(text) if self.real is not None else len(text)
        tail.write(text)
        return len(text)

    def flush(self) -> None:
        if threading.get_ident() not in _captures and self.real is not None:
            self.real.flush()

    def isatty(self) -> bool:
        return False


class _TailHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        tail = _captures.get(record.thread or 0)
        if tail is not None:
            tail.write(self.format(record) + "\n")


_handler = _TailHandler()
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


@contextlib.contextmanager
def _capture(tail: _Tail) -> Iterator[None]:
    """Route this thread's stdout, stderr and log records to `tail`."""
    ident = threading.get_ident()
    with _capture_lock:
        if not _captures:
            _saved.append((sys.stdout, sys.stderr))
            sys.stdout = _Router(sys.stdout)
            sys.stderr = _Router(sys.stderr)
            logging.getLogger().addHandler(_handler)
        _captures[ident] = tail
    try:
        yield
    finally:
        with _capture_lock:
            del _captures[ident]
            if not _captures:
                out, err = _saved.pop()
                if isinstance(sys.stdout, _Router):
                    sys.stdout = out
                if isinstance(sys.stderr, _Router):
                    sys.stderr = err
                logging.getLogger().removeHandler(_handler)


# -- running a run --------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    """An error as stored on a stage: its type and the first line of its message."""
    if isinstance(exc, StageFailed):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class StoreTrouble(OSError):
    """The store failed under a run and its end could not be recorded yet; one line."""


@dataclass
class Runner:
    """Executes runs for one workspace; `stop` makes running runs end as `interrupted`."""

    ws: Workspace
    holder: str
    stop: threading.Event = field(default_factory=threading.Event)
    cancels: dict[int, threading.Event] = field(default_factory=dict)
    unfinished: dict[int, tuple[int, str]] = field(default_factory=dict)  # run -> (job, why)

    def cancel(self, run_id: int, by: str = "someone") -> bool:
        """Flag a run for `by` (in the store, and at once if it runs here); False if it
        already ended."""
        if pipelines.cancel_queued(self.ws.store, run_id, by):
            return True
        flagged = pipelines.request_cancel(self.ws.store, run_id, by)
        event = self.cancels.get(run_id)
        if event is not None:
            event.set()
        return flagged

    def execute(self, run_id: int, scheduled_for: float | None = None) -> Run | None:
        """Run a queued run to its end; None if it was not queued (taken or cancelled).

        The ledger key of a scheduled run is its pipeline job and slot, so one slot
        never runs twice; a requested run's key is its own id, so two runs asked for
        in the same millisecond both run. If the store fails under a run (a full
        disk), the run is marked failed with the reason, or, when even that cannot
        be written, remembered and marked by `settle` later.
        """
        store = self.ws.store
        if self.stop.is_set():
            return None  # stays queued for the next scheduler
        if mirror.key_of(store, run_id) is not None:
            return None  # an outside system (Airflow) runs it; Lookout mirrors it
        with store.write():
            run = pipelines.get_run(store, run_id)
            if run is None or run.status != "queued":
                return None
            if run.cancel_requested:
                pipelines.cancel_queued(store, run_id)
                return pipelines.get_run(store, run_id)
            if run.pipeline not in self.ws.config.pipelines:
                pipelines.finish_run(store, run_id, "failed", "pipeline is no longer in the config")
                return pipelines.get_run(store, run_id)
            job_name = f"pipeline:{run.pipeline}"
            job = scheduling.start_job_run(
                store,
                job_name,
                scheduled_for or run.created_at,
                self.holder,
                run.attempt,
                key=None if scheduled_for else f"{job_name}#run{run.id}",
            )
            if job is None:
                slot = iso(scheduled_for) or "its slot"
                pipelines.cancel_queued(
                    store, run_id, "scheduler", f"{slot} of {run.pipeline} already ran"
                )
                events.raise_event(
                    store.conn,
                    "cancelled",
                    run.pipeline,
                    f"run {run_id} cancelled by the scheduler: {slot} already ran",
                )
                return pipelines.get_run(store, run_id)
            pipelines.claim_run(store, run_id, job.id)
        cancel = self.cancels.setdefault(run_id, threading.Event())
        try:
            self._stages(run, job.id, cancel)
        except (sqlite3.Error, OSError) as exc:
            self._crashed(run_id, job.id, one_line(exc))
        finally:
            self.cancels.pop(run_id, None)
        return pipelines.get_run(store, run_id)

    def _crashed(self, run_id: int, job_id: int, reason: str) -> None:
        """The store failed under a run: fail it with the reason now, or remember it."""
        log.warning("run %d: the store failed under it: %s", run_id, reason)
        self.unfinished[run_id] = (job_id, f"the store failed: {reason}")
        self.settle()
        if run_id in self.unfinished:
            raise StoreTrouble(f"run {run_id} could not be recorded as failed: {reason}")

    def settle(self) -> None:
        """Mark runs failed whose failure could not be written when it happened (the
        scheduler retries this on every pass until the store takes writes again)."""
        for run_id, (job_id, reason) in list(self.unfinished.items()):
            try:
                self._end(run_id, job_id, "failed", reason)
            except (sqlite3.Error, OSError):
                continue
            self.unfinished.pop(run_id, None)

    def _stages(self, run: Run, job_id: int, cancel: threading.Event) -> None:
        store = self.ws.store
        cfg = self.ws.config.pipelines[run.pipeline]
        try:
            stages = plan(self.ws, run.pipeline)
        except Exception as exc:
            self._end(run.id, job_id, "failed", f"cannot plan the run: {one_line(exc)}")
            return
        data: dict[str, Any] = {}
        for stage in stages:
            if cancel.is_set() or pipelines.cancel_requested(store, run.id):
                self._end(run.id, job_id, "cancelled", self._cancelled_by(run.id))
                return
            if self.stop.is_set():
                self._interrupt(run, job_id, "the scheduler stopped")
                return
            pipelines.start_stage(store, run.id, stage.name)
            ok, tail, metrics, error, flagged = self._attempts(run, stage, cfg, data, cancel)
            # A custom stage that returns after `ctx.cancelled` was set may have stopped
            # early because of it: cut short, never `succeeded`. Built-in stages never
            # look at the flag, so their return means their work is done.
            cut_short = flagged and stage.custom
            with store.write():
                current = pipelines.get_run(store, run.id)
                if current is None or current.status != "running":
                    return  # interrupted meanwhile; recovery owns it now
                if ok and not cut_short and not cancel.is_set() and "unchanged" in data:
                    # nothing to train: this stage and the rest are skipped
                    pipelines.finish_stage(store, run.id, stage.name, "skipped", tail, metrics)
                    self._end(run.id, job_id, "unchanged")
                    return
                if ok and not cut_short and not cancel.is_set():
                    pipelines.finish_stage(store, run.id, stage.name, "succeeded", tail, metrics)
                    continue
                if self.stop.is_set() and not cancel.is_set():
                    reason = "the scheduler stopped"
                    pipelines.finish_stage(
                        store, run.id, stage.name, "cancelled", tail, metrics, reason
                    )
                    self._interrupt(run, job_id, reason)
                    return
                if cancel.is_set():
                    reason = self._cancelled_by(run.id)
                    pipelines.finish_stage(
                        store, run.id, stage.name, "cancelled", tail, metrics, reason
                    )
                    self._end(run.id, job_id, "cancelled", reason)
                else:
                    pipelines.finish_stage(
                        store, run.id, stage.name, "failed", tail, metrics, error
                    )
                    self._end(run.id, job_id, "failed", f"stage {stage.name}: {error}")
            return
        self._end(run.id, job_id, "succeeded")

    def _cancelled_by(self, run_id: int) -> str:
        current = pipelines.get_run(self.ws.store, run_id)
        return pipelines.cancel_reason(current.cancelled_by if current else None)

    def _end(self, run_id: int, job_id: int, status: str, error: str | None = None) -> None:
        """The run's and its ledger entry's final status, in one transaction.

        A run already interrupted (the scheduler gave up waiting for this
        stage at shutdown) keeps that status.
        """
        with self.ws.store.write():
            current = pipelines.get_run(self.ws.store, run_id)
            if current is None or current.status != "running":
                return
            pipelines.finish_run(self.ws.store, run_id, status, error)
            job_status = "succeeded" if status == "unchanged" else status  # the job did its work
            scheduling.finish_job_run(self.ws.store, job_id, job_status, error)

    def _interrupt(self, run: Run, job_id: int, reason: str) -> None:
        with self.ws.store.write():
            scheduling.finish_job_run(self.ws.store, job_id, "requeued", reason)
            interrupt_and_requeue(self.ws, run, reason)

    def _attempts(
        self,
        run: Run,
        stage: Stage,
        cfg: dict[str, Any],
        data: dict[str, Any],
        cancel: threading.Event,
    ) -> tuple[bool, str, dict[str, Any], str | None, bool]:
        """Run a stage, retrying with exponential backoff; (ok, log tail, metrics, error,
        whether `ctx.cancelled` was set while it ran)."""
        tail = _Tail()
        retries, backoff = int(cfg["retries"]), float(cfg["retry_backoff"])
        error: str | None = None
        metrics: dict[str, Any] = {}
        for attempt in range(retries + 1):
            ctx = StageContext(
                self.ws,
                run.pipeline,
                run.id,
                stage.name,
                cfg,
                data,
                _stage_logger(run.pipeline, stage.name),
                threading.Event(),
            )
            ok, error, timed_out = self._call(stage, ctx, tail, run.id, cancel)
            metrics = ctx.metrics
            flagged = ctx.cancelled.is_set()
            if ok or timed_out or cancel.is_set() or attempt == retries:
                return ok, tail.text(), metrics, error, flagged
            wait = backoff * 2**attempt
            tail.write(f"attempt {attempt + 1} failed: {error}; retrying in {wait:g}s\n")
            if _wait_any(wait, cancel, self.stop):
                return False, tail.text(), metrics, error, True
        return False, tail.text(), metrics, error, flagged

    def _call(
        self, stage: Stage, ctx: StageContext, tail: _Tail, run_id: int, cancel: threading.Event
    ) -> tuple[bool, str | None, bool]:
        """One attempt in its own thread under the stage timeout; (ok, error, timed out)."""
        outcome: dict[str, BaseException] = {}

        def work() -> None:
            with _capture(tail):
                try:
                    stage.fn(ctx)
                except BaseException as exc:
                    outcome["error"] = exc

        thread = threading.Thread(
            target=work, name=f"lookout-stage-{run_id}-{stage.name}", daemon=True
        )
        deadline = time.monotonic() + stage.timeout
        next_look = time.monotonic() + CANCEL_POLL
        next_publish = time.monotonic() + LOG_PUBLISH
        published = 0
        thread.start()
        while True:
            thread.join(min(0.1, max(deadline - time.monotonic(), 0)))
            if not thread.is_alive():
                break
            t = time.monotonic()
            if t >= deadline:
                ctx.cancelled.set()
                return False, f"timed out after {stage.timeout:g}s", True
            if t >= next_look:
                next_look = t + CANCEL_POLL
                if pipelines.cancel_requested(self.ws.store, run_id):
                    cancel.set()
            if t >= next_publish and tail.writes != published:
                next_publish, published = t + LOG_PUBLISH, tail.writes
                pipelines.set_stage_log(self.ws.store, run_id, stage.name, tail.text())
            if cancel.is_set() or self.stop.is_set():
                ctx.cancelled.set()
        if "error" in outcome:
            err = outcome["error"]
            if not isinstance(err, StageFailed):
                tail.write("".join(traceback.format_exception(err)))
            return False, one_line(err), False
        return True, None, False


def _stage_logger(pipeline: str, stage: str) -> logging.Logger:
    logger = logging.getLogger(f"lookout.pipeline.{pipeline}.{stage}")
    logger.setLevel(logging.INFO)
    return logger


def _wait_any(seconds: float, *flags: threading.Event) -> bool:
    """Sleep up to `seconds`; True as soon as any flag is set."""
    end = time.monotonic() + seconds
    while not any(f.is_set() for f in flags):
        left = end - time.monotonic()
        if left <= 0:
            return False
        flags[0].wait(min(left, 0.2))
    return True


def interrupt_and_requeue(ws: Workspace, run: Run, reason: str) -> Run | None:
    """Mark a run `interrupted` (no stage left `running`) and queue it again when safe.

    Re-running is safe because `register` will not register a second version
    for the same logical run; a run interrupted MAX_RECOVERY_ATTEMPTS times
    is left alone so a crash loop cannot go on forever.
    """
    store = ws.store
    with store.write() as conn:
        current = pipelines.get_run(store, run.id)
        if current is None or current.status != "running":
            return None
        pipelines.interrupt_running(store, [run.id])
        again = run.pipeline in ws.config.pipelines and run.attempt < MAX_RECOVERY_ATTEMPTS
        new = None
        if again:
            new = pipelines.create_run(
                store,
                run.pipeline,
                stage_names(ws, run.pipeline),
                run.trigger,
                run.triggered_by,
                attempt=run.attempt + 1,
                retry_of=run.id,
                forced=run.forced,
            )
        follow = f"; re-queued as run {new.id}" if new else "; not re-queued"
        events.raise_event(
            conn,
            "interrupted",
            run.pipeline,
            f"run {run.id} interrupted ({reason}){follow}",
            "warn",
            batch=f"run:{run.id}",
        )
    return new


def queue_run(
    ws: Workspace, name: str, trigger: str, triggered_by: str, forced: bool = False
) -> Run:
    """A queued run of a configured pipeline with its stages pending; a `forced` one trains
    and registers even when a version came from the same data, config and code."""
    return pipelines.create_run(
        ws.store, name, stage_names(ws, name), trigger, triggered_by, forced=forced
    )
