"""The audit record: a sha256 chain of entries, signed by the workspace key, witnessed.

Links. Each entry's hash is sha256 over the previous entry's hash, the previous
entry's signature ("" when it has none) and a canonical JSON encoding of the entry.
Editing, inserting or deleting an entry, or changing a signature, breaks every link
after it. For entries that follow an unsigned one this is the formula stores used
before signing existed, so their "legacy" entries still verify.

Signatures. A store opened with a `Signer` signs each entry's hash with the
workspace's Ed25519 key inside the writing transaction (`lookout.scheduler.signing`
owns the keys and the witness; this module stays stdlib-only and calls them). The
first entry a key signs is a `key` entry naming its fingerprint; from the first
signed entry on, every entry is signed, by the key the newest `key` entry before it
names, and only keys the workspace's public key file lists count. Before signing,
the writer checks that the record it extends holds at its end: the newest entry's
hash and signature, and that the record still reaches the last witnessed head. It
refuses to sign on top of anything else (`AuditBroken`), so a signature vouches for
everything before it; `verify` relies on that.

Witness. After every commit that moved the head, the signer appends it (seq, hash,
signature, key) to a file outside the workspace. Signatures cannot show that entries
were cut from the end; the witness can.

Triggers refuse UPDATE and DELETE; `verify` finds what someone did going around them.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lookout.storage.db import Store, StoreConnection, StoreError, now
from lookout.storage.records import AuditEntry, AuditHead, AuditVerification

GENESIS = "0" * 64
KEY_ACTION = "key"  # the entry that introduces a signing key
KEY_ACTOR = "lookout"

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_string = json.encoder.encode_basestring_ascii  # what _canonical does with a str, in C
_COLUMNS = "seq, at, actor, action, subject, reason, details_json, prev_hash, hash"


class AuditBroken(StoreError):
    """The record does not hold where a writer would extend it; nothing is signed on top."""


class Keys(Protocol):
    """The public keys a workspace trusts, by fingerprint (its public key file)."""

    def knows(self, fingerprint: str) -> bool: ...

    def holds(self, fingerprint: str, signature: bytes, message: bytes) -> bool:
        """Whether `signature` over `message` verifies under that key (False if unknown)."""
        ...


class Signer(Keys, Protocol):
    """What a writing store needs from `lookout.scheduler.signing`."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def problem(self) -> str | None:
        """Why this process cannot sign (its key is missing or unreadable), or None."""
        ...

    def sign(self, message: bytes) -> bytes: ...

    def witnessed(self) -> AuditHead | None:
        """The last head the witness saw (None: no witness, or nothing witnessed yet)."""
        ...

    def publish(self, head: Callable[[AuditHead | None], AuditHead | None]) -> None:
        """Append `head(last witnessed head)` to the witness unless that is None."""
        ...


def message(digest: str) -> bytes:
    """What a signature covers: an entry's hash (which commits to everything before it)."""
    return b"lookout audit entry " + digest.encode()


def _body(
    seq: int, at: float, actor: str, action: str, subject: str, reason: str, details: str
) -> str:
    """The canonical JSON of an entry (sorted keys, no spaces, ASCII), `details` already
    canonical: the text `_canonical` makes of the whole dict, built without one."""
    return (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"at":{_string(repr(float(at)))},'
        f'"details":{details},"reason":{_string(reason)},"seq":{int(seq)},'
        f'"subject":{_string(subject)}}}'
    )


def entry_hash(
    prev_hash: str,
    seq: int,
    at: float,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any],
    prev_signature: str = "",
) -> str:
    body = _body(seq, at, actor, action, subject, reason, _canonical(details))
    return hashlib.sha256((prev_hash + prev_signature + body).encode()).hexdigest()


def _signatures(conn: sqlite3.Connection) -> str:
    """The signature column, or NULL on a store not migrated yet (opened read-only)."""
    names = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    return "signature" if "signature" in names else "NULL AS signature"


