"""The `lookout` command line: the contract in ARCHITECTURE.md and the README.

Each subcommand lives in `console/commands/<name>.py` as `run(args) -> int`
and is imported only when used, so `lookout status` never loads Textual.
Exit codes: 0 ok, 1 the thing asked about is unhealthy, 2 bad usage or input.
Whatever goes wrong is one line on stderr (and, with `--json`, `{"ok": false,
"error": ...}` on stdout); never a traceback.

The parser below is the one description of the command line: `--help`, the shell
completion scripts (`lookout completion SHELL`) and the README's table read it.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lookout.console.output import Failure, UsageError, error_line, print_json
from lookout.scheduler.cpu import prefer_fast_sort
from lookout.scheduler.validate import INT64_MAX, shown
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
    "completion": "completion",
}
# subcommands that change the workspace whatever their options: refused with --readonly
# (the policy action each asks for, or None where it writes files rather than asking
# the policy). `events --ack`, `checks --run`, `drift --run` and `audit --new-key`
# refuse it themselves.
CHANGES = {
    "promote": "promote",
    "approve": "approve",
    "reject": "reject",
    "rollback": "rollback",
    "run": "run",
    "log": "log",
    "init": None,
    "demo": None,
    "scheduler": None,
}
SOMETIMES_CHANGES = ("events", "checks", "drift", "audit")
DEBUG_ENV = "LOOKOUT_DEBUG"  # set it to see the traceback of an unexpected error


# -- argument types: each refuses what it cannot use in one line ------------------------


def whole(minimum: int = 1, expected: str = "") -> Callable[[str], int]:
    """A whole number from `minimum` to the largest the store holds (2⁶³ − 1)."""
    expected = expected or f"a whole number from {minimum} to {INT64_MAX}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not minimum <= value <= INT64_MAX:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(text)}")
        return value

    return parse


def identifier(text: str) -> int:
    """A request's or an event's id, as `requests` prints it (`#4`) or bare (`4`)."""
    return whole(1, "an id like #4 or 4")(text.removeprefix("#"))


def positive(text: str) -> float:
    """A number > 0 (seconds, a factor): finite, so `nan` and `1e999` are refused."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {shown(text)}")
    return value


