"""The `lookout` command line: the contract in ARCHITECTURE.md and the README.

Each subcommand lives in `console/commands/<name>.py` as `run(args) -> int`
and is imported only when used, so `lookout status` never loads Textual.
Exit codes: 0 ok, 1 the thing asked about is unhealthy, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

from lookout.console.output import UsageError, fail
from lookout.storage.db import StoreError

# subcommand -> module under lookout.console.commands that implements it
COMMANDS = {
    None: "open",
    "demo": "demo",
    "init": "init",
    "scheduler": "scheduler",
    "status": "status",
    "run": "run",
    "models": "models",
    "promote": "promotion",
    "requests": "promotion",
    "approve": "promotion",
    "reject": "promotion",
    "rollback": "promotion",
    "checks": "checks",
    "drift": "drift",
    "events": "events",
    "log": "log",
    "audit": "audit",
    "doctor": "doctor",
    "screenshots": "screenshots",
    "metrics": "metrics",
    "search": "search",
    "report": "report",
}
# subcommands that change the workspace: refused with --readonly (the policy action
# each asks for, or None where it writes files rather than asking the policy)
CHANGES = {
    "promote": "promote",
    "approve": "approve",
    "reject": "reject",
    "rollback": "rollback",
    "run": "run",
    "log": "log",
    "init": None,
    "demo": None,
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--workspace",
        "-w",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="workspace directory (default: $LOOKOUT_WORKSPACE, then the current directory)",
    )
    common.add_argument(
        "--readonly", action="store_true", default=argparse.SUPPRESS, help="refuse every change"
    )
    as_json = _Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON object")

    p = _Parser(prog="lookout", description="Terminal ops console for ML systems.")
    p.add_argument("--workspace", "-w", default=None, metavar="DIR", help="workspace directory")
    p.add_argument("--readonly", action="store_true", default=False, help="refuse every change")
    p.add_argument("--refresh", type=float, default=None, help="console refresh seconds")
    p.add_argument(
        "--no-scheduler", action="store_true", help="never start a scheduler inside the console"
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def add(name: str, help: str, *parents: _Parser) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common, *parents])

    d = add("demo", "build a live demo workspace and open the console on it")
    d.add_argument("dir", nargs="?", default=None, metavar="DIR")
    d.add_argument("--no-tui", action="store_true", help="build and advance, then exit")
    d.add_argument("--speed", type=float, default=1.0, help="compress time N-fold")
    d.add_argument("--reset", action="store_true", help="start the demo over")

    i = add("init", "write a starter lookout.toml")
    i.add_argument("dir", nargs="?", default=None, metavar="DIR")
    i.add_argument(
        "--shared", action="store_true", help="a team's workspace, written only by its daemon"
    )
    i.add_argument("--group", default=None, metavar="GROUP", help="the team's OS group (--shared)")
    i.add_argument(
        "--service-user",
        default=None,
        metavar="USER",
        help="the account the daemon runs as (--shared; default: you, unless you are root)",
    )

    s = add("scheduler", "run the background scheduler")
    s.add_argument("--once", action="store_true", help="run what is due or queued, then exit")
    s.add_argument("--wait", action="store_true", help="wait for the lease instead of exiting")

    add("status", "one-shot health of pipelines, checks, models, drift", as_json)

    r = add("run", "ask for a pipeline run (or a retry, or a cancellation)", as_json)
    r.add_argument("pipeline", metavar="PIPELINE")
    r.add_argument("--wait", action="store_true", help="wait for the run to finish")
    r.add_argument(
        "--force",
        action="store_true",
        help="train and register even if the data, pipeline config and code are unchanged",
    )
    r.add_argument("--conf", default=None, metavar="JSON", help="conf for an Airflow DAG run")
    r.add_argument(
        "--retry", type=int, default=None, metavar="RUN", help="retry a run (Airflow: clear failed)"
    )
    r.add_argument(
        "--cancel",
        type=int,
        default=None,
        metavar="RUN",
        help="cancel a run (Airflow: mark failed)",
    )

    m = add("models", "versions, aliases, metrics", as_json)
    m.add_argument("model", nargs="?", default=None, metavar="MODEL")

    pr = add("promote", "request (or, where policy allows, perform) a promotion", as_json)
    pr.add_argument("model", metavar="MODEL")
    pr.add_argument("version", type=int, metavar="VERSION")
    pr.add_argument("--reason", required=True)
    pr.add_argument("--alias", default="production")

    add("requests", "promotion requests, pending first", as_json)

    for verb in ("approve", "reject"):
        a = add(verb, f"{verb} a pending promotion", as_json)
        a.add_argument("request", type=int, metavar="REQUEST")
        a.add_argument("--reason", required=True)
        if verb == "approve":
            a.add_argument(
                "--override", action="store_true", help="approve despite failed gates (approver)"
            )

    rb = add("rollback", "put the previous production version back", as_json)
    rb.add_argument("model", metavar="MODEL")
    rb.add_argument("--to", type=int, default=None, metavar="VERSION")
    rb.add_argument("--reason", required=True)

    c = add("checks", "latest result of each data check", as_json)
    c.add_argument("--run", default=None, metavar="DATASET", help="run a dataset's checks now")

    dr = add("drift", "drift per model and feature", as_json)
    dr.add_argument("model", nargs="?", default=None, metavar="MODEL")

    e = add("events", "the timeline", as_json)
    e.add_argument("--limit", type=int, default=50)
    e.add_argument("--ack", type=int, default=None, metavar="EVENT", help="acknowledge an event")
    e.add_argument("--note", default="", help="note for --ack")

    lg = add("log", "append a batch of inference inputs/outputs (or labels)", as_json)
    lg.add_argument("model", metavar="MODEL")
    lg.add_argument("file", metavar="FILE")
    lg.add_argument("--labels", action="store_true", help="the file holds labels")

    au = add("audit", "the audit chain", as_json)
    au.add_argument(
        "--verify",
        action="store_true",
        help="check every link, the signatures and the witness; exit 1 if anything fails",
    )
    au.add_argument("--full", action="store_true", help="with --verify: check every signature")
    au.add_argument(
        "--new-key", action="store_true", help="start signing with a fresh key (lost or exposed)"
    )
    au.add_argument("--limit", type=int, default=None)

    add("doctor", "check a workspace's owners, modes, socket and keys; say what to fix", as_json)

    sc = add("screenshots", "write an SVG of every screen")
    sc.add_argument("--out", default="screenshots", metavar="DIR")

    add("metrics", "print the Prometheus metrics once")
    se = add("search", "find events, stage logs, failing checks, audit reasons", as_json)
    se.add_argument("text", nargs="+", metavar="TEXT")
    se.add_argument("--limit", type=int, default=50)
    rp = add("report", "the hand-off report: what happened while you were away")
    rp.add_argument("--since", default="12h", metavar="DURATION", help="how far back (12h)")
    rp.add_argument("--format", choices=("markdown", "html", "json"), default="markdown")
    rp.add_argument("--out", default=None, metavar="FILE", help="write to FILE, not stdout")
    return p


# subcommands whose exit code reports health: a store they cannot read is unhealthy (1)
HEALTH = ("status", "audit")


def _io_error(exc: BaseException) -> str:
    """A store or file failure as one line: what failed, and where when known."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    command = None
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        if args.readonly and args.command in CHANGES:
            from lookout.scheduler.policy import NEEDS

            action = CHANGES[args.command]
            needs = (
                f" ({args.command} needs the {NEEDS[action]} role and a writable store)"
                if action
                else ""
            )
            raise UsageError(f"{args.command}: refused in read-only mode{needs}")
        module = importlib.import_module(f"lookout.console.commands.{COMMANDS[args.command]}")
        return int(module.run(args) or 0)
    except UsageError as exc:
        return fail(str(exc))
    except StoreError as exc:  # e.g. a change refused because the audit record does not hold
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (sqlite3.Error, OSError) as exc:
        # A full disk or a failing store: every change is one transaction and every
        # pointer moves by rename, so nothing is left half-done; say so in one line.
        return fail(f"{command or 'lookout'}: {_io_error(exc)}", 1 if command in HEALTH else 2)


if __name__ == "__main__":
    sys.exit(main())
