"""The last known state of external registries (MLflow), so panes can show it when they are down.

Each (source, key) holds one JSON object and when it was fetched. The
connector keeps a per-model snapshot here and a `sync` row with the outcome
of the last attempt; the age of `fetched_at` tells how stale the mirror is.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from lookout.storage.db import Store, now
from lookout.storage.records import ExternalState


def _state(row: sqlite3.Row) -> ExternalState:
    return ExternalState(
        row["source"], row["key"], json.loads(row["value_json"]), row["fetched_at"]
    )


def put(
    conn: sqlite3.Connection,
    source: str,
    key: str,
    value: dict[str, Any],
    fetched_at: float | None = None,
) -> ExternalState:
    """Replace one entry (caller's transaction)."""
    at = now() if fetched_at is None else fetched_at
    conn.execute(
        "INSERT INTO external_state (source, key, value_json, fetched_at) VALUES (?,?,?,?)"
        " ON CONFLICT(source, key) DO UPDATE SET value_json = excluded.value_json,"
        " fetched_at = excluded.fetched_at",
        (source, key, json.dumps(value, sort_keys=True), at),
    )
    return ExternalState(source, key, value, at)


def read(conn: sqlite3.Connection, source: str, key: str) -> ExternalState | None:
    """One entry on the caller's connection (inside its transaction if it has one)."""
    row = conn.execute(
        "SELECT * FROM external_state WHERE source = ? AND key = ?", (source, key)
    ).fetchone()
    return _state(row) if row else None


def get(store: Store, source: str, key: str) -> ExternalState | None:
    return read(store.conn, source, key)
