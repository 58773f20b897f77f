"""Pipelines, runs and stage runs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from lookout.storage import events
from lookout.storage.db import Store, now
from lookout.storage.records import Pipeline, Run, StageRun
from lookout.storage.text import sanitize

LOG_TAIL_CHARS = 8000


def _pipeline(row: sqlite3.Row) -> Pipeline:
    return Pipeline(
        name=row["name"],
        kind=row["kind"],
        model=row["model"],
        dataset=row["dataset"],
        config=json.loads(row["config_json"]),
        next_run_at=row["next_run_at"],
        updated_at=row["updated_at"],
    )


def _stage(row: sqlite3.Row) -> StageRun:
    return StageRun(
        id=row["id"],
        run_id=row["run_id"],
        position=row["position"],
        name=row["name"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        log_tail=row["log_tail"],
        metrics=json.loads(row["metrics_json"]),
        error=row["error"],
        try_number=row["try_number"],
        operator=row["operator"],
    )


def _run(row: sqlite3.Row, stages: tuple[StageRun, ...] = ()) -> Run:
    return Run(
        id=row["id"],
        pipeline=row["pipeline"],
        status=row["status"],
        trigger=row["trigger"],
        triggered_by=row["triggered_by"],
        attempt=row["attempt"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        error=row["error"],
        cancel_requested=bool(row["cancel_requested"]),
        job_run_id=row["job_run_id"],
        stages=stages,
        retry_of=row["retry_of"],
        cancelled_by=row["cancelled_by"],
        forced=bool(row["forced"]),
    )


def upsert_pipeline(
    store: Store,
    name: str,
    kind: str,
    model: str | None,
    dataset: str | None,
    config: dict[str, Any],
    next_run_at: float | None = None,
) -> None:
    """Record a pipeline as the config defines it (the scheduler does this at start)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO pipelines (name, kind, model, dataset, config_json, next_run_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET kind=excluded.kind,"
            " model=excluded.model, dataset=excluded.dataset, config_json=excluded.config_json,"
            " next_run_at=excluded.next_run_at, updated_at=excluded.updated_at",
            (name, kind, model, dataset, json.dumps(config, default=str), next_run_at, now()),
        )


def set_next_run(store: Store, name: str, next_run_at: float | None) -> None:
    with store.write() as conn:
        conn.execute("UPDATE pipelines SET next_run_at = ? WHERE name = ?", (next_run_at, name))


def list_pipelines(store: Store) -> list[Pipeline]:
    return [_pipeline(r) for r in store.conn.execute("SELECT * FROM pipelines ORDER BY name")]


def get_pipeline(store: Store, name: str) -> Pipeline | None:
    row = store.conn.execute("SELECT * FROM pipelines WHERE name = ?", (name,)).fetchone()
    return _pipeline(row) if row else None


def create_run(
    store: Store,
    pipeline: str,
    stages: list[str],
    trigger: str,
    triggered_by: str,
    status: str = "queued",
    attempt: int = 1,
    job_run_id: int | None = None,
    retry_of: int | None = None,
    forced: bool = False,
) -> Run:
    """A run with all its stages `pending`, in one transaction."""
    with store.write() as conn:
        t = now()
        cur = conn.execute(
            "INSERT INTO runs (pipeline, status, trigger, triggered_by, attempt, created_at,"
            " started_at, job_run_id, retry_of, forced) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                pipeline,
                status,
                trigger,
                triggered_by,
                attempt,
                t,
                t if status == "running" else None,
                job_run_id,
                retry_of,
                int(forced),
            ),
        )
        run_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO stage_runs (run_id, position, name, status) VALUES (?,?,?,'pending')",
            [(run_id, i, s) for i, s in enumerate(stages)],
        )
    run = get_run(store, run_id)
    assert run is not None
    return run


def get_run(store: Store, run_id: int) -> Run | None:
    conn = store.conn
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    stages = tuple(
        _stage(s)
        for s in conn.execute(
            "SELECT * FROM stage_runs WHERE run_id = ? ORDER BY position", (run_id,)
        )
    )
    return _run(row, stages)