def _row(conn: sqlite3.Connection, where: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
    sql = f"SELECT {_COLUMNS}, {_signatures(conn)} FROM audit {where}"
    row: sqlite3.Row | None = conn.execute(sql, args).fetchone()
    return row


def _newest_key(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(seq, fingerprint) of the newest key entry (index `audit_keys`)."""
    row = conn.execute(
        "SELECT seq, details_json FROM audit WHERE action = ? ORDER BY seq DESC LIMIT 1",
        (KEY_ACTION,),
    ).fetchone()
    if row is None:
        return None
    try:
        fingerprint = json.loads(row[1]).get("fingerprint")
    except (ValueError, AttributeError):
        fingerprint = None
    return row[0], str(fingerprint)


def _holds(keys: Keys, fingerprint: str, signature: str | None, digest: str) -> bool:
    if signature is None or not keys.knows(fingerprint):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return keys.holds(fingerprint, raw, message(digest))


def _end_problem(
    conn: sqlite3.Connection, signer: Signer, key: tuple[int, str] | None
) -> str | None:
    """Why the writer must not extend the record (None: its end holds).

    Checks the newest entry only (its hash and, once the record is signed, its
    signature), plus the witness: O(1) per append, which with `verify`'s walk over
    every link is what lets one signature vouch for everything before it.
    """
    last = _row(conn, "ORDER BY seq DESC LIMIT 1")
    seen = signer.witnessed()
    if last is None:
        if seen is not None:
            return f"the record is empty, but the witness saw seq {seen.seq}"
        return None
    seq = last["seq"]
    before = _row(conn, "WHERE seq = ?", (seq - 1,)) if seq > 1 else None
    prev = before["hash"] if before is not None else GENESIS
    try:
        details = json.loads(last["details_json"])
    except ValueError:
        return f"entry {seq} has unreadable details"
    digest = entry_hash(
        prev,
        seq,
        last["at"],
        last["actor"],
        last["action"],
        last["subject"],
        last["reason"],
        details,
        (before["signature"] or "") if before is not None else "",
    )
    if last["prev_hash"] != prev or digest != last["hash"]:
        return f"entry {seq} was altered"
    if key is not None:
        if last["signature"] is None:
            return f"entry {seq} is not signed"
        if not _holds(signer, key[1], last["signature"], last["hash"]):
            return f"entry {seq} is not signed by the workspace key"
    if seen is not None:
        if seen.seq > seq:
            return _missing_text(seen.seq - seq, seq, seen.seq)
        at = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seen.seq,)).fetchone()
        if at is None or at[0] != seen.hash:
            return f"entry {seen.seq} is not the entry the witness saw"
    return None


def _missing_text(missing: int, newest: int, seen: int) -> str:
    if newest == 0:
        return f"all {missing} entries are missing: the witness saw seq {seen}"
    noun = "entry" if missing == 1 else "entries"
    verb = "is" if missing == 1 else "are"
    return f"{missing} {noun} after seq {newest} {verb} missing: the witness saw seq {seen}"


def _insert(
    conn: sqlite3.Connection,
    signer: Signer | None,
    at: float,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any],
) -> AuditEntry:
    last = _row(conn, "ORDER BY seq DESC LIMIT 1")
    seq = (last["seq"] + 1) if last else 1
    prev = last["hash"] if last else GENESIS
    prev_signature = (last["signature"] or "") if last else ""
    digest = entry_hash(prev, seq, at, actor, action, subject, reason, details, prev_signature)
    signature = None
    if signer is not None:
        signature = base64.b64encode(signer.sign(message(digest))).decode()
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, reason, details_json, prev_hash,"
        " hash, signature) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            seq,
            at,
            actor,
            action,
            subject,
            reason,
            _canonical(details),  # canonical, so that verify can hash the text as stored
            prev,
            digest,
            signature,
        ),
    )
    return AuditEntry(seq, at, actor, action, subject, reason, details, prev, digest, signature)


def append(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any] | None = None,
    at: float | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's write transaction (see `Store.write`).

    Signed when the store was opened with a signer; a key the record has not seen
    yet is introduced by a `key` entry first, in the same transaction. Raises
    `AuditBroken` when the record's end does not hold, and StoreError when the
    record is signed but this process cannot sign.
    """
    if not conn.in_transaction:
        raise RuntimeError("audit.append must run inside Store.write()")
    details = details or {}
    at = now() if at is None else at
    actor, action, subject, reason = str(actor), str(action), str(subject), str(reason)
    signer: Signer | None = getattr(conn, "signer", None)
    key = _newest_key(conn)
    if signer is None:
        if key is not None:
            raise StoreError(
                "the audit record is signed and this process has no signing key: changes"
                " are recorded by the workspace's owner, or in shared mode by its daemon"
            )
        return _insert(conn, None, at, actor, action, subject, reason, details)
    if signer.problem:
        raise StoreError(signer.problem)
    problem = _end_problem(conn, signer, key)
    if problem:
        raise AuditBroken(
            f"the audit record does not hold ({problem}); nothing more is recorded until"
            " someone looks into it: run `lookout audit --verify`"
        )
    if key is None or key[1] != signer.fingerprint:
        _insert(
            conn,
            signer,
            at,
            KEY_ACTOR,
            KEY_ACTION,
            signer.fingerprint[:16],
            "this key signs the entries that follow",
            {"fingerprint": signer.fingerprint},
        )
    entry = _insert(conn, signer, at, actor, action, subject, reason, details)
    if isinstance(conn, StoreConnection):
        conn.audit_moved = True
    return entry


def head(store: Store) -> AuditHead | None:
    """The newest entry as the witness keeps it; None while the record is unsigned."""
    conn = store.conn
    row = _row(conn, "ORDER BY seq DESC LIMIT 1")
    key = _newest_key(conn)
    if row is None or row["signature"] is None or key is None:
        return None
    return AuditHead(row["seq"], row["hash"], row["signature"], key[1])


def publishable(store: Store, seen: AuditHead | None) -> AuditHead | None:
    """The head to give the witness after `seen`, or None.

    Only a head that is newer than what the witness saw, extends it (the record
    still holds `seen`'s hash at its seq) and is signed by a trusted key: a record
    cut back or rewritten is never published over the evidence against it.
    """
    current = head(store)
    if current is None or store.signer is None:
        return None
    if not _holds(store.signer, current.key, current.signature, current.hash):
        return None
    if seen is not None:
        if current.seq <= seen.seq:
            return None
        there = store.conn.execute("SELECT hash FROM audit WHERE seq = ?", (seen.seq,)).fetchone()
        if there is None or there[0] != seen.hash:
            return None
    return current


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
        signature=row["signature"],
    )


def entries(store: Store, limit: int | None = None, subject: str | None = None) -> list[AuditEntry]:
    """Newest first."""
    conn = store.conn
    sql = f"SELECT {_COLUMNS}, {_signatures(conn)} FROM audit"
    args: list[Any] = []
    if subject is not None:
        sql += " WHERE subject = ?"
        args.append(subject)
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [_entry(r) for r in conn.execute(sql, args)]


@dataclass
class _Walk:
    """What one pass over every link learns; `problem` is the first link that fails."""

    count: int = 0
    newest: int = 0
    first_signed: int | None = None
    hashes: list[str] = field(default_factory=list)
    signatures: list[str | None] = field(default_factory=list)
    key_seqs: list[int] = field(default_factory=list)
    key_fingerprints: list[str] = field(default_factory=list)
    problem: tuple[int, str] | None = None


def _walk(store: Store) -> _Walk:
    """Recompute every hash, in seq order, with plain tuples (the fast part of verify)."""
    conn = store.conn
    w = _Walk()
    w.newest = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
    loads, sha256 = json.loads, hashlib.sha256
    prev, prev_signature, expected = GENESIS, "", 1
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(f"SELECT {_COLUMNS}, {_signatures(conn)} FROM audit ORDER BY seq")
    for seq, at, actor, action, subject, reason, details_json, prev_hash, digest, sig in rows:
        w.count += 1
        if seq != expected:
            w.problem = (expected, f"entry {expected} is missing")
            break
        if prev_hash != prev:
            w.problem = (seq, f"entry {seq} does not follow entry {seq - 1}")
            break
        try:
            # Entries keep their details as canonical text, so hashing the text as
            # stored is the fast path; legacy entries kept `json.dumps` spacing and
            # need a parse and re-encoding.
            body = _body(seq, at, actor, action, subject, reason, details_json)
            if sha256((prev + prev_signature + body).encode()).hexdigest() != digest:
                body = _body(
                    seq, at, actor, action, subject, reason, _canonical(loads(details_json))
                )
                if sha256((prev + prev_signature + body).encode()).hexdigest() != digest:
                    w.problem = (seq, f"entry {seq} was altered")
                    break
        except (ValueError, TypeError):
            w.problem = (seq, f"entry {seq} has unreadable details")
            break
        if sig is None:
            if w.first_signed is not None or action == KEY_ACTION:
                w.problem = (seq, f"entry {seq} is not signed")
                break
        elif w.first_signed is None:
            w.first_signed = seq
            if action != KEY_ACTION:
                w.problem = (seq, f"entry {seq} is signed, but no key entry introduces its key")
                break
        if action == KEY_ACTION:
            details = loads(details_json)
            fingerprint = details.get("fingerprint") if isinstance(details, dict) else None
            w.key_seqs.append(seq)
            w.key_fingerprints.append(str(fingerprint))
        w.hashes.append(digest)
        w.signatures.append(sig)
        prev, prev_signature = digest, sig or ""
        expected += 1
    return w


def verify(
    store: Store,
    keys: Keys | None = None,
    witnessed: AuditHead | None = None,
    *,
    full: bool = False,
) -> AuditVerification:
    """Check every link, the signatures, and that the record reaches the witnessed head.

    Names the first bad entry, or how many entries are missing. `keys` defaults to
    the store's own signer; `witnessed` is the last head the witness saw.

    Why checking the newest signature is enough (and `full=False` is the default):
    let V(k) be "entry k's signature verifies under a trusted key, the one the newest
    key entry up to k names". Suppose the walk found every link intact, so each
    stored hash is sha256(previous hash + previous signature + entry k as stored).
    If V(k) holds, the writer signed exactly that hash, and a writer signs entry k
    only after checking that entry k-1 as it then stood was signed and verified
    (`append`). Since hash k commits to entry k-1's hash and signature, by sha256's
    collision resistance the stored entry k-1 is that one, so V(k-1) holds. By
    induction V(newest) implies V(k) for every k from the first signed entry on:
    one signature check vouches for the whole signed record.

    The same argument makes V monotone: once it fails at some k, it fails for every
    later entry. So when the newest signature fails, a binary search over the signed
    range finds the first k where V fails, which is the first forged or altered
    entry, in about log2(n) checks (17 for 100k entries). `full=True` checks every
    signature instead (~0.1 ms each), for whoever does not want to rely on the
    writer having checked.
    """
    keys = keys if keys is not None else store.signer
    w = _walk(store)
    problem: tuple[int | None, str] | None = w.problem
    checked = 0
    signed = 0
    legacy = w.count if w.first_signed is None else w.first_signed - 1
    if w.first_signed is not None:
        signed = w.count - legacy

    def fails(seq: int) -> tuple[int, str] | None:
        assert keys is not None
        nonlocal checked
        checked += 1
        i = bisect.bisect_right(w.key_seqs, seq) - 1
        key_seq, fingerprint = w.key_seqs[i], w.key_fingerprints[i]
        if not keys.knows(fingerprint):
            return (
                key_seq,
                f"entry {key_seq} introduces key {fingerprint[:16]}, which is not among"
                " the workspace's public keys",
            )
        if not _holds(keys, fingerprint, w.signatures[seq - 1], w.hashes[seq - 1]):
            return (
                seq,
                f"entry {seq} was altered or forged: it is not signed by the workspace key",
            )
        return None

    if w.problem is not None and keys is not None and w.first_signed is not None:
        # A link that fails right after a signed entry may be that entry's signature
        # having been swapped: then name the entry whose bytes changed.
        seq = w.problem[0] - 1
        i = bisect.bisect_right(w.key_seqs, seq) - 1
        if w.first_signed <= seq <= len(w.hashes) and i >= 0:
            checked += 1
            if not _holds(keys, w.key_fingerprints[i], w.signatures[seq - 1], w.hashes[seq - 1]):
                problem = (seq, f"the signature of entry {seq} was changed")
    if problem is None and w.first_signed is not None and keys is None:
        problem = (None, f"cannot check {signed} signed entries: no public key to check them with")
    if problem is None and w.first_signed is not None:
        first, newest = w.first_signed, len(w.hashes)
        if full:
            for seq in range(first, newest + 1):
                problem = fails(seq)
                if problem:
                    break
        else:
            problem = fails(newest)
            if problem is not None:
                lo, hi = first, newest  # fails(hi) holds; find the smallest such seq
                while lo < hi:
                    mid = (lo + hi) // 2
                    found = fails(mid)
                    if found is not None:
                        hi, problem = mid, found
                    else:
                        lo = mid + 1

    missing = 0
    reached: bool | None = None
    if witnessed is not None:
        missing = max(0, witnessed.seq - w.newest)
        there = store.conn.execute(
            "SELECT hash FROM audit WHERE seq = ?", (witnessed.seq,)
        ).fetchone()
        reached = missing == 0 and there is not None and there[0] == witnessed.hash
        seen_problem: tuple[int | None, str] | None = None
        if missing:
            seen_problem = (w.newest + 1, _missing_text(missing, w.newest, witnessed.seq))
        elif not reached:
            seen_problem = (
                witnessed.seq,
                f"entry {witnessed.seq} is not the entry the witness saw: the record was rewritten",
            )
        elif keys is None or not _holds(keys, witnessed.key, witnessed.signature, witnessed.hash):
            seen_problem = (
                witnessed.seq,
                f"the witness's head (seq {witnessed.seq}) is not signed by the workspace key",
            )
        if problem is None:
            problem = seen_problem

    return AuditVerification(
        verified=problem is None,
        first_bad=problem[0] if problem else None,
        problem=problem[1] if problem else None,
        entries=w.count,
        signed=signed,
        legacy=legacy,
        missing=missing,
        signatures_checked=checked,
        witness=witnessed,
        witness_reached=reached,
    )
