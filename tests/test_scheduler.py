"""The scheduler service: lease, ledger, requests, triggers, misfires, crash recovery."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from lookout.scheduler import pipeline
from lookout.scheduler.pipeline import Runner
from lookout.scheduler.service import Scheduler, due, first_fire
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks as checks_store
from lookout.storage import events, pipelines, registry, scheduling
from lookout.storage.db import now
from lookout.storage.records import Run

from tests.test_pipeline import config, make, write_csv

HOLD = '[[pipelines.p.stages]]\nname = "hold"\ncall = "lookout_stages:hold"\n'


def wait_for(what: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll until `what()` is truthy; its value, or a failed test at the deadline."""
    tick = threading.Event()
    deadline = now() + timeout
    while now() < deadline:
        value = what()
        if value:
            return value
        tick.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def runs(ws: Workspace) -> list[Run]:
    return list(reversed(pipelines.list_runs(ws.store, "p")))


def finished(ws: Workspace, count: int = 1) -> list[Run]:
    def check() -> list[Run] | None:
        got = runs(ws)
        done = [r for r in got if r.status not in ("queued", "running")]
        return got if len(done) >= count else None

    return wait_for(check)


@pytest.fixture
def started() -> Iterator[Callable[[Workspace], Scheduler]]:
    """Start an in-process scheduler; every one is stopped at the end."""
    live: list[Scheduler] = []

    def start(ws: Workspace) -> Scheduler:
        sched = Scheduler(ws)
        assert sched.start()
        live.append(sched)
        return sched

    yield start
    for sched in live:
        sched.stop()


# -- misfire policy -------------------------------------------------------------------


def test_missed_slots_coalesce_into_one_run_within_the_grace_period() -> None:
    t = now()
    every_minute = IntervalTrigger(seconds=60, timezone=dt.UTC)
    first = dt.datetime.fromtimestamp(t - 200, dt.UTC)  # slots at -200, -140, -80, -20
    slot, nxt = due(every_minute, first, t, grace=300)
    assert slot is not None and slot.timestamp() == pytest.approx(t - 20)
    assert nxt is not None and nxt.timestamp() == pytest.approx(t + 40)
    slot, nxt = due(every_minute, first, t, grace=10)
    assert slot is None and nxt is not None and nxt.timestamp() == pytest.approx(t + 40)
    cron = CronTrigger.from_crontab("*/5 * * * *", timezone=dt.UTC)
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    slot, nxt = due(cron, start, start.timestamp() + 17 * 60, grace=300)
    assert slot == dt.datetime(2026, 1, 1, 12, 15, tzinfo=dt.UTC)
    assert nxt == dt.datetime(2026, 1, 1, 12, 20, tzinfo=dt.UTC)


def test_a_shorter_schedule_in_the_config_replaces_a_stored_later_slot() -> None:
    t = now()
    every_minute = IntervalTrigger(seconds=60, timezone=dt.UTC)
    first = first_fire(every_minute, t + 3600, t)  # stored under a former "1h" schedule
    assert first is not None and first.timestamp() <= t + 61
    kept = first_fire(every_minute, t + 30, t)
    assert kept is not None and kept.timestamp() == pytest.approx(t + 30)
    assert first_fire(every_minute, None, t).timestamp() == pytest.approx(t)  # type: ignore[union-attr]


def test_once_runs_a_schedule_missed_three_times_exactly_once(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config('schedule = "1m"\n'))
    scheduling.set_next_run(ws.store, "pipeline:p", now() - 150)
    assert Scheduler(ws).run_once()
    got = runs(ws)
    assert [(r.trigger, r.status) for r in got] == [("schedule", "succeeded")]
    assert pipelines.get_pipeline(ws.store, "p").next_run_at > now()  # type: ignore[union-attr]
    assert Scheduler(ws).run_once()
    assert len(runs(ws)) == 1  # the next slot is in the future


def test_once_skips_a_slot_missed_by_more_than_the_grace_period(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config('schedule = "10m"\n', head=FAST_GRACE))
    scheduling.set_next_run(ws.store, "pipeline:p", now() - 120)
    sched = Scheduler(ws)
    assert sched.run_once()
    assert runs(ws) == [] and sched.missed == ["pipeline:p"]
    assert scheduling.next_runs(ws.store)["pipeline:p"] == pytest.approx(now() + 480, abs=5)


FAST_GRACE = """
[scheduler]
lease = "3s"
heartbeat = "1s"
poll = "100ms"
misfire_grace = "1m"
"""


