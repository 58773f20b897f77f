"""`lookout report [--since 12h] [--format markdown|html|json] [--out FILE]`: the hand-off
report, what happened while you were away and what still needs a person."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lookout.console.output import UsageError, echo, workspace
from lookout.scheduler import report, report_html
from lookout.scheduler.validate import Invalid, duration
from lookout.storage.db import now


def render(rep: report.Report, fmt: str) -> str:
    if fmt == "html":
        return report_html.render(rep)
    if fmt == "json":
        return json.dumps(report.as_json(rep), indent=2, allow_nan=False) + "\n"
    return report.markdown(rep)


def run(args: argparse.Namespace) -> int:
    try:
        window = duration("--since", args.since)
    except Invalid as exc:
        raise UsageError(f"report: {exc.path}: {exc.message}") from None
    ws = workspace(args, readonly=True)
    text = render(report.build(ws, now() - window), args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"report: cannot write {args.out}: {exc.strerror or exc}") from None
    echo(f"report written to {args.out}")
    return 0