def list_runs(store: Store, pipeline: str | None = None, limit: int = 50) -> list[Run]:
    """Newest first, with their stages."""
    conn = store.conn
    if pipeline is None:
        rows = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM runs WHERE pipeline = ? ORDER BY id DESC LIMIT ?", (pipeline, limit)
        ).fetchall()
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    by_run: dict[int, list[StageRun]] = {i: [] for i in ids}
    marks = ",".join("?" * len(ids))
    for s in conn.execute(
        f"SELECT * FROM stage_runs WHERE run_id IN ({marks}) ORDER BY run_id, position", ids
    ):
        by_run[s["run_id"]].append(_stage(s))
    return [_run(r, tuple(by_run[r["id"]])) for r in rows]


def set_run_status(store: Store, run_id: int, status: str, error: str | None = None) -> None:
    """Move a run; terminal states stamp the end time."""
    t = now()
    with store.write() as conn:
        if status == "running":
            conn.execute(
                "UPDATE runs SET status = ?, started_at = coalesce(started_at, ?) WHERE id = ?",
                (status, t, run_id),
            )
        else:
            conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, error = coalesce(?, error) WHERE id = ?",
                (status, t, error, run_id),
            )


def request_cancel(store: Store, run_id: int, by: str = "someone") -> bool:
    """Flag a queued or running run for cancellation by `by`; False if it already finished.
    The first person to ask is the one the run names."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE runs SET cancel_requested = 1, cancelled_by = coalesce(cancelled_by, ?)"
            " WHERE id = ? AND status IN ('queued','running')",
            (by, run_id),
        )
        return cur.rowcount == 1


def cancel_reason(by: str | None, reason: str = "") -> str:
    """What a cancelled run says as its error: by whom, and why when known."""
    text = f"cancelled by {by or 'someone'}" + (f": {reason}" if reason else "")
    return sanitize(text, 500, single_line=True)


def cancel_requested(store: Store, run_id: int) -> bool:
    row = store.conn.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
    return bool(row and row[0])


def start_stage(store: Store, run_id: int, name: str) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE stage_runs SET status = 'running', started_at = ? WHERE run_id = ? AND name = ?",
            (now(), run_id, name),
        )


def finish_stage(
    store: Store,
    run_id: int,
    name: str,
    status: str,
    log_tail: str = "",
    metrics: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record a stage's outcome; the log keeps only its last LOG_TAIL_CHARS characters."""
    with store.write() as conn:
        conn.execute(
            "UPDATE stage_runs SET status = ?, ended_at = ?, log_tail = ?, metrics_json = ?,"
            " error = ? WHERE run_id = ? AND name = ?",
            (
                status,
                now(),
                sanitize(log_tail[-LOG_TAIL_CHARS:]),
                json.dumps(metrics or {}, default=str),
                None if error is None else sanitize(error, 500, single_line=True),
                run_id,
                name,
            ),
        )


def skip_pending_stages(store: Store, run_id: int) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE stage_runs SET status = 'skipped' WHERE run_id = ? AND status = 'pending'",
            (run_id,),
        )


def interrupt_running(store: Store, run_ids: list[int] | None = None) -> list[int]:
    """Mark running runs (all, or these) and their running stages `interrupted`."""
    with store.write() as conn:
        if run_ids is None:
            run_ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'running'")]
        t = now()
        for rid in run_ids:
            conn.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ? WHERE id = ?"
                " AND status IN ('running','queued')",
                (t, rid),
            )
            conn.execute(
                "UPDATE stage_runs SET status = 'interrupted', ended_at = ? WHERE run_id = ?"
                " AND status = 'running'",
                (t, rid),
            )
            conn.execute(
                "UPDATE stage_runs SET status = 'skipped' WHERE run_id = ? AND status = 'pending'",
                (rid,),
            )
    return run_ids


# -- used by the scheduler's runner and the SDK -------------------------------------------


