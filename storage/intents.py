"""Changes to what serves that are under way: the record that makes them recoverable.

A promotion or rollback touches two things that cannot commit together: the
store and the outside world (a serving pointer file, or an alias in a
connector such as MLflow). So the change is first written here as `pending`,
in its own transaction; then, in the one transaction that records the
decision, the outside world is changed and the intent marked `done`. A process
killed between the two leaves the intent `pending`: whoever reconciles next
(see `lookout.scheduler.reconcile`) makes the outside world match the store
again, marks the intent `recovered`, and writes why in the audit.
"""

from __future__ import annotations

import os
import socket
import sqlite3

from lookout.storage.db import Store, now
from lookout.storage.records import AliasIntent, process_gone

STALE = 600.0  # seconds: an intent this old is settled even if its process seems alive


def _intent(row: sqlite3.Row) -> AliasIntent:
    return AliasIntent(**{k: row[k] for k in row.keys()})


def begin(
    store: Store,
    model: str,
    alias: str,
    action: str,
    actor: str,
    from_version: int | None,
    to_version: int | None,
) -> AliasIntent:
    """Record, and commit, that this process is about to change what `model@alias` serves."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO alias_intents (model, alias, action, actor, from_version, to_version,"
            " host, pid, started_at, status) VALUES (?,?,?,?,?,?,?,?,?,'pending')",
            (
                model,
                alias,
                action,
                actor,
                from_version,
                to_version,
                socket.gethostname(),
                os.getpid(),
                now(),
            ),
        )
        row = conn.execute("SELECT * FROM alias_intents WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _intent(row)


def finish(
    conn: sqlite3.Connection,
    intent_id: int,
    status: str,
    from_version: int | None = None,
    to_version: int | None = None,
    note: str | None = None,
) -> None:
    """Close an intent inside the caller's transaction: `done` with the decision it carried
    out, or `recovered` by a reconcile."""
    conn.execute(
        "UPDATE alias_intents SET status = ?, ended_at = ?, from_version = coalesce(?,"
        " from_version), to_version = coalesce(?, to_version), note = ? WHERE id = ?",
        (status, now(), from_version, to_version, note, intent_id),
    )


def forget(store: Store, intent_id: int) -> None:
    """Drop an intent whose change was refused or undone before it touched anything."""
    with store.write() as conn:
        conn.execute("DELETE FROM alias_intents WHERE id = ? AND status = 'pending'", (intent_id,))


def hand_over(store: Store, intent_id: int) -> None:
    """This process gives up on its intent (it could not undo its change): reconcile it now."""
    with store.write() as conn:
        conn.execute(
            "UPDATE alias_intents SET pid = 0 WHERE id = ? AND status = 'pending'", (intent_id,)
        )


def pending(conn: sqlite3.Connection, model: str | None = None) -> list[AliasIntent]:
    """Intents not yet done, oldest first (for one model, or all)."""
    if model is None:
        rows = conn.execute(
            "SELECT * FROM alias_intents WHERE status = 'pending' ORDER BY id"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM alias_intents WHERE status = 'pending' AND model = ? ORDER BY id",
            (model,),
        ).fetchall()
    return [_intent(r) for r in rows]


def abandoned(intent: AliasIntent, at: float | None = None) -> bool:
    """Whether nobody will finish this intent: its process is gone, handed it over, or it
    is older than any change takes (a change holds the store's write lock throughout)."""
    t = now() if at is None else at
    return intent.pid == 0 or process_gone(intent.host, intent.pid) or t - intent.started_at > STALE


def served(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """(model, alias) pairs whose outside state Lookout has ever changed."""
    rows = conn.execute("SELECT DISTINCT model, alias FROM alias_intents WHERE status != 'pending'")
    return {(r[0], r[1]) for r in rows}
