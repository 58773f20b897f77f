"""The scheduler's lease, its job-run ledger, and requests from consoles to it."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.records import JobRun, Lease, Request

LEASE_NAME = "scheduler"


def _lease(row: sqlite3.Row) -> Lease:
    return Lease(**{k: row[k] for k in row.keys()})


def get_lease(store: Store, name: str = LEASE_NAME) -> Lease | None:
    row = store.conn.execute("SELECT * FROM lease WHERE name = ?", (name,)).fetchone()
    return _lease(row) if row else None


def acquire_lease(
    store: Store, holder: str, host: str, pid: int, ttl: float, name: str = LEASE_NAME
) -> tuple[bool, Lease]:
    """Take the lease if it is free, expired or already ours; returns (won, current lease)."""
    t = now()
    with store.write() as conn:
        row = conn.execute("SELECT * FROM lease WHERE name = ?", (name,)).fetchone()
        if row is not None and row["holder"] != holder and row["expires_at"] > t:
            return False, _lease(row)
        since = row["since"] if row is not None and row["holder"] == holder else t
        conn.execute(
            "INSERT INTO lease (name, holder, host, pid, since, heartbeat_at, expires_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET holder=excluded.holder,"
            " host=excluded.host, pid=excluded.pid, since=excluded.since,"
            " heartbeat_at=excluded.heartbeat_at, expires_at=excluded.expires_at",
            (name, holder, host, pid, since, t, t + ttl),
        )
        row = conn.execute("SELECT * FROM lease WHERE name = ?", (name,)).fetchone()
        return True, _lease(row)


def renew_lease(store: Store, holder: str, ttl: float, name: str = LEASE_NAME) -> bool:
    """Heartbeat; False means someone else holds it now (we must stop)."""
    t = now()
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE lease SET heartbeat_at = ?, expires_at = ? WHERE name = ? AND holder = ?",
            (t, t + ttl, name, holder),
        )
        return cur.rowcount == 1


def release_lease(store: Store, holder: str, name: str = LEASE_NAME) -> None:
    """Give the lease up at once, keeping the row so status can show the last heartbeat."""
    with store.write() as conn:
        conn.execute(
            "UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?", (now(), name, holder)
        )


# -- job-run ledger ------------------------------------------------------------------


def _job_run(row: sqlite3.Row) -> JobRun:
    return JobRun(**{k: row[k] for k in row.keys()})


def start_job_run(
    store: Store,
    job: str,
    scheduled_for: float,
    holder: str,
    attempt: int = 1,
    key: str | None = None,
) -> JobRun | None:
    """Write the execution before its work starts; None if this key already ran or runs.

    The key says what must never run twice: by default one slot of a schedule
    (`JOB@SLOT#ATTEMPT`); a requested run passes its own unique key instead.
    """
    key = key or f"{job}@{scheduled_for:.3f}#{attempt}"
    with store.write() as conn:
        try:
            cur = conn.execute(
                "INSERT INTO job_runs (job, scheduled_for, idem_key, status, lease_holder,"
                " started_at, attempt) VALUES (?,?,?,'running',?,?,?)",
                (job, scheduled_for, key, holder, now(), attempt),
            )
        except sqlite3.IntegrityError:
            return None
        row = conn.execute("SELECT * FROM job_runs WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _job_run(row)


def finish_job_run(store: Store, job_run_id: int, status: str, error: str | None = None) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE job_runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
            (status, now(), error, job_run_id),
        )


def orphaned_job_runs(store: Store, live_holder: str) -> list[JobRun]:
    """Executions still `running` under a holder other than the live one (it died)."""
    rows = store.conn.execute(
        "SELECT * FROM job_runs WHERE status = 'running' AND lease_holder != ? ORDER BY id",
        (live_holder,),
    )
    return [_job_run(r) for r in rows]


def list_job_runs(store: Store, limit: int = 50) -> list[JobRun]:
    rows = store.conn.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?", (limit,))
    return [_job_run(r) for r in rows]


# -- requests from consoles -------------------------------------------------------------


def _request(row: sqlite3.Row) -> Request:
    return Request(
        id=row["id"],
        kind=row["kind"],
        target=row["target"],
        args=json.loads(row["args_json"]),
        requested_by=row["requested_by"],
        at=row["at"],
        status=row["status"],
        taken_at=row["taken_at"],
        done_at=row["done_at"],
        result=row["result"],
    )


def submit_request(
    store: Store, kind: str, target: str, requested_by: str, args: dict[str, Any] | None = None
) -> Request:
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO requests (kind, target, args_json, requested_by, at) VALUES (?,?,?,?,?)",
            (kind, target, json.dumps(args or {}), requested_by, now()),
        )
        row = conn.execute("SELECT * FROM requests WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _request(row)


def take_requests(store: Store, limit: int = 20) -> list[Request]:
    """Claim queued requests (oldest first); each is handed to exactly one taker."""
    with store.write() as conn:
        rows = conn.execute(
            "SELECT * FROM requests WHERE status = 'queued' ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        t = now()
        for r in rows:
            conn.execute(
                "UPDATE requests SET status = 'taken', taken_at = ? WHERE id = ?", (t, r["id"])
            )
        return [_request(r) for r in rows]


def finish_request(store: Store, request_id: int, ok: bool, result: str = "") -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE requests SET status = ?, done_at = ?, result = ? WHERE id = ?",
            ("done" if ok else "failed", now(), result, request_id),
        )


def get_request(store: Store, request_id: int) -> Request | None:
    row = store.conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    return _request(row) if row else None


def pending_requests(store: Store) -> int:
    row = store.conn.execute("SELECT count(*) FROM requests WHERE status = 'queued'").fetchone()
    return int(row[0])


def expire_lease(store: Store, holder: str, name: str = LEASE_NAME) -> None:
    """End a lease whose holder is known to be dead (its process is gone on this host)."""
    with store.write() as conn:
        conn.execute(
            "UPDATE lease SET expires_at = min(expires_at, ?) WHERE name = ? AND holder = ?",
            (now(), name, holder),
        )


def claim_request(store: Store, request_id: int) -> bool:
    """Take one queued request (a process running it itself); False if someone took it."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE requests SET status = 'taken', taken_at = ? WHERE id = ? AND status = 'queued'",
            (now(), request_id),
        )
        return cur.rowcount == 1


def requeue_taken_requests(store: Store) -> int:
    """Put back requests a dead scheduler took but never finished."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE requests SET status = 'queued', taken_at = NULL WHERE status = 'taken'"
        )
        return cur.rowcount


def next_runs(store: Store) -> dict[str, float | None]:
    """job -> when it fires next, as the last scheduler left it."""
    rows = store.conn.execute("SELECT job, next_run_at FROM schedule_state")
    return {r["job"]: r["next_run_at"] for r in rows}


def set_next_run(store: Store, job: str, next_run_at: float | None) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO schedule_state (job, next_run_at, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(job) DO UPDATE SET next_run_at = excluded.next_run_at,"
            " updated_at = excluded.updated_at",
            (job, next_run_at, now()),
        )


def prune_job_runs(store: Store, before: float) -> int:
    """Forget finished ledger entries older than `before` (frequent jobs would grow it forever)."""
    with store.write() as conn:
        cur = conn.execute(
            "DELETE FROM job_runs WHERE status != 'running' AND started_at < ?"
            " AND id NOT IN (SELECT job_run_id FROM runs WHERE job_run_id IS NOT NULL)",
            (before,),
        )
        return cur.rowcount
