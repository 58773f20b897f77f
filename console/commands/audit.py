"""`lookout audit [--verify [--full]] [--json] [--wide] [--limit N] [--new-key]`: the audit record.

`--verify` checks every link, the signatures and the witness, and exits 1 when
anything fails; `--new-key` starts signing with a fresh key.
"""

from __future__ import annotations

import argparse
from typing import Any

from lookout.console.output import UsageError, echo, echo_table, print_json, workspace
from lookout.scheduler import signing
from lookout.scheduler.config import Config
from lookout.storage import audit
from lookout.storage.records import AuditEntry, AuditVerification, iso


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
        "signature": e.signature,
    }


def witness_json(cfg: Config, result: AuditVerification) -> dict[str, Any] | None:
    path = signing.paths(cfg).witness
    if path is None:
        return None
    seen = result.witness
    return {
        "path": str(path),
        "seq": seen.seq if seen else None,
        "hash": seen.hash if seen else None,
        "reached": result.witness_reached,
    }


def summary(cfg: Config, result: AuditVerification, full: bool) -> list[str]:
    """What verify checked, in words: links, signatures, legacy entries, the witness."""
    if result.verified:
        lines = [f"✓ verified: {result.entries} entries, every link holds"]
    else:
        where = f"broken at entry {result.first_bad}" if result.first_bad else "not verified"
        lines = [f"✗ {where}: {result.problem}"]
    if result.signed:
        how = (
            "every signature checked"
            if full
            else f"{result.signatures_checked} signature(s) checked; the newest vouches for"
            " the rest (--full checks each)"
        )
        lines.append(f"  signed: {result.signed} entries ({how})")
    if result.legacy:
        lines.append(f"  legacy: {result.legacy} unsigned entries from before the workspace key")
    path = signing.paths(cfg).witness
    if path is None:
        lines.append(
            "  witness: none configured ([audit] witness): entries cut from the end would"
            " go unnoticed"
        )
    elif result.witness is None:
        lines.append(f"  witness: {path} has seen nothing yet")
    else:
        held = "reached" if result.witness_reached else "NOT reached"
        lines.append(f"  witness: {path} saw seq {result.witness.seq}; {held}")
    return lines


def _new_key(args: argparse.Namespace) -> int:
    if args.readonly:
        raise UsageError("audit --new-key: refused in read-only mode")
    ws = workspace(args, readonly=True)  # the keys are files: no store write needed
    try:
        fp = signing.new_key(ws.config)
    except signing.SigningError as exc:
        raise UsageError(str(exc)) from None
    echo(f"new audit signing key {fp[:16]}…; the next audited change records it")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.new_key:
        return _new_key(args)
    if args.full and not args.verify:
        raise UsageError("audit: --full goes with --verify")
    ws = workspace(args, readonly=True)
    entries = audit.entries(ws.store, limit=args.limit)
    result = signing.verify(ws.config, ws.store, full=args.full)
    if args.json:
        print_json(
            {
                "entries": [as_json(e) for e in entries],
                "verified": result.verified,
                "first_bad": result.first_bad,
                "problem": result.problem,
                "signed": result.signed,
                "legacy": result.legacy,
                "missing": result.missing,
                "signatures_checked": result.signatures_checked,
                "witness": witness_json(ws.config, result),
            }
        )
    else:
        if entries:
            echo_table(
                [
                    [str(e.seq), iso(e.at) or "", e.actor, e.action, e.subject, e.reason]
                    for e in entries
                ],
                ["SEQ", "AT", "ACTOR", "ACTION", "SUBJECT", "REASON"],
                args.wide,
            )
        else:
            echo("no audit entries recorded")
        if args.verify:
            for line in summary(ws.config, result, args.full):
                echo(line)
    if args.verify and not result.verified:
        return 1
    return 0
