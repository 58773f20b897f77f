"""`lookout scheduler [--once] [--wait]`: the background scheduler as a foreground daemon."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from lookout.console.output import UsageError, fail, workspace
from lookout.scheduler.config import ConfigError
from lookout.scheduler.service import Scheduler
from lookout.storage.records import Lease, iso


def _holder(lease: Lease) -> str:
    return f"{lease.host} pid {lease.pid} since {iso(lease.since)}"


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per job execution
    try:
        sched = Scheduler(ws)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sched.stop_event.set()

    if threading.current_thread() is not threading.main_thread():
        return _serve(sched, args)
    saved = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _serve(sched, args)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _serve(sched: Scheduler, args: argparse.Namespace) -> int:
    stop = sched.stop_event
    won, lease = sched.acquire()
    if not won and not args.wait:
        return fail(f"another scheduler holds the lease: {_holder(lease)}", 1)
    if not won:
        print(f"waiting for the lease held by {_holder(lease)}", flush=True)
        while not won:
            if stop.wait(min(sched.heartbeat, 1.0)):
                return 0
            won, lease = sched.acquire()
    if args.once:
        try:
            sched.run_once()
        finally:
            sched.release()
        print("ran what was due or queued")
        return 0
    if not sched.start():
        return fail(f"another scheduler holds the lease: {_holder(sched.lease or lease)}", 1)
    print(f"scheduler running as {sched.holder} with {len(sched.jobs)} jobs", flush=True)
    sched.serve()
    print("scheduler stopped", flush=True)
    return 0
