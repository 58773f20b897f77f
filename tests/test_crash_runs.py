"""Honest run states: runs asked for in the same millisecond both run, a stage cut short by a
shutdown or a cancel never ends `succeeded`, a cancelled run says by whom, files of runs
that never registered are removed, a scheduler whose process is gone is dead at once, and a
console whose terminal hangs up mid-training exits within a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lookout.scheduler import pipeline
from lookout.scheduler.artifacts import orphaned_artifacts, run_artifact
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import pipelines, scheduling
from lookout.storage.db import now

from tests.test_console_terminal import Terminal, terminal_env  # noqa: F401
from tests.test_pipeline import config, make, stage
from tests.test_scheduler import runs, wait_for

POLITE = """
[[pipelines.p.stages]]
name = "polite"
call = "lookout_stages:polite"
"""
POLITE_PY = """

def polite(ctx):
    import pathlib
    pathlib.Path(ctx.ws.root, "polite-started").write_text("x")
    ctx.cancelled.wait(60)  # honours the flag as documented: returns early, no error
    return {"done": 0}
"""


def polite_workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make(make_workspace, config(POLITE))
    path = ws.root / "code" / "lookout_stages.py"
    path.write_text(path.read_text() + POLITE_PY)
    return ws


def test_two_runs_asked_for_in_the_same_millisecond_both_run(
    make_workspace: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make(make_workspace, config())
    monkeypatch.setattr(pipelines, "now", lambda: 1_800_000_000.123)  # one instant for both
    first = pipeline.queue_run(ws, "p", "manual", "alice")
    second = pipeline.queue_run(ws, "p", "manual", "bob")
    monkeypatch.undo()
    assert first.created_at == second.created_at
    assert Scheduler(ws).run_once()
    done = {r.id: r for r in runs(ws)}
    # both ran; the second found the first's version trained from the same data
    assert (done[first.id].status, done[second.id].status) == ("succeeded", "unchanged")
    keys = {j.idem_key for j in scheduling.list_job_runs(ws.store) if j.job == "pipeline:p"}
    assert keys == {f"pipeline:p#run{first.id}", f"pipeline:p#run{second.id}"}


def test_a_slot_that_already_ran_cancels_its_duplicate_saying_so(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    runner = pipeline.Runner(ws, "holder")
    slot = 1_800_000_000.0
    first = pipeline.queue_run(ws, "p", "schedule", "scheduler")
    assert runner.execute(first.id, slot).status == "succeeded"  # type: ignore[union-attr]
    again = pipeline.queue_run(ws, "p", "schedule", "scheduler")
    done = runner.execute(again.id, slot)
    assert done is not None and (done.status, done.cancelled_by) == ("cancelled", "scheduler")
    assert done.error is not None and "already ran" in done.error


def test_shutdown_during_a_stage_that_honours_the_flag_ends_cancelled_not_succeeded(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = polite_workspace(make_workspace)
    sched = Scheduler(ws)
    assert sched.start()
    scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
    wait_for(lambda: (ws.root / "polite-started").exists(), timeout=60)
    victim = runs(ws)[-1]
    sched.stop()
    after = pipelines.get_run(ws.store, victim.id)
    assert after is not None and after.status == "interrupted"
    assert stage(after, "polite").status == "cancelled"
    assert stage(after, "polite").error == "the scheduler stopped"
    again = runs(ws)[-1]
    assert (again.retry_of, again.status) == (victim.id, "queued")  # re-queued as before


def test_cancel_during_a_stage_that_honours_the_flag_ends_cancelled_by_that_person(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = polite_workspace(make_workspace)
    sched = Scheduler(ws)
    assert sched.start()
    try:
        scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
        wait_for(lambda: (ws.root / "polite-started").exists(), timeout=60)
        victim = runs(ws)[-1]
        scheduling.submit_request(ws.store, "cancel_run", str(victim.id), "bob")
        done = wait_for(
            lambda: (r := pipelines.get_run(ws.store, victim.id)) and r.ended_at and r,
            timeout=60,
        )
    finally:
        sched.stop()
    assert (done.status, done.cancelled_by, done.error) == (  # type: ignore[attr-defined]
        "cancelled",
        "bob",
        "cancelled by bob",
    )
    assert stage(done, "polite").status == "cancelled"  # type: ignore[arg-type]


def test_files_of_runs_that_registered_nothing_are_removed_and_models_kept(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    done = pipeline.Runner(ws, "holder").execute(pipeline.queue_run(ws, "p", "manual", "a").id)
    assert done is not None and done.status == "succeeded"
    model = run_artifact(ws, "m", done.id)
    assert model.exists()
    # an interrupted run's model, a killed write, and a running run's half-written file
    interrupted = pipeline.queue_run(ws, "p", "manual", "a")
    pipelines.claim_run(ws.store, interrupted.id, None)
    pipelines.interrupt_running(ws.store, [interrupted.id])
    running = pipeline.queue_run(ws, "p", "manual", "a")
    pipelines.claim_run(ws.store, running.id, None)
    left = run_artifact(ws, "m", interrupted.id)
    left.write_bytes(b"model nobody registered")
    killed = left.with_name(f".run-{interrupted.id}.joblib.4242.tmp")
    killed.write_bytes(b"half")
    busy = run_artifact(ws, "m", running.id).with_name(f".run-{running.id}.joblib.1.tmp")
    busy.write_bytes(b"being written")
    assert orphaned_artifacts(ws) == sorted([left, killed])
    pipelines.interrupt_running(ws.store, [running.id])
    sched = Scheduler(ws)
    sched.prepare()  # every start removes them
    assert not left.exists() and not killed.exists() and not busy.exists()
    assert model.exists()


def test_a_scheduler_whose_process_is_gone_is_dead_at_once(
    make_workspace: Callable[..., Workspace], cli: Callable[..., object]
) -> None:
    ws = make(make_workspace, config())
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    sched = Scheduler(ws)
    scheduling.acquire_lease(ws.store, "ghost", sched.host, pid, ttl=600)
    lease = scheduling.get_lease(ws.store)
    assert lease is not None and lease.expires_at > now() + 500 and not lease.alive(now())
    status = cli("status", "--workspace", str(ws.root), "--json")
    assert json.loads(status.out)["scheduler"]["alive"] is False  # type: ignore[attr-defined]
    assert sched.acquire()[0]  # and it is taken over at once
    sched.release()


SLOW_PY = """