def claim_run(store: Store, run_id: int, job_run_id: int | None) -> bool:
    """Move a queued run to `running` under a ledger entry; False if it is no longer queued."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE runs SET status = 'running', started_at = ?, job_run_id = ?"
            " WHERE id = ? AND status = 'queued'",
            (now(), job_run_id, run_id),
        )
        return cur.rowcount == 1


def cancel_queued(store: Store, run_id: int, by: str = "someone", reason: str = "") -> bool:
    """Cancel a run that has not started yet, saying who and why; False if it started or
    finished. Whoever flagged it first (`request_cancel`) stays the one it names."""
    with store.write() as conn:
        row = conn.execute("SELECT cancelled_by FROM runs WHERE id = ?", (run_id,)).fetchone()
        who = row["cancelled_by"] if row is not None and row["cancelled_by"] else by
        cur = conn.execute(
            "UPDATE runs SET status = 'cancelled', ended_at = ?, cancel_requested = 1,"
            " cancelled_by = ?, error = ? WHERE id = ? AND status = 'queued'",
            (now(), who, cancel_reason(who, reason), run_id),
        )
        if cur.rowcount == 1:
            conn.execute(
                "UPDATE stage_runs SET status = 'skipped' WHERE run_id = ? AND status = 'pending'",
                (run_id,),
            )
        return cur.rowcount == 1


def finish_run(store: Store, run_id: int, status: str, error: str | None = None) -> None:
    """End a run: stamp it, skip stages that never started, and put a failure on the timeline.

    A failure opens one `run_failed` event per pipeline; the next success (or a run that
    found nothing changed) resolves it.
    """
    with store.write() as conn:
        row = conn.execute("SELECT pipeline FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise LookupError(f"no run {run_id}")
        pipeline = row["pipeline"]
        set_run_status(store, run_id, status, error)
        conn.execute(
            "UPDATE stage_runs SET status = 'skipped' WHERE run_id = ? AND status = 'pending'",
            (run_id,),
        )
        key = f"run_failed:{pipeline}"
        if status == "failed":
            events.raise_event(
                conn,
                "run_failed",
                pipeline,
                sanitize(f"run {run_id} failed: {error or 'unknown error'}", 500, single_line=True),
                "error",
                key,
                batch=f"run:{run_id}",
            )
        elif status in ("succeeded", "unchanged"):
            events.resolve(conn, key)


def cancel_running(store: Store, run_id: int, by: str, reason: str = "") -> None:
    """End a started run as cancelled by `by` (an SDK-recorded run its owner stopped)."""
    with store.write() as conn:
        conn.execute("UPDATE runs SET cancelled_by = ? WHERE id = ?", (by, run_id))
        finish_run(store, run_id, "cancelled", cancel_reason(by, reason))


def add_stage(store: Store, run_id: int, name: str) -> None:
    """Append a `pending` stage to a run unless it has one by that name (for the SDK)."""
    with store.write() as conn:
        row = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM stage_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        conn.execute(
            "INSERT INTO stage_runs (run_id, position, name, status) VALUES (?,?,?,'pending')"
            " ON CONFLICT(run_id, name) DO NOTHING",
            (run_id, int(row[0]), name),
        )


def runs_with_status(store: Store, status: str) -> list[Run]:
    """Oldest first, without stages (the scheduler's dispatch and recovery)."""
    rows = store.conn.execute("SELECT * FROM runs WHERE status = ? ORDER BY id", (status,))
    return [_run(r) for r in rows]


def runs_of_job_runs(store: Store, job_run_ids: list[int]) -> list[Run]:
    """The runs executed under these ledger entries."""
    if not job_run_ids:
        return []
    marks = ",".join("?" * len(job_run_ids))
    rows = store.conn.execute(
        f"SELECT * FROM runs WHERE job_run_id IN ({marks}) ORDER BY id", job_run_ids
    )
    return [_run(r) for r in rows]


def retry_chain(store: Store, run_id: int) -> list[int]:
    """This run and every interrupted run it re-runs, newest first."""
    chain: list[int] = []
    current: int | None = run_id
    while current is not None and current not in chain:
        chain.append(current)
        row = store.conn.execute("SELECT retry_of FROM runs WHERE id = ?", (current,)).fetchone()
        current = row[0] if row else None
    return chain


def registered_version(store: Store, run_ids: list[int]) -> tuple[str, int] | None:
    """(model, version) registered by any of these runs: registering stays idempotent on retry."""
    if not run_ids:
        return None
    marks = ",".join("?" * len(run_ids))
    row = store.conn.execute(
        f"SELECT model, version FROM versions WHERE run_id IN ({marks}) ORDER BY id LIMIT 1",
        run_ids,
    ).fetchone()
    return None if row is None else (row["model"], int(row["version"]))


def set_stage_log(store: Store, run_id: int, name: str, log_tail: str) -> None:
    """Publish a running stage's log so far (consoles show it live)."""
    with store.write() as conn:
        conn.execute(
            "UPDATE stage_runs SET log_tail = ? WHERE run_id = ? AND name = ? AND status = 'running'",
            (sanitize(log_tail[-LOG_TAIL_CHARS:]), run_id, name),
        )


def insert_history(store: Store, runs: Iterable[Run], batch: int = 5_000) -> int:
    """Bulk-load finished runs and their stages as given (imports, benchmarks); ids are new."""
    count = 0
    with store.write() as conn:
        pending: list[Run] = []

        def flush() -> None:
            for run in pending:
                cur = conn.execute(
                    "INSERT INTO runs (pipeline, status, trigger, triggered_by, attempt,"
                    " created_at, started_at, ended_at, error) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        run.pipeline,
                        run.status,
                        run.trigger,
                        run.triggered_by,
                        run.attempt,
                        run.created_at,
                        run.started_at,
                        run.ended_at,
                        run.error,
                    ),
                )
                run_id = int(cur.lastrowid or 0)
                conn.executemany(
                    "INSERT INTO stage_runs (run_id, position, name, status, started_at, ended_at,"
                    " log_tail) VALUES (?,?,?,?,?,?,?)",
                    [
                        (run_id, s.position, s.name, s.status, s.started_at, s.ended_at, s.log_tail)
                        for s in run.stages
                    ],
                )
            pending.clear()

        for run in runs:
            pending.append(run)
            count += 1
            if len(pending) >= batch:
                flush()
        flush()
    return count