# -- the parser -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as one line (exit code 2) and suggests the word
    that was probably meant."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(c) for c in action.choices]
        close = difflib.get_close_matches(str(value), choices, n=1)
        if isinstance(action, argparse._SubParsersAction):
            hint = f"; did you mean `{close[0]}`?" if close else " (`lookout --help` lists them)"
            raise UsageError(f"lookout: no command {shown(value)}{hint}")
        hint = f"; did you mean `{close[0]}`?" if close else f" (choose from {', '.join(choices)})"
        raise argparse.ArgumentError(action, f"no choice {shown(value)}{hint}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lookout-mlops")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class _Version(argparse.Action):
    """`--version`, looked up only when asked (reading package metadata costs start-up time)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"lookout {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    where = _Parser(add_help=False)
    where.add_argument(
        "--workspace",
        "-w",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="workspace directory (default: $LOOKOUT_WORKSPACE, then the current directory)",
    )
    guarded = _Parser(add_help=False)
    guarded.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="refuse the change instead of making it",
    )
    as_json = _Parser(add_help=False)
    as_json.add_argument(
        "--json", action="store_true", help="print one JSON object (errors too, on stdout)"
    )
    wide = _Parser(add_help=False)
    wide.add_argument(
        "--wide",
        action="store_true",
        help="on a terminal, show every column whole (into a pipe or a file they always are)",
    )

    p = _Parser(
        prog="lookout",
        description="A terminal ops console for ML systems: pipelines, data checks, models"
        " and drift,\nwith gated promotion and one-key rollback. With no COMMAND it opens"
        " the console.",
        epilog="Exit codes: 0 ok, 1 something needs a person, 2 bad usage or input.\n"
        "examples:\n  lookout init w && lookout run cancer_train -w w --wait\n"
        "  lookout status -w w\n  lookout COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action=_Version, nargs=0, help="print Lookout's version and exit")
    p.add_argument(
        "--workspace",
        "-w",
        default=None,
        metavar="DIR",
        help="workspace directory (default: $LOOKOUT_WORKSPACE, then the current directory)",
    )
    p.add_argument(
        "--readonly",
        action="store_true",
        default=False,
        help="refuse every change (the console, and any COMMAND that would change something)",
    )
    p.add_argument(
        "--refresh", type=positive, default=None, metavar="S", help="console refresh in seconds"
    )
    p.add_argument(
        "--no-scheduler", action="store_true", help="never start a scheduler inside the console"
    )
    sub = p.add_subparsers(
        dest="command",
        parser_class=_Parser,
        metavar="COMMAND",
        help="what to do (`lookout COMMAND --help` says more)",
    )

    def add(
        name: str,
        summary: str,
        description: str,
        examples: Sequence[str],
        *parents: _Parser,
        aliases: Sequence[str] = (),
    ) -> argparse.ArgumentParser:
        if name in CHANGES or name in SOMETIMES_CHANGES:
            parents = (guarded, *parents)
        cmd = sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
            aliases=list(aliases),
            parents=[where, *parents],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.set_defaults(command=name)  # an alias runs the command it stands for
        return cmd

    d = add(
        "demo",
        "build a live demo workspace and open the console on it",
        "Build a workspace from scikit-learn's wine and diabetes tables, play its first\n"
        "hour through, then open the console with the scheduler and simulated traffic.",
        ["lookout demo", "lookout demo /tmp/demo --no-tui --speed 10"],
    )
    d.add_argument("dir", nargs="?", default=None, metavar="DIR", help="where (lookout-demo)")
    d.add_argument("--no-tui", action="store_true", help="build and advance, then exit")
    d.add_argument(
        "--speed", type=positive, default=1.0, metavar="N", help="compress time N-fold (1)"
    )
    d.add_argument("--reset", action="store_true", help="start the demo over")

    i = add(
        "init",
        "write a starter workspace",
        "Write lookout.toml, the store and the audit key: a workspace whose example\n"
        "pipeline trains on scikit-learn's breast-cancer table as it is. Never overwrites.",
        [
            "lookout init w",
            "lookout init /srv/ml --shared --group mlteam --service-user lookout",
        ],
    )
    i.add_argument(
        "dir", nargs="?", default=None, metavar="DIR", help="where (default: the workspace)"
    )
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

    s = add(
        "scheduler",
        "run the background scheduler",
        "Run scheduled pipelines, checks and drift, and queued requests, until stopped.\n"
        "One scheduler per workspace holds its lease; a shared workspace's is its daemon.",
        ["lookout scheduler -w w", "lookout scheduler --once"],
    )
    s.add_argument("--once", action="store_true", help="run what is due or queued, then exit")
    s.add_argument("--wait", action="store_true", help="wait for the lease instead of exiting")

    add(
        "status",
        "one-shot health of pipelines, checks, models, drift",
        "The scheduler, each pipeline's last run, check results, models, drift and open\n"
        "events. Exits 1 when something needs a person: a failed run, a failing check,\n"
        "drift, or no scheduler running while the config schedules work.",
        ["lookout status", "lookout status --json | jq .problems"],
        as_json,
        wide,
    )

    r = add(
        "run",
        "ask for a pipeline run (or a retry, or a cancellation)",
        "Queue a run of PIPELINE for the scheduler; with --wait, wait for it to end (and\n"
        "run it here when no scheduler is running). Exits 1 when the run fails.\n"
        "--retry and --cancel act on one of PIPELINE's runs (as `status` prints it: #4).",
        ["lookout run cancer_train --wait", "lookout run cancer_train --json"],
        as_json,
    )
    r.add_argument("pipeline", metavar="PIPELINE", help="a pipeline of the config")
    r.add_argument("--wait", action="store_true", help="wait for the run to finish")
    r.add_argument(
        "--force",
        action="store_true",
        help="train and register even if the data, pipeline config and code are unchanged",
    )
    r.add_argument("--conf", default=None, metavar="JSON", help="conf for an Airflow DAG run")
    r.add_argument(
        "--retry",
        type=identifier,
        default=None,
        metavar="RUN",
        help="retry a run (Airflow: clear failed)",
    )
    r.add_argument(
        "--cancel",
        type=identifier,
        default=None,
        metavar="RUN",
        help="cancel a run (Airflow: mark failed)",
    )

    m = add(
        "models",
        "versions, aliases, metrics",
        "Each model's versions (newest first), which aliases point at them and their\n"
        "metrics; the ten newest per model unless MODEL is named.",
        ["lookout models", "lookout model cancer --json"],
        as_json,
        wide,
        aliases=["model"],
    )
    m.add_argument("model", nargs="?", default=None, metavar="MODEL", help="only this model")

    pr = add(
        "promote",
        "request (or, where policy allows, perform) a promotion",
        "Ask to point ALIAS (production) at VERSION of MODEL. The gates are evaluated\n"
        "now; the policy decides whether it happens at once or waits for approval.",
        ['lookout promote cancer 3 --reason "better recall on the March data"'],
        as_json,
    )
    pr.add_argument("model", metavar="MODEL", help="the model")
    pr.add_argument("version", type=whole(1), metavar="VERSION", help="its version number")
    pr.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the audit)")
    pr.add_argument(
        "--alias", default="production", metavar="ALIAS", help="the alias to move (production)"
    )

    add(
        "requests",
        "promotion requests, pending first",
        "Promotion and rollback requests with their gates and approvals, pending first.",
        ["lookout requests", "lookout approvals --json"],
        as_json,
        wide,
        aliases=["approvals"],
    )

    for verb, what in (("approve", "approve"), ("reject", "turn down")):
        a = add(
            verb,
            f"{what} a pending promotion",
            f"{what.capitalize()} the pending request REQUEST (the approver role; under"
            " four-eyes not\nyour own request).",
            [
                f'lookout {verb} "#4" --reason "gates pass, checked the metrics"',
                f"lookout {verb} 4 --reason ok --json",
            ],
            as_json,
        )
        a.add_argument(
            "request",
            type=identifier,
            metavar="REQUEST",
            help="its id, as `requests` shows it: #4 or 4",
        )
        a.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the audit)")
        if verb == "approve":
            a.add_argument(
                "--override", action="store_true", help="approve despite failed gates (approver)"
            )

    rb = add(
        "rollback",
        "put the previous production version back",
        "Point production back at the version before it (or at --to VERSION, one that\n"
        "was production before). Immediate unless the policy asks for an approval.",
        [
            'lookout rollback cancer --reason "v4 mislabels class 2"',
            "lookout rollback cancer --to 2 --reason r",
        ],
        as_json,
    )
    rb.add_argument("model", metavar="MODEL", help="the model")
    rb.add_argument(
        "--to", type=whole(1), default=None, metavar="VERSION", help="an earlier production version"
    )
    rb.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the audit)")

    c = add(
        "checks",
        "latest result of each data check",
        "The latest result of every data check, failing first. Exits 1 when a check\n"
        "fails or could not be evaluated.",
        ["lookout checks", "lookout check --run breast_cancer --json"],
        as_json,
        wide,
        aliases=["check"],
    )
    c.add_argument(
        "--run", default=None, metavar="DATASET", help="evaluate a dataset's checks now (operator)"
    )

    dr = add(
        "drift",
        "drift per model and feature",
        "Each model's latest drift: per feature its method, score, threshold and level.\n"
        "The scheduler computes it on models.NAME.drift.schedule (1m); --run computes\n"
        "it now. Exits 1 when a model has drifted.",
        ["lookout drift", "lookout drift cancer --run"],
        as_json,
        wide,
    )
    dr.add_argument("model", nargs="?", default=None, metavar="MODEL", help="only this model")
    dr.add_argument(
        "--run",
        action="store_true",
        help="compute MODEL's drift now, not on its schedule (operator)",
    )

    e = add(
        "events",
        "the timeline",
        "Everything on-call may need, newest first: failed runs and checks, drift,\n"
        "promotions, rollbacks. --ack acknowledges one (operator).",
        ["lookout events --limit 20", 'lookout timeline --ack 12 --note "retrained"'],
        as_json,
        wide,
        aliases=["timeline"],
    )
    e.add_argument("--limit", type=whole(1), default=50, metavar="N", help="show the N newest (50)")
    e.add_argument(
        "--ack", type=identifier, default=None, metavar="EVENT", help="acknowledge an event"
    )
    e.add_argument("--note", default="", metavar="TEXT", help="note for --ack")

    lg = add(
        "log",
        "append a batch of inference inputs/outputs (or labels)",
        "Append FILE (CSV, Parquet or Arrow IPC) to MODEL's inference log: its feature\n"
        "columns, optionally prediction_id, prediction and timestamp; with --labels,\n"
        "prediction_id and label. A large file is logged in batches of at most 1M rows.\n"
        "Drift is computed on the model's drift schedule.",
        ["lookout log cancer batch.csv", "lookout log cancer labels.csv --labels"],
        as_json,
    )
    lg.add_argument("model", metavar="MODEL", help="the model that served the batch")
    lg.add_argument("file", metavar="FILE", help="a CSV, Parquet or Arrow IPC file")
    lg.add_argument("--labels", action="store_true", help="the file holds labels")

    au = add(
        "audit",
        "the audit chain",
        "The signed, chained record of every change, newest first. --verify checks\n"
        "every link, the signatures and the witness, and exits 1 if anything fails.",
        ["lookout audit --limit 20", "lookout audit --verify --full"],
        as_json,
        wide,
    )
    au.add_argument(
        "--verify",
        action="store_true",
        help="check every link, the signatures and the witness; exit 1 if anything fails",
    )
    au.add_argument("--full", action="store_true", help="with --verify: check every signature")
    au.add_argument(
        "--new-key", action="store_true", help="start signing with a fresh key (lost or exposed)"
    )
    au.add_argument(
        "--limit", type=whole(1), default=None, metavar="N", help="show the N newest entries"
    )

    add(
        "doctor",
        "check a workspace's owners, modes, socket and keys; say what to fix",
        "Whether the workspace is laid out so it can be trusted, with the command that\n"
        "fixes each problem. Exits 1 when there is one.",
        ["lookout doctor -w /srv/ml"],
        as_json,
    )

    sc = add(
        "screenshots",
        "write an SVG of every screen",
        "Draw every screen of the console, at 120×40 and 80×24, from a seeded workspace.",
        ["lookout screenshots --out /tmp/shots"],
    )
    sc.add_argument(
        "--out", default="screenshots", metavar="DIR", help="where to write them (screenshots)"
    )

    add(
        "metrics",
        "print the Prometheus metrics once",
        "The Prometheus exposition text the daemon's [metrics] listen serves, printed\n"
        "once (for node_exporter's textfile collector).",
        ["lookout metrics > /var/lib/node_exporter/lookout.prom"],
    )

    se = add(
        "search",
        "find events, stage logs, failing checks, audit reasons",
        "Events (and their notes), stage logs, failing check results and audit reasons\n"
        'that hold every word of TEXT, newest first. word* matches a prefix, "two words"\n'
        "a phrase.",
        ["lookout search timeout", "lookout search 'wine*' --json"],
        as_json,
        wide,
    )
    se.add_argument("text", nargs="+", metavar="TEXT", help="the words to find")
    se.add_argument(
        "--limit", type=whole(1), default=50, metavar="N", help="show the N newest hits (50)"
    )

    rp = add(
        "report",
        "the hand-off report: what happened while you were away",
        "Failed runs and whether they recovered, checks that did not pass, drift,\n"
        "promotions, rollbacks and overrides in the window; open events and pending\n"
        "approvals now.",
        [
            "lookout report --since 12h",
            "lookout report --since 3d --format html --out handoff.html",
        ],
    )
    rp.add_argument("--since", default="12h", metavar="DURATION", help="how far back (12h)")
    rp.add_argument(
        "--format",
        choices=("markdown", "html", "json"),
        default="markdown",
        help="markdown (the default), json, or html: one self-contained file",
    )
    rp.add_argument("--out", default=None, metavar="FILE", help="write to FILE, not stdout")

    co = add(
        "completion",
        "print a shell completion script",
        "Print a script that completes lookout's commands and options in SHELL.",
        [
            'eval "$(lookout completion bash)"        # in ~/.bashrc',
            "lookout completion zsh > ~/.zfunc/_lookout  # with ~/.zfunc in $fpath",
            "lookout completion fish > ~/.config/fish/completions/lookout.fish",
        ],
    )
    co.add_argument(
        "shell", choices=("bash", "zsh", "fish"), metavar="SHELL", help="bash, zsh or fish"
    )
    return p


# subcommands whose exit code reports health: a store they cannot read is unhealthy (1)
HEALTH = ("status", "audit")


def _io_error(exc: BaseException) -> str:
    """A store or file failure as one line: what failed, and where when known."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's parser by name (aliases too)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _unrecognized(parser: argparse.ArgumentParser, command: str | None, extra: list[str]) -> str:
    """What argparse calls "unrecognized arguments", with the option that was probably meant."""
    first = extra[0]
    where = subcommands(parser).get(command or "", parser)
    if first.startswith("-"):
        known = [o for a in where._actions for o in a.option_strings]
        close = difflib.get_close_matches(first.split("=", 1)[0], known, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        if first == "--readonly":
            hint = f" ({where.prog.split()[-1]} changes nothing, so there is nothing to refuse)"
        return f"{where.prog}: no option {shown(first)}{hint}"
    return f"{where.prog}: unexpected argument {shown(first)}"


def main(argv: Sequence[str] | None = None) -> int:
    prefer_fast_sort()
    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise UsageError(_unrecognized(parser, args.command, extra))
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
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except Failure as exc:
        return _failed(str(exc), exc.code, args, argv)
    except StoreError as exc:  # e.g. a change refused because the audit record does not hold
        return _failed(str(exc), 2, args, argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (sqlite3.Error, OSError) as exc:
        # A full disk or a failing store: every change is one transaction and every
        # pointer moves by rename, so nothing is left half-done; say so in one line.
        command = args.command if args is not None else None
        code = 1 if command in HEALTH else 2
        return _failed(f"{command or 'lookout'}: {_io_error(exc)}", code, args, argv)
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get(DEBUG_ENV):
            raise
        what = f"{type(exc).__name__}: {exc}"
        return _failed(f"unexpected error ({what}); {DEBUG_ENV}=1 shows where", 1, args, argv)


def _failed(message: str, code: int, args: argparse.Namespace | None, argv: list[str]) -> int:
    """One line on stderr; with --json also `{"ok": false, "error": ...}` on stdout."""
    line = error_line(message)
    print(line, file=sys.stderr)
    wants_json = getattr(args, "json", False) if args is not None else "--json" in argv
    if wants_json:
        text = line.removeprefix("lookout: ")
        # "message" too: the action commands' JSON always has one
        print_json({"ok": False, "error": text, "message": text, "exit": code})
    return code


if __name__ == "__main__":
    sys.exit(main())
