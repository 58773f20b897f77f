"""Reads over a window of history, for the hand-off report: what happened since a time.

Ids follow time in the tables read here (rows are appended as things happen),
so a window starts at the first id at or after its start, found by a binary
search over the rowid; every scan then reads only the window, never the
older history. Chart series come back already bucketed by SQL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from lookout.storage.db import Store
from lookout.storage.records import AliasTransition

_WINDOWED = {"check_results", "drift_results", "runs", "events", "alias_transitions", "approvals"}


def first_id(conn: sqlite3.Connection, table: str, since: float) -> int:
    """The smallest id whose `at` is at or after `since` (one past the last id if none):
    a binary search over the rowid, about twenty lookups for a million rows."""
    if table not in _WINDOWED:
        raise ValueError(f"not a windowed table: {table}")
    column = "created_at" if table == "runs" else "at"
    bounds = conn.execute(f"SELECT min(id), max(id) FROM {table}").fetchone()
    if bounds[0] is None:
        return 1
    lo, hi = int(bounds[0]), int(bounds[1]) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            f"SELECT id, {column} FROM {table} WHERE id >= ? ORDER BY id LIMIT 1", (mid,)
        ).fetchone()
        if row is None or row[1] >= since:
            hi = mid
        else:
            lo = int(row[0]) + 1
    return lo


@dataclass(frozen=True)
class FailedRun:
    id: int
    pipeline: str
    status: str  # failed | interrupted
    at: float  # when it ended (or was created, if it never did)
    error: str | None


def failed_runs(store: Store, since: float) -> list[FailedRun]:
    """Runs created in the window that failed or were interrupted, oldest first."""
    conn = store.conn
    start = first_id(conn, "runs", since)
    rows = conn.execute(
        "SELECT id, pipeline, status, coalesce(ended_at, created_at), error FROM runs"
        " WHERE id >= ? AND status IN ('failed','interrupted') ORDER BY id",
        (start,),
    ).fetchall()
    return [FailedRun(int(r[0]), r[1], r[2], float(r[3]), r[4]) for r in rows]


@dataclass(frozen=True)
class CheckActivity:
    """One check's results in one time bucket of the window."""

    dataset: str
    name: str
    severity: str
    bucket: int
    result: str
    count: int
    first_at: float
    last_at: float


def check_activity(store: Store, since: float, width: float) -> list[CheckActivity]:
    """Every check's results in the window, counted per `width`-second bucket and result."""
    conn = store.conn
    start = first_id(conn, "check_results", since)
    rows = conn.execute(
        "SELECT c.dataset, c.name, r.severity, CAST((r.at - ?) / ? AS INTEGER) AS b, r.result,"
        " count(*), min(r.at), max(r.at) FROM check_results r JOIN checks c ON c.id = r.check_id"
        " WHERE r.id >= ? GROUP BY r.check_id, b, r.result",
        (since, width, start),
    ).fetchall()
    return [
        CheckActivity(r[0], r[1], r[2], int(r[3]), r[4], int(r[5]), float(r[6]), float(r[7]))
        for r in rows
    ]


@dataclass(frozen=True)
class DriftPoint:
    model: str
    bucket: int
    share: float  # the highest share of drifted features in the bucket
    level: str  # the worst level in the bucket


def drift_series(store: Store, since: float, width: float) -> list[DriftPoint]:
    """Each model's drift in the window, per `width`-second bucket (its worst moment)."""
    conn = store.conn
    start = first_id(conn, "drift_results", since)
    rows = conn.execute(
        "SELECT model, CAST((at - ?) / ? AS INTEGER) AS b, max(share),"
        " max(CASE level WHEN 'drift' THEN 3 WHEN 'warn' THEN 2 WHEN 'error' THEN 1 ELSE 0 END)"
        " FROM drift_results WHERE id >= ? GROUP BY model, b ORDER BY model, b",
        (since, width, start),
    ).fetchall()
    levels = ("ok", "error", "warn", "drift")
    return [DriftPoint(r[0], int(r[1]), float(r[2]), levels[int(r[3])]) for r in rows]


@dataclass(frozen=True)
class Episode:
    """A drift event: when the model drifted, and when (if) it came back."""

    id: int
    model: str
    at: float
    resolved_at: float | None
    message: str


def drift_episodes(store: Store, since: float) -> list[Episode]:
    """Drift events raised in the window, or raised before it and not over when it began."""
    rows = store.conn.execute(
        "SELECT id, subject, at, resolved_at, message FROM events WHERE kind = 'drift'"
        " AND (id >= ? OR resolved_at IS NULL OR resolved_at >= ?) ORDER BY id",
        (first_id(store.conn, "events", since), since),
    ).fetchall()
    return [Episode(int(r[0]), r[1], float(r[2]), r[3], r[4]) for r in rows]


def transitions_since(store: Store, since: float) -> list[AliasTransition]:
    """Alias moves in the window (promotions, rollbacks, outside changes), oldest first;
    registering a new candidate is not a change anyone must hear about."""
    start = first_id(store.conn, "alias_transitions", since)
    rows = store.conn.execute(
        "SELECT * FROM alias_transitions WHERE id >= ? AND kind <> 'register' ORDER BY id",
        (start,),
    ).fetchall()
    return [AliasTransition(**{k: r[k] for k in r.keys()}) for r in rows]


@dataclass(frozen=True)
class Override:
    """An approval given despite failed gates."""

    request_id: int
    model: str
    version: int
    alias: str
    actor: str
    reason: str
    at: float


def overrides_since(store: Store, since: float) -> list[Override]:
    start = first_id(store.conn, "approvals", since)
    rows = store.conn.execute(
        "SELECT a.request_id, r.model, r.version, r.alias, a.actor, a.reason, a.at"
        " FROM approvals a JOIN promotion_requests r ON r.id = a.request_id"
        " WHERE a.id >= ? AND a.override = 1 ORDER BY a.id",
        (start,),
    ).fetchall()
    return [Override(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5], float(r[6])) for r in rows]
