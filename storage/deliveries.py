"""Webhook delivery records: which event went to which target, and how it went.

A delivery row is written `pending` before the request goes out and updated
with the outcome afterwards, so a crash in between leaves a row the next pass
sends again rather than an event that is silently dropped.

Events sent together share the row's `message` key. For a paging receiver
(PagerDuty, Alertmanager) a delivered row stays `open` until the receiver has
been told its event resolved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.events import _COLUMNS as _EVENT_COLUMNS
from lookout.storage.events import _event
from lookout.storage.records import Delivery, Event

STATUSES = ("pending", "delivered", "failed", "suppressed")


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(**{k: row[k] for k in row.keys()})


def undelivered(
    store: Store,
    target: str,
    kinds: Sequence[str],
    since: float,
    limit: int = 100,
    severities: Sequence[str] = (),
) -> list[Event]:
    """Events the target has not been offered yet, oldest first.

    Events are offered in id order, so everything up to the target's highest
    recorded event id has been handled; a target with no record yet starts
    with events from `since` on (a new webhook does not get the whole history).
    `kinds` or `severities` empty means every kind or severity.
    """
    conn = store.conn
    row = conn.execute(
        "SELECT max(event_id) FROM deliveries WHERE target = ?", (target,)
    ).fetchone()
    where = ["id > ?"] if row[0] is not None else ["at >= ?"]
    args: list[Any] = [row[0] if row[0] is not None else since]
    for column, wanted in (("kind", kinds), ("severity", severities)):
        if wanted:
            where.append(f"{column} IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
    args.append(limit)
    sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
    return [_event(r) for r in conn.execute(sql, args)]


def pending(store: Store, target: str) -> list[tuple[Delivery, Event]]:
    """Deliveries claimed but never finished (the sender stopped mid-way), oldest first."""
    rows = store.conn.execute(
        "SELECT id FROM deliveries WHERE target = ? AND status = 'pending' ORDER BY id", (target,)
    ).fetchall()
    return [_with_event(store, get(store, int(r[0]))) for r in rows]


def recently_delivered(
    store: Store, target: str, kind: str, subject: str, since: float, exclude_event: int
) -> bool:
    """Did this target get an event of the same kind and subject at or after `since`?"""
    row = store.conn.execute(
        "SELECT 1 FROM deliveries d JOIN events e ON e.id = d.event_id"
        " WHERE d.target = ? AND d.status = 'delivered' AND d.at >= ?"
        " AND e.kind = ? AND e.subject = ? AND e.id != ? LIMIT 1",
        (target, since, kind, subject, exclude_event),
    ).fetchone()
    return row is not None


def claim(
    store: Store, target: str, event_ids: Sequence[int], keys: Mapping[int, str] | None = None
) -> list[Delivery]:
    """Record, in one transaction, that these events are about to be sent to `target`,
    each under its message key in `keys` (events sharing a key go out as one message)."""
    if not event_ids:
        return []
    out = []
    with store.write() as conn:
        for event_id in event_ids:
            cur = conn.execute(
                "INSERT INTO deliveries (event_id, target, status, attempts, at, message)"
                " VALUES (?,?,'pending',0,?,?)",
                (event_id, target, now(), (keys or {}).get(event_id)),
            )
            row = conn.execute("SELECT * FROM deliveries WHERE id = ?", (cur.lastrowid,)).fetchone()
            out.append(_delivery(row))
    return out


def finish(
    store: Store,
    delivery_id: int,
    status: str,
    attempts: int,
    code: int | None,
    detail: str,
    open: bool = False,
) -> Delivery:
    """Record the outcome of one delivery; `open` when the receiver now shows it firing."""
    if status not in STATUSES:
        raise ValueError(f"unknown delivery status {status!r}")
    with store.write() as conn:
        conn.execute(
            "UPDATE deliveries SET status = ?, attempts = ?, code = ?, detail = ?, at = ?,"
            " open = ? WHERE id = ?",
            (status, attempts, code, detail, now(), int(open), delivery_id),
        )
        row = conn.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
    return _delivery(row)


def open_pages(store: Store, target: str) -> list[tuple[Delivery, Event]]:
    """Delivered events the target still shows firing, oldest first (through a partial
    index that holds only the open rows)."""
    ids = store.conn.execute(
        "SELECT id FROM deliveries WHERE target = ? AND open = 1 ORDER BY id", (target,)
    ).fetchall()
    return [_with_event(store, get(store, int(r[0]))) for r in ids]


def _with_event(store: Store, d: Delivery) -> tuple[Delivery, Event]:
    row = store.conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (d.event_id,)
    ).fetchone()
    return d, _event(row)


def page_sent(
    store: Store, delivery_ids: Sequence[int], closed: Sequence[int], detail: str
) -> None:
    """A page went out again: `closed` rows are resolved at the receiver, the rest stay open."""
    shut = set(closed)
    with store.write() as conn:
        for delivery_id in delivery_ids:
            conn.execute(
                "UPDATE deliveries SET open = ?, at = ?, detail = ? WHERE id = ?",
                (0 if delivery_id in shut else 1, now(), detail, delivery_id),
            )


def get(store: Store, delivery_id: int) -> Delivery:
    row = store.conn.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
    if row is None:
        raise LookupError(f"no delivery {delivery_id}")
    return _delivery(row)


def list_deliveries(
    store: Store,
    target: str | None = None,
    event_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Newest first, optionally for one target, event or status."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("target", target), ("event_id", event_id), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = "SELECT * FROM deliveries"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [_delivery(r) for r in store.conn.execute(sql, args)]


def outcome_counts(store: Store) -> dict[tuple[str, str], int]:
    """Deliveries by (target, status), over every delivery kept."""
    rows = store.conn.execute(
        "SELECT target, status, count(*) FROM deliveries GROUP BY target, status"
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}
