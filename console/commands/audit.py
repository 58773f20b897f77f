"""`lookout audit [--verify] [--json]`: the audit chain; exit 1 when verification fails."""

from __future__ import annotations

import argparse

from lookout.console.output import print_json, table, workspace
from lookout.storage import audit
from lookout.storage.records import AuditEntry, iso


def as_json(e: AuditEntry) -> dict[str, object]:
    return {
        "seq": e.seq,
        "at": iso(e.at),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "reason": e.reason,
        "details": e.details,
        "hash": e.hash,
    }


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    entries = audit.entries(ws.store, limit=args.limit)
    result = audit.verify(ws.store)
    if args.json:
        print_json(
            {
                "entries": [as_json(e) for e in entries],
                "verified": result.verified,
                "first_bad": result.first_bad,
                "problem": result.problem,
            }
        )
    else:
        if entries:
            print(
                table(
                    [
                        [str(e.seq), iso(e.at) or "", e.actor, e.action, e.subject, e.reason]
                        for e in entries
                    ],
                    ["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "REASON"],
                )
            )
        else:
            print("no audit entries recorded")
        if args.verify:
            if result.verified:
                print(f"✓ verified: {result.entries} entries, every link holds")
            else:
                print(f"✗ broken at entry {result.first_bad}: {result.problem}")
    if args.verify and not result.verified:
        return 1
    return 0
