"""`lookout search TEXT [--json] [--wide]`: events, stage logs, failing checks and audit reasons that
mention every word of TEXT, newest first."""

from __future__ import annotations

import argparse

from lookout.console.output import UsageError, echo, echo_table, print_json, workspace
from lookout.storage import search
from lookout.storage.records import iso

LABELS = {"event": "event", "log": "run", "check": "result", "audit": "audit"}


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    try:
        hits = search.search(ws.store, " ".join(args.text), limit=args.limit)
    except search.SearchError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json(
            {
                "results": [
                    {
                        "kind": h.kind,
                        "id": h.id,
                        "at": iso(h.at),
                        "subject": h.subject,
                        "text": h.text,
                    }
                    for h in hits
                ]
            }
        )
        return 0
    if not hits:
        echo("nothing found")
        return 0
    rows = [[iso(h.at) or "", h.kind, f"{LABELS[h.kind]} {h.id}", h.subject, h.text] for h in hits]
    echo_table(rows, ["AT", "KIND", "ID", "SUBJECT", "TEXT"], args.wide)
    return 0
