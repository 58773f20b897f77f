"""The timeline: things an on-call person may need to see, acknowledge and close."""

from __future__ import annotations

import sqlite3
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.records import Event

_COLUMNS = (
    "id, at, kind, severity, subject, message, dedup_key, resolved_at, acked_by, acked_at,"
    " ack_note, batch"
)


# Kinds of event meaning that what serves may not be what was approved: shown in the
# console's header and failing `lookout status` while they are open.
CRITICAL_KINDS = ("serving_mismatch",)


def _event(row: sqlite3.Row) -> Event:
    return Event(**{k: row[k] for k in row.keys()})


def raise_event(
    conn: sqlite3.Connection,
    kind: str,
    subject: str,
    message: str,
    severity: str = "info",
    dedup_key: str | None = None,
    at: float | None = None,
    batch: str | None = None,
) -> Event:
    """Record an event inside the caller's transaction.

    With a `dedup_key`, an open event with that key is returned instead of a
    new one: a condition that stays bad pages once, until `resolve()`. Events
    raised by one run or one check pass share a `batch` ("run:12"), and
    notifications send them as one message.
    """
    if dedup_key is not None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE dedup_key = ? AND resolved_at IS NULL",
            (dedup_key,),
        ).fetchone()
        if row is not None:
            return _event(row)
    at = now() if at is None else at
    cur = conn.execute(
        "INSERT INTO events (at, kind, severity, subject, message, dedup_key, batch)"
        " VALUES (?,?,?,?,?,?,?)",
        (at, kind, severity, subject, message, dedup_key, batch),
    )
    row = conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _event(row)


def resolve(conn: sqlite3.Connection, dedup_key: str, at: float | None = None) -> int:
    """Close the open event with this key (the condition cleared); returns how many closed."""
    cur = conn.execute(
        "UPDATE events SET resolved_at = ? WHERE dedup_key = ? AND resolved_at IS NULL",
        (now() if at is None else at, dedup_key),
    )
    return cur.rowcount


def record(
    store: Store,
    kind: str,
    subject: str,
    message: str,
    severity: str = "info",
    dedup_key: str | None = None,
) -> Event:
    """`raise_event` in its own transaction."""
    with store.write() as conn:
        return raise_event(conn, kind, subject, message, severity, dedup_key)


def acknowledge(store: Store, event_id: int, actor: str, note: str = "") -> Event:
    """Mark an event seen by `actor`. Acknowledging twice keeps the first acknowledgement."""
    with store.write() as conn:
        row = conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise LookupError(f"no event {event_id}")
        if row["acked_at"] is None:
            conn.execute(
                "UPDATE events SET acked_by = ?, acked_at = ?, ack_note = ? WHERE id = ?",
                (actor, now(), note, event_id),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,)
            ).fetchone()
        return _event(row)


def list_events(
    store: Store,
    limit: int = 100,
    unacknowledged_first: bool = True,
    kind: str | None = None,
    subject: str | None = None,
) -> list[Event]:
    """Newest first; with `unacknowledged_first`, by state: open ones (neither acknowledged
    nor resolved) lead, then acknowledged ones, then resolved ones."""
    where: list[str] = []
    args: list[Any] = []
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    if subject is not None:
        where.append("subject = ?")
        args.append(subject)
    sql = f"SELECT {_COLUMNS} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = (
        "(resolved_at IS NOT NULL), (acked_at IS NOT NULL), id DESC"
        if unacknowledged_first
        else "id DESC"
    )
    sql += f" ORDER BY {order} LIMIT ?"
    args.append(limit)
    return [_event(r) for r in store.conn.execute(sql, args)]


def get_event(store: Store, event_id: int) -> Event | None:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
    return _event(row) if row else None


def count_open(store: Store) -> int:
    """Events that still need a person: not acknowledged, and their condition not cleared."""
    return count_states(store)[0]


def count_states(store: Store) -> tuple[int, int]:
    """(open, acknowledged) among the events whose condition has not cleared."""
    row = store.conn.execute(
        "SELECT"
        " (SELECT count(*) FROM events"
        "  WHERE (resolved_at IS NOT NULL) = 0 AND (acked_at IS NOT NULL) = 0),"
        " (SELECT count(*) FROM events"
        "  WHERE (resolved_at IS NOT NULL) = 0 AND (acked_at IS NOT NULL) = 1)"
    ).fetchone()
    return int(row[0]), int(row[1])


def open_event(conn: sqlite3.Connection, dedup_key: str) -> Event | None:
    """The unresolved event with this key, if any (is a condition already on the timeline?)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE dedup_key = ? AND resolved_at IS NULL",
        (dedup_key,),
    ).fetchone()
    return _event(row) if row else None


def open_counts(store: Store) -> dict[tuple[str, str], int]:
    """Open events (not acknowledged, not resolved) by (severity, kind), through the open index."""
    rows = store.conn.execute(
        "SELECT severity, kind, count(*) FROM events"
        " WHERE (acked_at IS NOT NULL OR resolved_at IS NOT NULL) = 0 GROUP BY severity, kind"
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def open_events(store: Store, limit: int = 200) -> list[Event]:
    """Events still needing a person (not acknowledged, not resolved), newest first."""
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE (acked_at IS NOT NULL OR resolved_at IS NOT NULL) = 0"
        " ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [_event(r) for r in rows]


def open_critical(store: Store) -> list[Event]:
    """Unresolved events of a critical kind, newest first (acknowledging one does not close
    it: only the condition clearing does)."""
    marks = ",".join("?" * len(CRITICAL_KINDS))
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE kind IN ({marks}) AND resolved_at IS NULL"
        " ORDER BY id DESC",
        CRITICAL_KINDS,
    )
    return [_event(r) for r in rows]
