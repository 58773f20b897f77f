"""What every connector keeps about its syncs: the outcome of the last attempt, so panes
can show how fresh its mirror is and why it is stale (`lookout.storage.external`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from lookout.storage import external
from lookout.storage.db import Store, now

SYNC_KEY = "sync"


class ConnectorError(Exception):
    """An outside system could not do what was asked; the message is one line for the user."""


@dataclass(frozen=True)
class SyncStatus:
    """The outcome of the last sync attempt, for panes that show how fresh the mirror is."""

    fetched_at: float | None  # the last successful sync (None: never)
    attempted_at: float | None
    error: str | None  # why the last attempt failed (None: it worked)

    @property
    def stale(self) -> bool:
        return self.error is not None

    def age(self, at: float | None = None) -> float | None:
        """Seconds since the mirror was last refreshed."""
        if self.fetched_at is None:
            return None
        return (now() if at is None else at) - self.fetched_at


def sync_status(store: Store, source: str) -> SyncStatus:
    """When a connector's mirror was last refreshed, and why the last attempt failed if it did."""
    state = external.get(store, source, SYNC_KEY)
    if state is None:
        return SyncStatus(None, None, None)
    return SyncStatus(
        state.value.get("ok_at"), state.value.get("attempted_at"), state.value.get("error")
    )


def record_sync_failure(store: Store, source: str, started: float, error: str) -> None:
    """A failed attempt: the mirror keeps its last good time and says why it is stale."""
    with store.write() as conn:
        previous = external.read(conn, source, SYNC_KEY)
        ok_at = previous.value.get("ok_at") if previous else None
        external.put(
            conn,
            source,
            SYNC_KEY,
            {"error": error, "attempted_at": started, "ok_at": ok_at},
            started,
        )


def record_sync_success(conn: sqlite3.Connection, source: str, started: float) -> None:
    """A good sync, in the transaction that applied it."""
    external.put(conn, source, SYNC_KEY, {"error": None, "attempted_at": started, "ok_at": now()})
