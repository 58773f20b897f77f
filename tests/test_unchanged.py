"""A run on the data, pipeline config and code a version was trained from ends `unchanged`
and registers nothing; a forced run registers anyway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.scheduler import pipeline
from lookout.scheduler.pipeline import Runner
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import events, pipelines, registry, scheduling
from lookout.storage.db import now
from lookout.storage.records import Run

from tests.test_pipeline import config, make, run_now, stage, write_csv


def versions(ws: Workspace) -> list[int]:
    return [v.version for v in reversed(registry.list_versions(ws.store, "m"))]


def run_forced(ws: Workspace) -> Run:
    queued = pipeline.queue_run(ws, "p", "manual", "tester", forced=True)
    done = Runner(ws, "test-holder").execute(queued.id)
    assert done is not None
    return done


def test_a_rerun_on_the_same_inputs_registers_nothing(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    first = run_now(ws)
    assert first.status == "succeeded" and versions(ws) == [1]
    requests = registry.list_requests(ws.store)

    again = run_now(ws)
    assert again.status == "unchanged", again.error
    assert versions(ws) == [1]
    assert registry.list_requests(ws.store) == requests  # no second promotion request
    assert [(s.name, s.status) for s in again.stages] == [
        ("ingest", "succeeded"),
        ("validate", "succeeded"),
        ("train", "skipped"),
        ("evaluate", "skipped"),
        ("register", "skipped"),
    ]
    train = stage(again, "train")
    assert train.metrics["same_as_version"] == 1
    assert "same data, pipeline config and code as m v1" in train.log_tail
    ledger = {j.id: j for j in scheduling.list_job_runs(ws.store)}[again.job_run_id or 0]
    assert ledger.status == "succeeded"

    forced = run_forced(ws)
    assert forced.status == "succeeded" and forced.forced and versions(ws) == [1, 2]
    assert stage(forced, "register").metrics["version"] == 2


def test_new_data_a_new_config_or_new_code_trains_again(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    assert run_now(ws).status == "succeeded"
    write_csv(ws.root / "data" / "train.csv", seed=2)
    assert run_now(ws).status == "succeeded" and versions(ws) == [1, 2]
    (ws.root / "code" / "helpers.py").write_text("SCALE = 2\n")
    assert run_now(ws).status == "succeeded" and versions(ws) == [1, 2, 3]
    assert run_now(ws).status == "unchanged"

    # when or how often it runs is not what it trains from; its params are
    ws = make(make_workspace, config('schedule = "1h"\nretries = 2\n'), "other")
    assert run_now(ws).status == "succeeded"
    same = make_workspace(config('schedule = "2h"\nretries = 1\n'), "other")
    assert run_now(same).status == "unchanged"
    changed = make_workspace(config().replace("max_depth = 3", "max_depth = 2"), "other")
    assert run_now(changed).status == "succeeded" and versions(changed) == [1, 2]


def test_the_failed_run_event_closes_on_an_unchanged_run(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make(make_workspace, config())
    assert run_now(ws).status == "succeeded"
    good = (ws.root / "data" / "train.csv").read_text()
    (ws.root / "data" / "train.csv").write_text("a,b,y\n")
    assert run_now(ws).status == "failed"
    assert events.open_event(ws.store.conn, "run_failed:p") is not None
    (ws.root / "data" / "train.csv").write_text(good)
    assert run_now(ws).status == "unchanged"
    assert events.open_event(ws.store.conn, "run_failed:p") is None
    assert "p" in pipelines.last_success(ws.store)


def test_scheduler_once_after_run_wait_registers_no_duplicate(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    """The issue's report: `scheduler --once` right after `run --wait` trained v2 from the
    same data and opened a second request."""
    ws = make(make_workspace, config('schedule = "1h"\n'))
    where = ("--workspace", str(ws.root))
    res = cli("run", "p", "--wait", *where)
    assert res.code == 0 and "succeeded" in res.out, res.err
    scheduling.set_next_run(ws.store, "pipeline:p", now() - 10)  # its slot is due now
    assert Scheduler(ws).run_once()
    latest = pipelines.latest_runs(ws.store)["p"]
    assert latest.trigger == "schedule" and latest.status == "unchanged"
    assert versions(ws) == [1] and len(registry.list_requests(ws.store)) == 1

    res = cli("run", "p", "--wait", *where)
    assert res.code == 0, res.err
    assert "unchanged" in res.out and "same data, config and code as v1" in res.out
    res = cli("run", "p", "--wait", "--force", "--json", *where)
    assert res.code == 0, res.err
    assert res.json()["run"]["status"] == "succeeded" and versions(ws) == [1, 2]
    res = cli("status", "--json", *where)
    assert res.json()["pipelines"][0]["last_run"]["status"] == "succeeded"
    # healthy but for the scheduler this test does not start (the pipeline has a schedule)
    assert [p.split(":")[0] for p in res.json()["problems"]] == ["scheduler"], res.out
