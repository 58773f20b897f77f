"""`lookout events [--json] [--wide] [--limit N] [--ack EVENT --note TEXT]`: the timeline:
open events first, then acknowledged ones, then resolved ones.

Acknowledging goes through the one door and needs the operator role."""

from __future__ import annotations

import argparse

from lookout.console.output import (
    UsageError,
    echo,
    echo_table,
    perform,
    print_json,
    refusal,
    workspace,
)
from lookout.storage import events
from lookout.storage.records import Event, iso


def as_json(e: Event) -> dict[str, object]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "severity": e.severity,
        "subject": e.subject,
        "message": e.message,
        "acked_by": e.acked_by,
        "acked_at": iso(e.acked_at),
        "note": e.ack_note,
        "resolved_at": iso(e.resolved_at),
    }


def run(args: argparse.Namespace) -> int:
    if args.ack is not None and args.readonly:
        raise UsageError("events --ack: refused in read-only mode")
    ws = workspace(args, readonly=args.ack is None, changing=args.ack is not None)
    if args.ack is not None:
        asked = perform(ws, "acknowledge", event=args.ack, note=args.note)
        if not asked.ok:
            refusal(asked)
        e = events.get_event(ws.store, args.ack)
        assert e is not None
        if args.json:
            print_json({"ok": True, "message": f"event {e.id} acknowledged", "event": as_json(e)})
        else:
            echo(f"event {e.id} acknowledged by {e.acked_by}")
        return 0
    rows = events.list_events(ws.store, limit=args.limit)
    if args.json:
        print_json({"events": [as_json(e) for e in rows]})
        return 0
    if not rows:
        echo("no events recorded")
        return 0
    echo_table(
        [
            [
                str(e.id),
                iso(e.at) or "",
                e.severity,
                e.kind,
                e.subject,
                e.message,
                "resolved"
                if e.resolved_at is not None
                else f"acked by {e.acked_by}"
                if e.acked_by
                else "open",
            ]
            for e in rows
        ],
        ["ID", "AT", "SEVERITY", "KIND", "SUBJECT", "MESSAGE", "STATE"],
        args.wide,
    )
    return 0