def test_the_running_service_applies_the_same_misfire_policy(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config('schedule = "1m"\n', head=FAST_GRACE), "coalesce")
    scheduling.set_next_run(ws.store, "pipeline:p", now() - 150)
    late = make(make_workspace, config('schedule = "10m"\n', head=FAST_GRACE), "late")
    scheduling.set_next_run(late.store, "pipeline:p", now() - 120)
    started(ws)
    assert [r.trigger for r in finished(ws)] == ["schedule"]
    skipped = started(late)
    wait_for(lambda: skipped.missed == ["pipeline:p"])
    assert runs(late) == []
    assert len(runs(ws)) == 1


# -- triggers and requests ------------------------------------------------------------


def test_a_manual_request_is_picked_up_within_a_second(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config())
    started(ws)
    req = scheduling.submit_request(ws.store, "run_pipeline", "p", "alice", {"trigger": "manual"})
    run = finished(ws)[0]
    assert (run.trigger, run.triggered_by, run.status) == ("manual", "alice", "succeeded")
    taken = scheduling.get_request(ws.store, req.id)
    assert taken is not None and taken.status == "done" and taken.result == f"run {run.id}"
    assert taken.taken_at is not None and taken.taken_at - taken.at < 1.0
    assert run.job_run_id is not None
    ledger = {j.id: j for j in scheduling.list_job_runs(ws.store)}[run.job_run_id]
    assert (ledger.job, ledger.status) == ("pipeline:p", "succeeded")


def test_a_drift_request_runs_only_pipelines_that_retrain_on_drift(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config("[pipelines.p.triggers]\ndrift = true\n"))
    plain = make(make_workspace, config(), "plain")
    started(ws)
    started(plain)  # its own store: each workspace has one scheduler
    scheduling.submit_request(ws.store, "run_pipeline", "p", "drift:m", {"trigger": "drift"})
    refused = scheduling.submit_request(
        plain.store, "run_pipeline", "p", "drift:m", {"trigger": "drift"}
    )
    assert [(r.trigger, r.status) for r in finished(ws)] == [("drift", "succeeded")]
    got = wait_for(
        lambda: (
            (r := scheduling.get_request(plain.store, refused.id)) and r.status != "queued" and r
        )
    )
    assert got.status == "failed" and got.result == "drift runs of p are turned off"
    assert runs(plain) == []


def test_a_console_retry_is_a_new_run_recorded_as_a_retry(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config())
    started(ws)
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice", {"retry_of": 7})
    assert [(r.trigger, r.triggered_by, r.status) for r in finished(ws)] == [
        ("retry", "alice", "succeeded")
    ]


def test_a_new_or_changed_file_starts_a_run_but_files_seen_at_start_do_not(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config('[pipelines.p.triggers]\nfiles = "data/*.csv"\n'))
    started(ws)
    write_csv(ws.root / "data" / "more.csv", seed=2)
    first = finished(ws)
    assert [(r.trigger, r.triggered_by) for r in first] == [("file", "file:more.csv")]
    write_csv(ws.root / "data" / "more.csv", rows=130, seed=3)
    second = finished(ws, 2)
    assert [r.trigger for r in second] == ["file", "file"]
    assert [v.version for v in registry.list_versions(ws.store, "m")] == [2, 1]


def test_a_cancel_request_stops_a_running_run(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config(HOLD))
    started(ws)
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice", {"trigger": "manual"})
    run = wait_for(lambda: [r for r in runs(ws) if r.stages[-1].status == "running"])[0]
    scheduling.submit_request(ws.store, "cancel_run", str(run.id), "bob")
    done = finished(ws)[0]
    assert (done.status, done.cancelled_by, done.error) == ("cancelled", "bob", "cancelled by bob")
    assert done.stages[-1].status == "cancelled"


