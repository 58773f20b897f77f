"""Mirrored runs in a real store: what a sync writes, what it keeps, and what it leaves alone."""

from __future__ import annotations

from dataclasses import replace

from lookout.storage import events, mirror, pipelines, watch
from lookout.storage.db import Store, now
from lookout.storage.records import MirroredRun, MirroredStage

T = 1.8e9
TASKS = ("extract", "train", "register")


def stages(*states: str, tries: int = 1) -> tuple[MirroredStage, ...]:
    return tuple(
        MirroredStage(name, i, state, None, None, tries if state != "pending" else 0, "@task")
        for i, (name, state) in enumerate(zip(TASKS, states, strict=True))
    )


def dag_run(key: str, status: str, at: float, *states: str, **kw: object) -> MirroredRun:
    fields: dict[str, object] = {
        "trigger": "schedule",
        "triggered_by": "airflow:timetable",
        "started_at": at,
        "ended_at": None,
        "error": None,
        "stages": stages(*states) if states else (),
    }
    fields.update(kw)
    return MirroredRun(key, status, created_at=at, **fields)  # type: ignore[arg-type]


def apply(store: Store, *runs: MirroredRun, read_at: float | None = None) -> mirror.Applied:
    with store.write() as conn:
        return mirror.apply(conn, "airflow", "wine", runs, read_at=read_at)


def test_runs_are_written_oldest_first_with_their_stages_in_order(store: Store) -> None:
    applied = apply(
        store,
        dag_run("b", "running", T + 60, "succeeded", "running", "pending"),
        dag_run("a", "succeeded", T, "succeeded", "succeeded", "succeeded"),
    )
    assert applied == mirror.Applied(added=2, changed=0)
    newest, oldest = pipelines.list_runs(store, "wine")
    assert (oldest.id, newest.id) == (1, 2)  # ids follow time, as the screens expect
    assert [(s.name, s.status, s.try_number, s.operator) for s in newest.stages] == [
        ("extract", "succeeded", 1, "@task"),
        ("train", "running", 1, "@task"),
        ("register", "pending", 0, "@task"),
    ]
    assert mirror.run_id(store, "airflow", "wine", "b") == newest.id
    where = mirror.key_of(store, newest.id)
    assert where == mirror.MirrorKey("airflow", "wine", "b")
    assert mirror.key_of(store, 999) is None


def test_a_later_pass_moves_state_but_keeps_who_started_the_run(store: Store) -> None:
    apply(store, dag_run("a", "queued", T, "pending", "pending", "pending", triggered_by="alice"))
    again = dag_run("a", "running", T, "running", "pending", "pending", triggered_by="airflow:x")
    assert apply(store, again) == mirror.Applied(added=0, changed=1)
    (run,) = pipelines.list_runs(store, "wine")
    assert (run.status, run.triggered_by) == ("running", "alice")
    assert [s.status for s in run.stages] == ["running", "pending", "pending"]
    # A pass that lists only the run (its tasks did not move) leaves the stages as they are.
    apply(store, dag_run("a", "running", T))
    (run,) = pipelines.list_runs(store, "wine")
    assert [s.status for s in run.stages] == ["running", "pending", "pending"]


def test_a_fetched_log_is_kept_until_the_task_tries_again(store: Store) -> None:
    apply(store, dag_run("a", "failed", T, "failed", "upstream_failed", "upstream_failed"))
    (run,) = pipelines.list_runs(store, "wine")
    assert mirror.set_log(store, run.id, "extract", "ERROR boom\n")
    apply(store, dag_run("a", "failed", T, "failed", "upstream_failed", "upstream_failed"))
    assert pipelines.list_runs(store, "wine")[0].stages[0].log_tail == "ERROR boom\n"
    retried = stages("running", "pending", "pending", tries=2)
    apply(store, dag_run("a", "running", T, stages=retried))
    extract = pipelines.list_runs(store, "wine")[0].stages[0]
    assert (extract.try_number, extract.log_tail) == (2, "")  # that log was try 1's


