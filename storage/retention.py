"""Retention: what the store stops keeping, pruned in small transactions, and how big it is.

`prune(store, policy)` deletes, oldest first, the rows older than each kind's
age in `policy` (seconds; `[retention]` in lookout.toml):

- ``raw_rows``: logged batches' raw rows (inference_batches and their files,
  unlinked after the rows' commit) — only of batches whose profile is stored,
  so a window can still be read from profiles;
- ``profiles``: batch profiles (batch_profiles);
- ``check_results``: check results, but never the latest result of a check,
  nor a result on the training snapshot of a version a pending promotion
  request names (its checks gate is read from them);
- ``drift_results``: drift results, but never a model's latest;
- ``events``: events and their webhook deliveries, but never an event still
  open (neither acknowledged nor resolved) with a de-duplication key: that
  condition is still going on.

Each pass also removes batch files no row names (`sweep_batch_files`: left by
a crash between a file's write and its row's commit, or between a deletion's
commit and its unlink). The audit is never pruned (its triggers refuse it anyway), nor versions,
promotion requests, approvals or runs. Each transaction deletes at most
``BATCH`` rows (``RAW_BATCH`` raw batches, which are large), so a console or
the scheduler waiting for the write lock waits a few milliseconds, never for
the whole pass. Freed pages go back to the file system through
``PRAGMA incremental_vacuum`` (stores made by this version have
``auto_vacuum = INCREMENTAL``; older stores reuse freed pages for new rows).

Ids grow with time in every table pruned, so each deletion walks a table from
its lowest id and stops at the first row young enough to keep.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.drift import batch_folder, remove_batch_files, sweep_batch_files

KINDS = ("raw_rows", "profiles", "check_results", "drift_results", "events")
BATCH = 500
RAW_BATCH = 1  # a batch (a pre-V9 blob) can be hundreds of MB: one per transaction
VACUUM_PAGES = 2048  # pages handed back per incremental_vacuum transaction

_PENDING_SNAPSHOTS = (
    "SELECT v.snapshot_id FROM promotion_requests r JOIN versions v"
    " ON v.model = r.model AND v.version = r.version"
    " WHERE r.status = 'pending' AND v.snapshot_id IS NOT NULL"
)

# kind -> (table, what may be deleted once old, rows per transaction)
_RULES: dict[str, tuple[str, str, int]] = {
    "raw_rows": (
        "inference_batches",
        "EXISTS (SELECT 1 FROM batch_profiles p WHERE p.batch_id = t.id)",
        RAW_BATCH,
    ),
    "profiles": (
        "batch_profiles",
        "NOT EXISTS (SELECT 1 FROM inference_batches i WHERE i.id = t.batch_id)",
        BATCH,
    ),
    "check_results": (
        "check_results",
        "t.id NOT IN (SELECT result_id FROM check_latest)"
        f" AND (t.snapshot_id IS NULL OR t.snapshot_id NOT IN ({_PENDING_SNAPSHOTS}))",
        BATCH,
    ),
    "drift_results": (
        "drift_results",
        "t.id <> (SELECT max(id) FROM drift_results d WHERE d.model = t.model)",
        BATCH,
    ),
    "events": (
        "events",
        "NOT (t.dedup_key IS NOT NULL AND t.resolved_at IS NULL AND t.acked_at IS NULL)",
        BATCH,
    ),
}
_KEY = {"batch_profiles": "batch_id"}


def _prune_kind(store: Store, kind: str, cutoff: float, pause: float) -> int:
    table, keep_out, size = _RULES[kind]
    key = _KEY.get(table, "id")
    removed = 0
    while True:
        with store.write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT t.{key} FROM {table} t WHERE t.at < ? AND {keep_out}"
                    f" ORDER BY t.{key} LIMIT ?",
                    (cutoff, size),
                )
            ]
            files: list[str] = []
            if ids:
                marks = ",".join("?" * len(ids))
                if table == "events":
                    conn.execute(f"DELETE FROM deliveries WHERE event_id IN ({marks})", ids)
                if table == "inference_batches":
                    files = [
                        r[0]
                        for r in conn.execute(
                            f"SELECT data_file FROM inference_batches WHERE id IN ({marks})"
                            " AND data_file IS NOT NULL",
                            ids,
                        )
                    ]
                conn.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", ids)
        remove_batch_files(store, files)  # after the commit: a crash before leaves an orphan
        removed += len(ids)
        if len(ids) < size:
            return removed
        time.sleep(pause)  # let a waiting writer in between transactions


def _prune_deliveries(store: Store, cutoff: float) -> int:
    """Delivery records older than the events' age (their events may be kept, open)."""
    removed = 0
    while True:
        with store.write() as conn:
            cur = conn.execute(
                "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE at < ?"
                " AND status <> 'pending' ORDER BY id LIMIT ?)",
                (cutoff, BATCH),
            )
        removed += cur.rowcount
        if cur.rowcount < BATCH:
            return removed


