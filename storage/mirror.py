"""Runs mirrored from systems that run pipelines elsewhere (Airflow's DAG runs).

A mirrored run is an ordinary row of `runs` with its stages in `stage_runs`,
so every pane, screen and command shows it like a local run; `external_runs`
ties it to the outside system's own id for it (`key`). The connector reads
the outside state and hands it here as `MirroredRun`s; `apply` writes what
changed in the caller's transaction. A run's trigger and who started it are
written when it first appears, and again when Lookout's own trigger answers (a
sync may see the run first); its status, times and stages follow the outside
system, except that a run Lookout cancelled (Airflow marks it failed) is
`cancelled`, says by whom, and shows the tasks it cut short `cancelled`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace

from lookout.storage import events
from lookout.storage.db import Store, now
from lookout.storage.pipelines import LOG_TAIL_CHARS, cancel_reason
from lookout.storage.records import MirroredRun, MirroredStage
from lookout.storage.text import sanitize


@dataclass(frozen=True)
class Applied:
    """What one `apply` changed."""

    added: int
    changed: int


@dataclass(frozen=True)
class MirrorKey:
    """Where a mirrored run comes from."""

    source: str
    pipeline: str
    key: str


def run_id(store: Store, source: str, pipeline: str, key: str) -> int | None:
    """The Lookout run mirroring this outside run, if it is mirrored."""
    row = store.conn.execute(
        "SELECT run_id FROM external_runs WHERE source = ? AND pipeline = ? AND key = ?",
        (source, pipeline, key),
    ).fetchone()
    return None if row is None else int(row[0])


def key_of(store: Store, run: int) -> MirrorKey | None:
    """The outside system's id for a Lookout run; None for a run Lookout executes itself."""
    row = store.conn.execute(
        "SELECT source, pipeline, key FROM external_runs WHERE run_id = ?", (run,)
    ).fetchone()
    return None if row is None else MirrorKey(row["source"], row["pipeline"], row["key"])


def apply(
    conn: sqlite3.Connection,
    source: str,
    pipeline: str,
    runs: Sequence[MirroredRun],
    read_at: float | None = None,
) -> Applied:
    """Write these outside runs (oldest first, so run ids follow time) and their stages.

    `read_at` is when they were read (a sync), None for the outside system's
    answer to Lookout's own action, which is newer than any read in flight: a
    run acted on after `read_at` is left alone (the next sync reads it again).
    A stage is updated by name; stages a run does not list keep their last
    state. A stage's fetched log is dropped when its try number moves on (it
    was the previous try's). When the pipeline's newest run changed, its
    outcome opens or resolves the pipeline's `run_failed` event, as a local
    run's does.
    """
    added = changed = 0
    t = now()
    touched: set[int] = set()
    for run in sorted(runs, key=lambda r: r.created_at):
        row = conn.execute(
            "SELECT r.id, r.status, r.started_at, r.ended_at, r.error, r.cancel_requested,"
            " e.acted_at FROM external_runs e JOIN runs r ON r.id = e.run_id"
            " WHERE e.source = ? AND e.pipeline = ? AND e.key = ?",
            (source, pipeline, run.key),
        ).fetchone()
        if row is not None and read_at is not None and (row["acted_at"] or 0) > read_at:
            continue
        error = None if run.error is None else sanitize(run.error, 500, single_line=True)
        status, stages = run.status, run.stages
        if row is not None and row["cancel_requested"] and run.status == "failed":
            # Lookout cancelled it (Airflow cancels by marking failed): a cancelled run that
            # says who, as Lookout wrote when it asked, and the tasks it cut short cancelled
            status, error = "cancelled", row["error"]
            stages = _cut_short(conn, int(row["id"]), stages)
        elif run.status == "failed" and error is None:
            error = _first_failed(conn, run, None if row is None else int(row["id"]))
        if row is None:
            cur = conn.execute(
                "INSERT INTO runs (pipeline, status, trigger, triggered_by, created_at,"
                " started_at, ended_at, error) VALUES (?,?,?,?,?,?,?,?)",
                (
                    pipeline,
                    status,
                    sanitize(run.trigger, 40, single_line=True),
                    sanitize(run.triggered_by, 80, single_line=True),
                    run.created_at,
                    run.started_at,
                    run.ended_at,
                    error,
                ),
            )
            rid = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO external_runs (source, pipeline, key, run_id, updated_at)"
                " VALUES (?,?,?,?,?)",
                (source, pipeline, run.key, rid, t),
            )
            added += 1
        else:
            rid = int(row["id"])
            if run.ours:
                conn.execute(
                    "UPDATE runs SET trigger = ?, triggered_by = ? WHERE id = ?",
                    (
                        sanitize(run.trigger, 40, single_line=True),
                        sanitize(run.triggered_by, 80, single_line=True),
                        rid,
                    ),
                )
            if (row["status"], row["started_at"], row["ended_at"], row["error"]) != (
                status,
                run.started_at,
                run.ended_at,
                error,
            ):
                conn.execute(
                    "UPDATE runs SET status = ?, started_at = ?, ended_at = ?, error = ?"
                    " WHERE id = ?",
                    (status, run.started_at, run.ended_at, error, rid),
                )
                changed += 1
                touched.add(rid)
        if _stages(conn, rid, stages) or row is None:
            touched.add(rid)
    if touched:
        marks = ",".join("?" * len(touched))
        conn.execute(
            f"UPDATE external_runs SET updated_at = ? WHERE run_id IN ({marks})", (t, *touched)
        )
        _follow_newest(conn, pipeline, touched)
    if read_at is None:
        keys = [r.key for r in runs]
        marks = ",".join("?" * len(keys))
        conn.execute(
            f"UPDATE external_runs SET acted_at = ? WHERE source = ? AND pipeline = ?"
            f" AND key IN ({marks})",
            (t, source, pipeline, *keys),
        )
    return Applied(added, changed)


