"""`lookout scheduler [--once] [--wait]`: the background scheduler as a foreground daemon.

For a shared workspace this is the daemon: it must run as the workspace's service
account, refuses to start while anyone else could change its config or code
(`lookout.scheduler.strict`), writes with umask 027, and serves every member's
changes on WORKSPACE/lookout.sock (`lookout.scheduler.daemon`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from lookout.console.output import UsageError, echo, fail
from lookout.scheduler import strict
from lookout.scheduler.config import ConfigError
from lookout.scheduler.daemon import Daemon, DaemonError
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace, service_uid
from lookout.storage.db import StoreError
from lookout.storage.records import Lease, iso
from lookout.storage.text import sanitize


class _Sanitized(logging.Formatter):
    """Log lines carry names, paths and error text from data: through the one sanitizer
    (a traceback keeps its line breaks)."""

    def format(self, record: logging.LogRecord) -> str:
        return sanitize(super().format(record))


def _holder(lease: Lease) -> str:
    return f"{lease.host} pid {lease.pid} since {iso(lease.since)}"


def _open(args: argparse.Namespace) -> Workspace:
    """The workspace, opened to write: for a shared one only as its service account, and
    only when nobody else can change what the daemon trusts."""
    try:
        ws = open_workspace(getattr(args, "workspace", None), daemon=True)
    except (ConfigError, StoreError) as exc:
        raise UsageError(str(exc)) from None
    if ws.shared:
        found = strict.refusals(ws.config, service_uid(ws.config))
        if found:
            ws.close()
            first = found[0]
            more = f"; and {len(found) - 1} more (`lookout doctor`)" if len(found) > 1 else ""
            raise UsageError(f"refusing to start: {first.path}: {first.detail} ({first.fix}){more}")
        os.umask(0o027)  # what the daemon writes, the team's group may read and no one else
    return ws


def run(args: argparse.Namespace) -> int:
    ws = _open(args)
    log = logging.StreamHandler(sys.stderr)
    log.setFormatter(_Sanitized("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per job execution
    try:
        sched = Scheduler(ws)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sched.stop_event.set()

    if threading.current_thread() is not threading.main_thread():
        try:
            return _serve(sched, args)
        finally:
            ws.close()
    saved = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _serve(sched, args)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        # Close every connection now, not at interpreter exit (which may never close some):
        # the last close checkpoints the WAL and removes it, as readers of a shared store
        # expect of a stopped daemon.
        ws.close()


def _serve(sched: Scheduler, args: argparse.Namespace) -> int:
    stop = sched.stop_event
    won, lease = sched.acquire()
    if not won and not args.wait:
        fail(f"another scheduler holds the lease: {_holder(lease)}", 1)
    if not won:
        echo(f"waiting for the lease held by {_holder(lease)}", flush=True)
        while not won:
            if stop.wait(min(sched.heartbeat, 1.0)):
                return 0
            won, lease = sched.acquire()
    if args.once:
        try:
            sched.run_once()
        finally:
            sched.release()
        echo("ran what was due or queued")
        return 0
    try:
        started = sched.start()
    except BaseException:  # e.g. the store is full: give the lease back before saying so
        sched.stop(timeout=0)
        raise
    if not started:
        fail(f"another scheduler holds the lease: {_holder(sched.lease or lease)}", 1)
    daemon = Daemon(sched.ws) if sched.ws.shared else None
    if daemon is not None:
        try:
            daemon.start()
        except DaemonError as exc:
            sched.stop()
            fail(str(exc), 1)
    where = f", serving {daemon.path}" if daemon is not None else ""
    echo(f"scheduler running as {sched.holder} with {len(sched.jobs)} jobs{where}", flush=True)
    try:
        sched.serve()
    finally:
        if daemon is not None:
            daemon.stop()
    echo("scheduler stopped", flush=True)
    return 0
