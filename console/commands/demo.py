"""`lookout demo [DIR] [--no-tui] [--speed N] [--reset]`: the whole loop, live, in a minute."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from lookout.console.output import UsageError, echo

DEFAULT_DIR = "lookout-demo"


def run(args: argparse.Namespace) -> int:
    from lookout.scheduler.demo import (
        INCOMING_SECONDS,
        RAMP_STEPS,
        TRAFFIC_SECONDS,
        DemoError,
        Traffic,
        build,
    )

    root = Path(args.dir or getattr(args, "workspace", None) or DEFAULT_DIR)
    say = (lambda line: echo(f"demo: {line}", file=sys.stderr)) if args.no_tui else echo
    try:
        ws = build(root, speed=args.speed, reset=args.reset, say=say)
    except DemoError as exc:
        raise UsageError(str(exc)) from None
    if args.no_tui:
        echo(f"demo workspace ready: {ws.root}")
        echo(f"open it with: lookout --workspace {ws.root}")
        ws.close()
        return 0
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise UsageError("the console needs a terminal; use --no-tui in scripts")
    from lookout.console.app import LookoutApp

    stop = threading.Event()
    traffic = threading.Thread(
        target=Traffic(
            ws, step=RAMP_STEPS, incoming_every=round(INCOMING_SECONDS / TRAFFIC_SECONDS)
        ).run,
        args=(stop, TRAFFIC_SECONDS / args.speed),
        name="lookout-demo-traffic",
        daemon=True,
    )
    traffic.start()
    try:
        app = LookoutApp(
            ws, readonly=False, refresh=None, start_scheduler=True, terminal_colours=True
        )
        code = app.run()
    finally:
        stop.set()
        traffic.join(TRAFFIC_SECONDS)
        ws.close()
    return int(code or 0)
