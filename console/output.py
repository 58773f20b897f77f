"""What every subcommand shares: opening the workspace, printing, failing in one line.

Every line of text a subcommand prints goes through `echo` or `table` here, and so
through the one sanitizer (`lookout.storage.text`): names, reasons, log lines and the
lease holder come from data anyone may have written. `make lint` holds the
subcommands to this (ruff's T20 rule: no `print` in `console/commands/`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from typing import Any, NoReturn, TextIO

from lookout.scheduler.config import ConfigError
from lookout.scheduler.door import FAILED, UNAVAILABLE, Outcome, changes
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import scheduling
from lookout.storage.db import StoreError, now
from lookout.storage.records import Request
from lookout.storage.text import sanitize

ERROR_LINE = 300  # characters: the longest error line the command line prints
NARROWEST = 8  # a column fitted to the terminal keeps at least this many characters


class Failure(Exception):
    """The command did not do what was asked: one line on stderr and exit `code`
    (2 for bad usage, bad input or a refusal; 1 when something needs a person)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


class UsageError(Failure):
    """Bad usage or bad input: one line on stderr, exit code 2."""


def fail(message: str, code: int = 2) -> NoReturn:
    raise Failure(message, code)


def error_line(message: str) -> str:
    """The one line a failure prints: sanitized, prefixed with `lookout:`, cut to ERROR_LINE."""
    line = sanitize(message, single_line=True)
    if not line.startswith("lookout"):
        line = f"lookout: {line}"
    return sanitize(line, ERROR_LINE)


def echo(
    line: object = "", limit: int | None = None, *, file: TextIO | None = None, flush: bool = False
) -> None:
    """Print one line of text output through the sanitizer (cut to `limit` characters); a
    line break or tab inside it (from a name, a reason, a log line) becomes a space, so
    no value can forge a line."""
    text = sanitize(line, limit)
    if "\n" in text or "\t" in text:
        text = text.replace("\n", " ").replace("\t", " ")
    print(text, file=file, flush=flush)


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


def refusal(outcome: Outcome, prefix: str = "") -> NoReturn:
    """Fail with why a change did not happen: exit 2 for a refusal or bad input, 1 when
    the daemon could not be reached or the change broke."""
    code = 1 if outcome.data.get("error") in (UNAVAILABLE, FAILED) else 2
    raise Failure(f"{prefix}{outcome.message}", code)


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


def table(rows: list[list[str]], header: list[str], wide: bool = False) -> str:
    """Plain aligned columns (no colour, no markup), every cell sanitized to one line.

    Into a pipe or a file every cell is whole; on a terminal the widest columns are cut
    (with …) until a row fits its width, unless `wide` (the commands' `--wide`).
    """
    cells = [[sanitize(c, single_line=True) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    if not wide and sys.stdout.isatty():
        widths = _fit(widths, shutil.get_terminal_size().columns)
    lines = [
        "  ".join(_cut(c, w).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in cells
    ]
    return "\n".join(lines)


def echo_table(rows: list[list[str]], header: list[str], wide: bool = False) -> None:
    """Print `table(rows, header, wide)`: its line breaks are its own, its cells one line each."""
    print(table(rows, header, wide))


def _fit(widths: list[int], columns: int) -> list[int]:
    """Narrow the widest column (to the next widest, or by what is left over) until the
    row fits `columns`, no column below NARROWEST."""
    widths = list(widths)
    excess = sum(widths) + 2 * (len(widths) - 1) - columns
    while excess > 0:
        widest = max(range(len(widths)), key=widths.__getitem__)
        room = widths[widest] - NARROWEST
        if room <= 0:
            break
        runner_up = max((w for i, w in enumerate(widths) if i != widest), default=0)
        step = min(room, excess, max(widths[widest] - runner_up, 1))
        widths[widest] -= step
        excess -= step
    return widths


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: max(width - 1, 0)] + "…"
