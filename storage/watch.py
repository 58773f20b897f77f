"""Cheap change keys, one per kind of data, so a console refetches only what changed.

Each key is a small tuple read from indexes or rowids (no table scans): when
it differs from the last one seen, that pane's data changed. `PRAGMA
data_version` (see `Store.data_version`) says whether anything changed at all.
"""

from __future__ import annotations

from lookout.storage import events
from lookout.storage.db import Store


def _one(store: Store, sql: str) -> tuple[object, ...]:
    row = store.conn.execute(sql).fetchone()
    return tuple(row) if row is not None else ()


def pipelines_key(store: Store) -> tuple[object, ...]:
    """Newest run, the active runs with their stage states and log lengths, the pipelines,
    and what mirrors of outside runs (Airflow) last changed or tried to sync."""
    return (
        *_one(store, "SELECT max(id) FROM runs"),
        *_one(
            store,
            "SELECT group_concat(r.id || r.status || r.cancel_requested || ':' || ("
            "SELECT group_concat(s.status || length(s.log_tail)) FROM stage_runs s"
            " WHERE s.run_id = r.id))"
            " FROM runs r WHERE r.status IN ('queued', 'running')",
        ),
        *_one(store, "SELECT count(*), total(next_run_at), max(updated_at) FROM pipelines"),
        *_one(store, "SELECT max(updated_at) FROM external_runs"),
        *_one(store, "SELECT max(fetched_at) FROM external_state WHERE key = 'sync'"),
    )


def checks_key(store: Store) -> tuple[object, ...]:
    return _one(store, "SELECT max(id) FROM check_results")


def models_key(store: Store) -> tuple[object, ...]:
    """Versions, alias moves, requests and decisions all add rows; pending set may shrink."""
    return (
        *_one(store, "SELECT max(id) FROM versions"),
        *_one(store, "SELECT max(id) FROM alias_transitions"),
        *_one(store, "SELECT max(id) FROM promotion_requests"),
        *_one(store, "SELECT max(id) FROM approvals"),
        *_one(store, "SELECT group_concat(id) FROM promotion_requests WHERE status = 'pending'"),
        *_one(store, "SELECT max(fetched_at) FROM external_state"),  # an MLflow sync (or failure)
    )


def drift_key(store: Store) -> tuple[object, ...]:
    return _one(store, "SELECT max(id) FROM drift_results")


def events_key(store: Store) -> tuple[object, ...]:
    """Newest event, and how many are open and acknowledged (through the state index): an
    acknowledgement or a resolution moves one of the counts."""
    return (*_one(store, "SELECT max(id) FROM events"), *events.count_states(store))


def audit_key(store: Store) -> tuple[object, ...]:
    return _one(store, "SELECT max(seq) FROM audit")


def lease_key(store: Store) -> tuple[object, ...]:
    return _one(store, "SELECT holder, expires_at FROM lease WHERE name = 'scheduler'")