def latest_runs(store: Store) -> dict[str, Run]:
    """Every pipeline's newest run with its stages, in two indexed queries."""
    conn = store.conn
    rows = conn.execute(
        "WITH RECURSIVE p(name) AS (SELECT min(pipeline) FROM runs UNION ALL"
        " SELECT (SELECT min(pipeline) FROM runs WHERE pipeline > p.name) FROM p"
        " WHERE p.name IS NOT NULL)"  # distinct pipelines, skipping through the index
        " SELECT r.* FROM p CROSS JOIN runs r"
        " ON r.id = (SELECT max(id) FROM runs WHERE pipeline = p.name)"
    ).fetchall()
    if not rows:
        return {}
    ids = [r["id"] for r in rows]
    by_run: dict[int, list[StageRun]] = {i: [] for i in ids}
    marks = ",".join("?" * len(ids))
    for s in conn.execute(
        f"SELECT * FROM stage_runs WHERE run_id IN ({marks}) ORDER BY run_id, position", ids
    ).fetchall():
        by_run[s["run_id"]].append(_stage(s))
    return {r["pipeline"]: _run(r, tuple(by_run[r["id"]])) for r in rows}


def stage_durations(
    store: Store, bounds: Sequence[float]
) -> dict[tuple[str, str], tuple[list[int], float, int]]:
    """Finished stages' durations per (pipeline, stage): the count at or under each bound
    (cumulative, as a Prometheus histogram keeps them), their sum, and how many (one pass)."""
    buckets = ", ".join(f"sum(d <= {float(b)!r})" for b in bounds)
    rows = store.conn.execute(
        f"SELECT pipeline, name, {buckets}, sum(d), count(*) FROM ("
        " SELECT r.pipeline, s.name, s.ended_at - s.started_at AS d"
        " FROM stage_runs s JOIN runs r ON r.id = s.run_id"
        " WHERE s.status IN ('succeeded','failed') AND s.started_at IS NOT NULL"
        " AND s.ended_at IS NOT NULL) GROUP BY pipeline, name"
    ).fetchall()
    n = len(bounds)
    return {
        (r[0], r[1]): ([int(c) for c in r[2 : 2 + n]], float(r[2 + n]), int(r[3 + n])) for r in rows
    }


def last_success(store: Store) -> dict[str, float]:
    """When each pipeline's newest successful run ended (one that found nothing changed did
    its work too)."""
    rows = store.conn.execute(
        "SELECT pipeline, max(ended_at) FROM runs WHERE status IN ('succeeded', 'unchanged')"
        " GROUP BY pipeline"
    ).fetchall()
    return {r[0]: float(r[1]) for r in rows if r[1] is not None}


def unfinished_run_ids(store: Store) -> set[int]:
    """Runs still queued or running (their files are still being written)."""
    rows = store.conn.execute("SELECT id FROM runs WHERE status IN ('queued','running')")
    return {int(r[0]) for r in rows}