def _first_failed(conn: sqlite3.Connection, run: MirroredRun, rid: int | None) -> str | None:
    """'stage train failed': the first failed stage, as this pass or an earlier one saw it."""
    names = {s.name: s for s in run.stages}
    stored = (
        conn.execute(
            "SELECT name, position, status FROM stage_runs WHERE run_id = ?", (rid,)
        ).fetchall()
        if rid is not None
        else []
    )
    states = {r["name"]: (r["position"], r["status"]) for r in stored}
    states.update({n: (s.position, s.status) for n, s in names.items()})
    failed = sorted((pos, name) for name, (pos, status) in states.items() if status == "failed")
    return f"stage {failed[0][1]} failed" if failed else None


# Stage states in which a task has ended on its own (anything else was still to run or
# running when Lookout cancelled its run).
_ENDED = ("succeeded", "failed", "skipped", "upstream_failed", "removed")


def _cut_short(
    conn: sqlite3.Connection, rid: int, stages: tuple[MirroredStage, ...]
) -> tuple[MirroredStage, ...]:
    """A run Lookout cancelled: the tasks Airflow marked failed that had not ended before (it
    marks the ones running then failed, and skips the rest) were cut short, so `cancelled`, as
    a local run's stage cut short by a cancel is."""
    stored = dict(
        conn.execute("SELECT name, status FROM stage_runs WHERE run_id = ?", (rid,)).fetchall()
    )
    return tuple(
        replace(s, status="cancelled")
        if s.status == "failed" and stored.get(s.name) not in _ENDED
        else s
        for s in stages
    )


def _stages(conn: sqlite3.Connection, rid: int, stages: tuple[MirroredStage, ...]) -> bool:
    """Upsert stages by name; True if any row changed."""
    moved = False
    for s in stages:
        cur = conn.execute(
            "INSERT INTO stage_runs (run_id, position, name, status, started_at, ended_at,"
            " try_number, operator) VALUES (?,?,?,?,?,?,?,?)"
            " ON CONFLICT(run_id, name) DO UPDATE SET position = excluded.position,"
            " status = excluded.status, started_at = excluded.started_at,"
            " ended_at = excluded.ended_at, try_number = excluded.try_number,"
            " operator = excluded.operator,"
            " log_tail = CASE WHEN stage_runs.try_number IS excluded.try_number"
            " THEN stage_runs.log_tail ELSE '' END"
            " WHERE (stage_runs.position, stage_runs.status, stage_runs.started_at,"
            " stage_runs.ended_at, stage_runs.try_number, stage_runs.operator)"
            " IS NOT (excluded.position, excluded.status, excluded.started_at,"
            " excluded.ended_at, excluded.try_number, excluded.operator)",
            (
                rid,
                s.position,
                sanitize(s.name, 200, single_line=True),
                s.status,
                s.started_at,
                s.ended_at,
                s.try_number,
                None if s.operator is None else sanitize(s.operator, 80, single_line=True),
            ),
        )
        moved = moved or cur.rowcount > 0
    return moved


def _follow_newest(conn: sqlite3.Connection, pipeline: str, touched: set[int]) -> None:
    """The pipeline's newest run, if this pass changed it, decides its `run_failed` event."""
    row = conn.execute(
        "SELECT id, status, error FROM runs WHERE pipeline = ? ORDER BY id DESC LIMIT 1",
        (pipeline,),
    ).fetchone()
    if row is None or row["id"] not in touched:
        return
    key = f"run_failed:{pipeline}"
    if row["status"] == "failed":
        message = f"run {row['id']} failed: {row['error'] or 'unknown error'}"
        events.raise_event(
            conn,
            "run_failed",
            pipeline,
            sanitize(message, 500, single_line=True),
            "error",
            key,
        )
    elif row["status"] == "succeeded":
        events.resolve(conn, key)


def set_log(store: Store, run: int, stage: str, text: str) -> bool:
    """Keep a stage's log tail as fetched from the outside system; False if no such stage."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE stage_runs SET log_tail = ? WHERE run_id = ? AND name = ?",
            (sanitize(text[-LOG_TAIL_CHARS:]), run, stage),
        )
        conn.execute("UPDATE external_runs SET updated_at = ? WHERE run_id = ?", (now(), run))
        return cur.rowcount == 1


def set_cancel(store: Store, run: int, by: str | None) -> None:
    """Lookout asked the outside system to cancel this run for `by`, or to run it again
    (None): the flag, who and the reason stay with the run until its status moves."""
    with store.write() as conn:
        if by is None:
            conn.execute(
                "UPDATE runs SET cancel_requested = 0, cancelled_by = NULL WHERE id = ?", (run,)
            )
        else:
            conn.execute(
                "UPDATE runs SET cancel_requested = 1, cancelled_by = ?, error = ? WHERE id = ?",
                (sanitize(by, 80, single_line=True), cancel_reason(by), run),
            )


def link_versions(conn: sqlite3.Connection, model: str, versions: dict[int, int]) -> None:
    """Record the mirrored run each version came from (version -> run id), where unset."""
    conn.executemany(
        "UPDATE versions SET run_id = ? WHERE model = ? AND version = ? AND run_id IS NULL",
        [(rid, model, v) for v, rid in versions.items()],
    )