def test_the_newest_runs_outcome_opens_and_resolves_the_failure_event(store: Store) -> None:
    old_failure = dag_run("a", "failed", T, "failed", "upstream_failed", "upstream_failed")
    success = dag_run("b", "succeeded", T + 60, "succeeded", "succeeded", "succeeded")
    apply(store, old_failure, success)
    assert events.list_events(store, kind="run_failed") == []  # history: only the newest counts
    apply(
        store,
        dag_run(
            "c",
            "failed",
            T + 120,
            "succeeded",
            "failed",
            "upstream_failed",
        ),
    )
    (opened,) = events.list_events(store, kind="run_failed")
    assert opened.subject == "wine" and "stage train failed" in opened.message
    apply(store, dag_run("c", "succeeded", T + 120, "succeeded", "succeeded", "succeeded"))
    (closed,) = events.list_events(store, kind="run_failed")
    assert closed.resolved_at is not None


def test_a_run_lookout_cancelled_is_cancelled_says_who_and_cuts_short_what_ran(
    store: Store,
) -> None:
    """Airflow cancels by marking a run failed (the running task failed, the rest skipped):
    the mirror shows what Lookout asked for, as a local run cancelled mid-stage shows it."""
    apply(store, dag_run("a", "running", T, "succeeded", "running", "pending"))
    (run,) = pipelines.list_runs(store, "wine")
    mirror.set_cancel(store, run.id, "alice")
    ended = dag_run("a", "failed", T, "succeeded", "failed", "skipped", error="stage train failed")
    apply(store, ended)
    (run,) = pipelines.list_runs(store, "wine")
    assert (run.status, run.error, run.cancel_requested) == (
        "cancelled",
        "cancelled by alice",
        True,
    )
    assert [s.status for s in run.stages] == ["succeeded", "cancelled", "skipped"]
    apply(store, ended)  # later passes keep it so
    (run,) = pipelines.list_runs(store, "wine")
    assert [s.status for s in run.stages] == ["succeeded", "cancelled", "skipped"]
    # Cleared from Lookout: the cut-short task runs again and the run follows Airflow again.
    mirror.set_cancel(store, run.id, None)
    apply(store, dag_run("a", "running", T, "succeeded", "running", "pending"))
    apply(store, dag_run("a", "failed", T, "succeeded", "failed", "upstream_failed"))
    (run,) = pipelines.list_runs(store, "wine")
    assert (run.status, run.error, run.cancelled_by) == ("failed", "stage train failed", None)
    assert [s.status for s in run.stages] == ["succeeded", "failed", "upstream_failed"]


def test_a_task_that_had_failed_before_the_cancel_stays_failed(store: Store) -> None:
    apply(store, dag_run("a", "running", T, "failed", "running", "pending"))
    (run,) = pipelines.list_runs(store, "wine")
    mirror.set_cancel(store, run.id, "alice")
    apply(store, dag_run("a", "failed", T, "failed", "failed", "skipped"))
    (run,) = pipelines.list_runs(store, "wine")
    assert run.status == "cancelled"
    assert [s.status for s in run.stages] == ["failed", "cancelled", "skipped"]


def test_a_pass_read_before_lookouts_own_action_does_not_undo_it(store: Store) -> None:
    apply(store, dag_run("a", "failed", T, "failed", "upstream_failed", "upstream_failed"))
    read_at = now()  # a sync read the run as failed now ...
    apply(store, dag_run("a", "queued", T, "pending", "pending", "pending"))  # ... then a clear
    stale = dag_run("a", "failed", T, "failed", "upstream_failed", "upstream_failed")
    assert apply(store, stale, read_at=read_at) == mirror.Applied(added=0, changed=0)
    assert pipelines.list_runs(store, "wine")[0].status == "queued"


def test_the_pipelines_watch_key_moves_when_the_mirror_does(store: Store) -> None:
    before = watch.pipelines_key(store)
    apply(store, dag_run("a", "succeeded", T, "succeeded", "succeeded", "succeeded"))
    after_sync = watch.pipelines_key(store)
    assert after_sync != before
    (run,) = pipelines.list_runs(store, "wine")
    mirror.set_log(store, run.id, "train", "fitted\n")  # a finished run's log, fetched later
    assert watch.pipelines_key(store) != after_sync


def test_lookouts_own_trigger_keeps_who_asked_even_when_a_sync_saw_the_run_first(
    store: Store,
) -> None:
    apply(store, dag_run("lookout__1", "queued", T, triggered_by="airflow:admin (rest_api)"))
    ours = dag_run("lookout__1", "queued", T, trigger="manual", triggered_by="alice")
    apply(store, replace(ours, ours=True))
    (run,) = pipelines.list_runs(store, "wine")
    assert (run.trigger, run.triggered_by) == ("manual", "alice")
