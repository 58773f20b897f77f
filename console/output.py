"""What every subcommand shares: opening the workspace, printing, failing in one line."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from lookout.scheduler.config import ConfigError
from lookout.scheduler.door import FAILED, UNAVAILABLE, Outcome, changes
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import scheduling
from lookout.storage.db import StoreError, now
from lookout.storage.records import Request
from lookout.storage.text import sanitize


class UsageError(Exception):
    """Bad usage or bad input: one line on stderr, exit code 2."""


def fail(message: str, code: int = 2) -> int:
    line = sanitize(message, single_line=True)
    if not line.startswith("lookout"):
        line = f"lookout: {line}"
    print(line, file=sys.stderr)
    return code


def workspace(
    args: argparse.Namespace, readonly: bool | None = None, changing: bool = False
) -> Workspace:
    """Open the workspace named by the arguments, turning every failure into one line.

    A shared workspace's store is always opened read-only here (changes go to its
    daemon); when the daemon is down a command that reads says so once, on stderr
    (one that asks for a `changing` says so when it asks).
    """
    ro = bool(getattr(args, "readonly", False)) if readonly is None else readonly
    try:
        ws = open_workspace(getattr(args, "workspace", None), readonly=ro)
    except (ConfigError, StoreError) as exc:
        raise UsageError(str(exc)) from None
    if ws.store.stale and not changing:
        print(f"lookout: {STALE}", file=sys.stderr)
    return ws


STALE = "the Lookout daemon is down: showing the store as last written"


def perform(ws: Workspace, action: str, **args: Any) -> Outcome:
    """Ask for a change through the one door: in this process for a personal workspace,
    from the daemon over its socket for a shared one (`lookout.scheduler.door`)."""
    return changes(ws).perform(action, **args)


def refusal(outcome: Outcome, prefix: str = "") -> int:
    """Print why a change did not happen; exit 2 for a refusal or bad input, 1 when the
    daemon could not be reached or the change broke."""
    code = 1 if outcome.data.get("error") in (UNAVAILABLE, FAILED) else 2
    return fail(f"{prefix}{outcome.message}", code)


def wait_request(ws: Workspace, request_id: int) -> Request:
    """Wait until the scheduler has finished a request this process made through the door;
    a scheduler that stops meanwhile ends the wait with one line."""
    tick = threading.Event()
    while True:
        req = scheduling.get_request(ws.store, request_id)
        if req is not None and req.status in ("done", "failed"):
            return req
        lease = scheduling.get_lease(ws.store)
        if lease is None or not lease.alive(now()):
            raise UsageError(
                f"request {request_id} was queued, but no scheduler is running to take it"
                " (start `lookout scheduler`)"
            )
        tick.wait(0.1)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str, allow_nan=False)
    sys.stdout.write("\n")


def table(rows: list[list[str]], header: list[str]) -> str:
    """Plain aligned columns for terminals and pipes (no colour, no markup)."""
    cells = [[sanitize(c, 60, single_line=True) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