def vacuum(store: Store, pause: float = 0.0) -> int:
    """Hand free pages back to the file system, a few at a time; returns how many."""
    freed = 0
    while True:
        before = int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])
        if not before or _auto_vacuum(store) != 2:
            return freed
        conn = store.conn
        try:
            # sqlite3's execute() steps a pragma once, which frees one page;
            # executescript() runs it to the end
            conn.executescript(
                f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({VACUUM_PAGES}); COMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        after = int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])
        freed += before - after
        if after >= before:
            return freed
        time.sleep(pause)


def _auto_vacuum(store: Store) -> int:
    return int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0])


def prune(
    store: Store, policy: Mapping[str, float], at: float | None = None, pause: float = 0.001
) -> dict[str, int]:
    """Delete what `policy` (kind -> age in seconds) no longer keeps; rows removed per kind.

    Raw rows go before profiles, so a batch's profile outlives its rows.
    """
    t = now() if at is None else at
    removed = {}
    for kind in KINDS:
        if policy.get(kind) is not None:
            removed[kind] = _prune_kind(store, kind, t - float(policy[kind]), pause)
    if policy.get("events") is not None:
        removed["deliveries"] = _prune_deliveries(store, t - float(policy["events"]))
    removed["orphan_files"] = sweep_batch_files(store)
    removed["pages_freed"] = vacuum(store, pause)
    return removed


# -- how big the store is ---------------------------------------------------------------

_OLDEST = {
    "raw_rows": "SELECT at FROM inference_batches ORDER BY id LIMIT 1",
    "profiles": "SELECT at FROM batch_profiles ORDER BY batch_id LIMIT 1",
    "check_results": "SELECT at FROM check_results ORDER BY id LIMIT 1",
    "drift_results": "SELECT at FROM drift_results ORDER BY id LIMIT 1",
    "events": "SELECT at FROM events ORDER BY id LIMIT 1",
    "deliveries": "SELECT at FROM deliveries ORDER BY id LIMIT 1",
    "audit": "SELECT at FROM audit ORDER BY seq LIMIT 1",
}


def _files_bytes(store: Store) -> int:
    folder = batch_folder(store)
    if not folder.is_dir():
        return 0
    return sum(e.stat(follow_symlinks=False).st_size for e in os.scandir(folder))


def store_stats(store: Store) -> dict[str, Any]:
    """The store's size on disk, its free space, and the time of the oldest row of each kind.

    Each "oldest" is one index lookup (ids follow time), so this is cheap on any store.
    """
    conn = store.conn
    page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    wal = store.path.with_name(store.path.name + "-wal")
    oldest: dict[str, float | None] = {}
    for kind, sql in _OLDEST.items():
        row = conn.execute(sql).fetchone()
        oldest[kind] = None if row is None else float(row[0])
    return {
        "bytes": page * pages + (wal.stat().st_size if wal.exists() else 0) + _files_bytes(store),
        "free_bytes": page * free,
        "auto_vacuum": {0: "none", 1: "full", 2: "incremental"}.get(_auto_vacuum(store), "?"),
        "oldest": oldest,
    }
