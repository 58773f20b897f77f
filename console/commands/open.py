"""`lookout [--workspace DIR] [--readonly] [--refresh S] [--no-scheduler]`: open the console."""

from __future__ import annotations

import argparse
import gc
import sys

from lookout.console.output import UsageError, workspace


def run(args: argparse.Namespace) -> int:
    refresh = getattr(args, "refresh", None)
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise UsageError("the console needs a terminal; use `lookout status` in scripts")
    ws = workspace(args)
    # Start-up allocates a great many long-lived objects; letting the cyclic collector
    # rescan them again and again costs ~10 % of the time to the first frame. The app
    # freezes them and turns the collector back on once that frame is on screen.
    gc.disable()
    # Worker threads read the store row by row, giving up the GIL at every row; a short
    # switch interval lets them have it back quickly while the UI thread is busy drawing.
    sys.setswitchinterval(0.001)
    from lookout.console.panes import Prefetch

    early = Prefetch(ws.store)  # the first data is read while Textual imports
    from lookout.console.app import LookoutApp

    app = LookoutApp(
        ws,
        readonly=bool(args.readonly),
        refresh=refresh,
        start_scheduler=not getattr(args, "no_scheduler", False),
        prefetch=early,
        terminal_colours=True,
    )
    try:
        code = app.run()
    finally:
        ws.close()
    return int(code or 0)
