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
    # two queries: SQLite reads min() or max() alone off the rowid, but both together by a scan
    low = conn.execute(f"SELECT min(id) FROM {table}").fetchone()[0]
    if low is None:
        return 1
    high = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
    lo, hi = int(low), int(high) + 1
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
    """One check's results of one kind in one time bucket of the window."""

    dataset: str
    name: str
    severity: str
    bucket: int
    result: str
    count: int
    first_at: float  # for passes (not read one by one): the bucket's start
    last_at: float  # ... and its end


def check_activity(store: Store, since: float, width: float, buckets: int) -> list[CheckActivity]:
    """Every check's results in `buckets` buckets of `width` seconds from `since`.

    A million results are never sorted or read one by one: each bucket is an id
    range, each check's results in it are counted off the (check_id) index, and
    only the results that did not pass are read, through their own covering index.
    """
    conn = store.conn
    bounds = [first_id(conn, "check_results", since + i * width) for i in range(buckets + 1)]
    ranges = [(i, bounds[i], bounds[i + 1]) for i in range(buckets) if bounds[i] < bounds[i + 1]]
    if not ranges:
        return []
    names = {int(r[0]): (r[1], r[2]) for r in conn.execute("SELECT id, dataset, name FROM checks")}
    values = ",".join(f"({n},{lo},{hi})" for n, lo, hi in ranges)
    totals = conn.execute(
        f"WITH b(n, lo, hi) AS (VALUES {values}) SELECT c.id, b.n, (SELECT count(*)"
        " FROM check_results r WHERE r.check_id = c.id AND r.id >= b.lo AND r.id < b.hi)"
        " FROM checks c, b"
    ).fetchall()
    bad: dict[tuple[int, int, str], list[float]] = {}  # (check, bucket, result) -> times
    severity: dict[int, str] = {}
    for check_id, result, sev, at in conn.execute(
        "SELECT check_id, result, severity, at FROM check_results"
        " WHERE result <> 'pass' AND id >= ? AND id < ?",
        (bounds[0], bounds[-1]),
    ):
        bucket = min(max(int((at - since) // width), 0), buckets - 1)
        bad.setdefault((check_id, bucket, result), []).append(at)
        severity[check_id] = sev
    out = []
    failing: dict[tuple[int, int], int] = {}
    for (check_id, bucket, result), times in bad.items():
        dataset, name = names[check_id]
        failing[(check_id, bucket)] = failing.get((check_id, bucket), 0) + len(times)
        out.append(
            CheckActivity(
                dataset,
                name,
                severity[check_id],
                bucket,
                result,
                len(times),
                min(times),
                max(times),
            )
        )
    for check_id, bucket, total in totals:
        passed = int(total) - failing.get((check_id, bucket), 0)
        if passed > 0:
            dataset, name = names[check_id]
            start = since + bucket * width
            out.append(
                CheckActivity(
                    dataset,
                    name,
                    severity.get(check_id, ""),
                    bucket,
                    "pass",
                    passed,
                    start,
                    start + width,
                )
            )
    return out


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