def test_a_bad_pipeline_fails_and_the_scheduler_keeps_serving(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(
        make_workspace,
        config('[[pipelines.p.stages]]\nname = "train"\ncall = "lookout_stages:boom"\n'),
    )
    started(ws)
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
    assert finished(ws)[0].status == "failed"
    scheduling.submit_request(ws.store, "run_pipeline", "nope", "alice")
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
    assert [r.status for r in finished(ws, 2)] == ["failed", "failed"]


def test_checks_run_on_their_schedule_and_on_request_through_the_ledger(
    make_workspace: Callable[..., Workspace],
) -> None:
    checks = (
        'check_schedule = "1m"\n[[datasets.table.checks]]\nname = "labels"\n'
        'type = "allowed_values"\ncolumn = "y"\nvalues = [0, 1]\n'
    )
    ws = make(make_workspace, config(checks=checks))
    req = scheduling.submit_request(ws.store, "run_checks", "table", "alice")
    unknown = scheduling.submit_request(ws.store, "run_checks", "nope", "alice")
    assert Scheduler(ws).run_once()
    done = scheduling.get_request(ws.store, req.id)
    assert done is not None and done.status == "done"
    refused = scheduling.get_request(ws.store, unknown.id)
    assert refused is not None and refused.result == "no dataset named nope"
    ledger = {j.job: j.status for j in scheduling.list_job_runs(ws.store)}
    assert ledger["checks:table"] == "succeeded"
    assert ledger[f"checks:table#request{req.id}"] == "succeeded"
    assert len(checks_store.history(ws.store, "table", "labels")) == 2


def test_pruning_the_ledger_keeps_running_entries_and_those_of_runs(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    run = Runner(ws, "test-holder").execute(pipeline.queue_run(ws, "p", "manual", "a").id)
    done = scheduling.start_job_run(ws.store, "webhooks", 1.0, "h")
    going = scheduling.start_job_run(ws.store, "webhooks", 2.0, "h")
    assert run is not None and done is not None and going is not None
    scheduling.finish_job_run(ws.store, done.id, "succeeded")
    assert scheduling.prune_job_runs(ws.store, now() + 1) == 1
    left = {j.id for j in scheduling.list_job_runs(ws.store)}
    assert left == {run.job_run_id, going.id}


# -- lease and recovery ---------------------------------------------------------------


def test_one_lease_and_a_dead_holder_on_this_host_is_taken_over(
    make_workspace: Callable[..., Workspace], started: Callable[[Workspace], Scheduler]
) -> None:
    ws = make(make_workspace, config())
    first = started(ws)
    second = Scheduler(ws)
    assert not second.start()
    assert second.lease is not None and second.lease.holder == first.holder
    first.stop()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    scheduling.acquire_lease(ws.store, "ghost", second.host, pid, ttl=600)
    assert second.start()
    second.stop()


def test_work_left_running_by_a_dead_scheduler_is_interrupted_and_requeued(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    job = scheduling.start_job_run(ws.store, "pipeline:p", now(), "ghost")
    assert job is not None
    orphan = pipelines.create_run(
        ws.store, "p", ["ingest", "validate", "train", "evaluate", "register"], "manual", "alice"
    )
    pipelines.claim_run(ws.store, orphan.id, job.id)
    pipelines.start_stage(ws.store, orphan.id, "ingest")
    checks_job = scheduling.start_job_run(ws.store, "checks:table", now(), "ghost")
    assert checks_job is not None
    assert Scheduler(ws).run_once()
    before = pipelines.get_run(ws.store, orphan.id)
    assert before is not None and before.status == "interrupted"
    assert [s.status for s in before.stages] == ["interrupted"] + ["skipped"] * 4
    rerun = runs(ws)[-1]
    assert (rerun.retry_of, rerun.attempt, rerun.status) == (orphan.id, 2, "succeeded")
    ledger = {j.id: j.status for j in scheduling.list_job_runs(ws.store)}
    assert ledger[job.id] == "requeued" and ledger[checks_job.id] == "interrupted"
    assert len(events.list_events(ws.store, kind="interrupted")) == 2


def test_a_clean_stop_interrupts_the_running_stage_and_queues_the_run_again(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config(HOLD))
    sched = Scheduler(ws)
    assert sched.start()
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
    victim = wait_for(lambda: [r for r in runs(ws) if r.stages[-1].status == "running"])[0]
    # A running stage's log is published while it runs, not only at its end.
    wait_for(lambda: "holding" in runs(ws)[-1].stages[-1].log_tail)
    sched.stop()
    after = pipelines.get_run(ws.store, victim.id)
    assert after is not None and after.status == "interrupted"
    # the stage saw ctx.cancelled and returned early: cut short, not succeeded
    assert after.stages[-1].status == "cancelled"
    (ws.root / "release").write_text("go")
    assert Scheduler(ws).run_once()
    rerun = runs(ws)[-1]
    assert (rerun.retry_of, rerun.status) == (victim.id, "succeeded")
    assert [v.version for v in registry.list_versions(ws.store, "m")] == [1]


# -- the command line -----------------------------------------------------------------


def test_run_wait_runs_in_process_without_a_scheduler(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make(make_workspace, config())
    res = cli("run", "p", "--workspace", str(ws.root), "--wait", "--json")
    assert res.code == 0, res.err
    body = res.json()
    assert body["ok"] is True and body["run"]["status"] == "succeeded"
    assert [s["status"] for s in body["run"]["stages"]] == ["succeeded"] * 5
    lease = scheduling.get_lease(ws.store)
    assert lease is not None and not lease.alive(now())  # released when done
    bad = make(make_workspace, config(source="data/missing.csv"), "bad")
    res = cli("run", "p", "--workspace", str(bad.root), "--wait")
    assert res.code == 1
    assert "run 1 of p failed" in res.out and "stage ingest:" in res.out
    assert "no file matches" in res.out
    assert cli("run", "nope", "--workspace", str(bad.root)).code == 2


def test_run_retry_and_cancel_from_the_command_line(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    """`--retry RUN --wait` runs the pipeline again here (a new run, marked a retry);
    `--cancel RUN` of a run that ended is refused in one line."""
    ws = make(make_workspace, config(source="data/missing.csv"))
    root = str(ws.root)
    assert cli("run", "p", "--workspace", root, "--wait").code == 1
    data = ws.root / "data"
    (data / "missing.csv").write_text((data / "train.csv").read_text())
    res = cli("run", "p", "--retry", "1", "--workspace", root, "--wait", "--json")
    assert res.code == 0, res.err
    body = res.json()
    assert body["run"]["id"] == 2 and body["run"]["status"] == "succeeded"
    assert body["run"]["trigger"] == "retry"
    refused = cli("run", "p", "--cancel", "2", "--workspace", root)
    assert refused.code == 2 and refused.err.strip() == "lookout: run 2 is not queued or running"


def test_run_wait_takes_over_from_a_scheduler_that_died(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make(make_workspace, config())
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    scheduling.acquire_lease(ws.store, "ghost", Scheduler(ws).host, int(gone.stdout), ttl=600)
    res = cli("run", "p", "--workspace", str(ws.root), "--wait", "--json")
    assert res.code == 0, res.err
    assert res.json()["run"]["status"] == "succeeded"


def test_run_wait_hands_the_run_to_a_live_scheduler(
    make_workspace: Callable[..., Workspace],
    started: Callable[[Workspace], Scheduler],
    cli: Callable[..., Any],
) -> None:
    ws = make(make_workspace, config())
    sched = started(ws)
    res = cli("run", "p", "--workspace", str(ws.root), "--wait", "--json")
    assert res.code == 0, res.err
    run = pipelines.get_run(ws.store, res.json()["run"]["id"])
    assert run is not None and run.job_run_id is not None
    ledger = {j.id: j for j in scheduling.list_job_runs(ws.store)}[run.job_run_id]
    assert ledger.lease_holder == sched.holder
    res = cli("run", "p", "--workspace", str(ws.root), "--json")
    assert res.code == 0 and res.json()["run"] is None and res.json()["request"]["id"]


def test_an_impossible_cron_schedule_is_one_line_of_usage_error(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make(make_workspace, config())
    (ws.root / "lookout.toml").write_text(config('schedule = "99 * * * *"\n'))
    res = cli("scheduler", "--once", "--workspace", str(ws.root))
    assert res.code == 2 and res.out == ""
    assert res.err.count("\n") == 1
    assert 'pipelines.p.schedule: minute "99": expected 0-59' in res.err


def test_scheduler_once_from_the_command_line(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make(make_workspace, config())
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
    res = cli("scheduler", "--once", "--workspace", str(ws.root))
    assert res.code == 0, res.err
    assert [r.status for r in runs(ws)] == ["succeeded"]


# -- real processes -------------------------------------------------------------------


def lookout(ws: Workspace, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lookout.console.cli", "--workspace", str(ws.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_second_scheduler_process_exits_naming_the_holder(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    first = lookout(ws, "scheduler")
    try:
        lease = wait_for(lambda: (x := scheduling.get_lease(ws.store)) and x.pid == first.pid and x)
        second = lookout(ws, "scheduler")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"{lease.host} pid {first.pid} since " in err
        waiter = lookout(ws, "scheduler", "--wait")
        assert waiter.stdout is not None
        assert "waiting for the lease held by" in waiter.stdout.readline()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
        taken = wait_for(
            lambda: (x := scheduling.get_lease(ws.store)) and x.pid == waiter.pid and x
        )
        assert taken.alive(now())
        waiter.send_signal(signal.SIGTERM)
        out, _ = waiter.communicate(timeout=30)
        assert waiter.returncode == 0 and "scheduler stopped" in out
        assert not scheduling.get_lease(ws.store).alive(now())  # type: ignore[union-attr]
    finally:
        for proc in (first, locals().get("waiter")):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_kill_9_during_a_stage_then_restart_recovers_without_registering_twice(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config(HOLD))
    daemon = lookout(ws, "scheduler")
    try:
        scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
        victim = wait_for(lambda: [r for r in runs(ws) if r.stages[-1].status == "running"])[0]
        assert registry.list_versions(ws.store, "m")  # registered before the hold stage
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert pipelines.get_run(ws.store, victim.id).status == "running"  # type: ignore[union-attr]
    (ws.root / "release").write_text("go")
    again = lookout(ws, "scheduler", "--once")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    after = pipelines.get_run(ws.store, victim.id)
    assert after is not None and after.status == "interrupted"
    assert not any(s.status == "running" for s in after.stages)
    rerun = runs(ws)[-1]
    assert (rerun.retry_of, rerun.status) == (victim.id, "succeeded")
    assert [v.version for v in registry.list_versions(ws.store, "m")] == [1]
    assert any(
        str(victim.id) in e.message for e in events.list_events(ws.store, kind="interrupted")
    )
