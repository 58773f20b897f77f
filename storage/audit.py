"""The tamper-evident audit chain.

Each entry's hash is sha256 over the previous entry's hash and a canonical
JSON encoding of the entry, so editing, inserting or deleting an entry breaks
every link after it. Triggers refuse UPDATE and DELETE; `verify()` finds the
first broken link when someone goes around them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.records import AuditEntry, AuditVerification

GENESIS = "0" * 64


def entry_hash(
    prev_hash: str,
    seq: int,
    at: float,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": repr(float(at)),
            "actor": actor,
            "action": action,
            "subject": subject,
            "reason": reason,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any] | None = None,
    at: float | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's write transaction (see `Store.write`)."""
    if not conn.in_transaction:
        raise RuntimeError("audit.append must run inside Store.write()")
    details = details or {}
    at = now() if at is None else at
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (last["seq"] + 1) if last else 1
    prev = last["hash"] if last else GENESIS
    digest = entry_hash(prev, seq, at, actor, action, subject, reason, details)
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, reason, details_json, prev_hash, hash)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (
            seq,
            at,
            actor,
            action,
            subject,
            reason,
            json.dumps(details, sort_keys=True),
            prev,
            digest,
        ),
    )
    return AuditEntry(seq, at, actor, action, subject, reason, details, prev, digest)


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        reason=row["reason"],
        details=json.loads(row["details_json"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def entries(store: Store, limit: int | None = None, subject: str | None = None) -> list[AuditEntry]:
    """Newest first."""
    sql = "SELECT * FROM audit"
    args: list[Any] = []
    if subject is not None:
        sql += " WHERE subject = ?"
        args.append(subject)
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [_entry(r) for r in store.conn.execute(sql, args)]


def verify(store: Store) -> AuditVerification:
    """Walk the chain from the start; name the first entry that does not hold."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    for row in store.conn.execute("SELECT * FROM audit ORDER BY seq"):
        count += 1
        seq = row["seq"]
        if seq != expected_seq:
            return AuditVerification(False, expected_seq, f"entry {expected_seq} is missing", count)
        if row["prev_hash"] != prev:
            return AuditVerification(
                False, seq, f"entry {seq} does not follow entry {seq - 1}", count
            )
        try:
            details = json.loads(row["details_json"])
        except ValueError:
            return AuditVerification(False, seq, f"entry {seq} has unreadable details", count)
        digest = entry_hash(
            prev,
            seq,
            row["at"],
            row["actor"],
            row["action"],
            row["subject"],
            row["reason"],
            details,
        )
        if digest != row["hash"]:
            return AuditVerification(False, seq, f"entry {seq} was altered", count)
        prev = row["hash"]
        expected_seq += 1
    return AuditVerification(True, None, None, count)