class Slow:
    \"\"\"An estimator whose fit keeps the interpreter busy for a minute (pure Python).\"\"\"

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, x, y):
        import pathlib, time
        pathlib.Path(__file__).with_name("training").write_text("x")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            sum(range(20000))
        return self

    def predict(self, x):
        return [0] * len(x)


def slow(**params):
    return Slow()
"""


@pytest.mark.slow
def test_a_hangup_during_training_exits_within_a_second_and_gives_the_run_back(
    make_workspace: Callable[..., Workspace],
    terminal_env: dict[str, str],  # noqa: F811
) -> None:
    ws = make(make_workspace, config())
    path = ws.root / "code" / "lookout_stages.py"
    path.write_text(path.read_text() + SLOW_PY)
    # the estimator is looked up when the config loads, so it names the code once it exists
    ws = make_workspace(config(estimator="lookout_stages:slow"))
    term = Terminal(ws.root, terminal_env, args=())
    try:
        term.wait_for("Pipelines")
        lease = wait_for(
            lambda: (x := scheduling.get_lease(ws.store)) and x.pid == term.pid and x, timeout=60
        )
        scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
        wait_for(lambda: (ws.root / "code" / "training").exists(), timeout=60)
        victim = runs(ws)[-1]
        assert stage(victim, "train").status == "running"
        start = time.monotonic()
        term.hang_up()
        assert term.exited(10), "the console outlived its terminal"
        took = time.monotonic() - start
    finally:
        term.kill()
    print(f"hangup during training: the console exited after {took:.3f}s")
    assert took <= 1.0, f"the console took {took:.2f}s to exit after the hangup"
    after = pipelines.get_run(ws.store, victim.id)
    assert after is not None and after.status == "interrupted"
    assert stage(after, "train").status == "interrupted"
    assert runs(ws)[-1].retry_of == victim.id  # queued again for the next scheduler
    released = scheduling.get_lease(ws.store)
    assert released is not None and released.holder == lease.holder  # type: ignore[attr-defined]
    assert released.expires_at <= now()  # given up, not merely left to expire
    assert os.path.exists(Path(ws.root) / "code" / "training")
