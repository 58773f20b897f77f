"""The Airflow connector against a real Airflow 3 on loopback (tests/airflow_server.py).

One `airflow standalone` serves the whole run, with examples/airflow/ as its DAG
folder; its tasks train on scikit-learn's wine table and register versions in this
module's workspace. The runs the cases watch are asked for at once (the `started`
fixture) through request rows, as the console and `lookout run` ask, and a real
Scheduler in this process picks them up and syncs the mirror every second, so
Airflow runs them side by side. The case that stops Airflow comes last.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lookout.console.app import LookoutApp
from lookout.console.commands.screenshots import settle
from lookout.console.panes import pipelines as pipelines_pane
from lookout.console.screens.pipeline import PipelineScreen
from lookout.console.widgets import KeyedTable
from lookout.scheduler import door, sdk
from lookout.scheduler.connectors import airflow as connector
from lookout.scheduler.drift_job import run_drift
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import mirror, pipelines, registry, scheduling
from lookout.storage.identity import current_user
from lookout.storage.records import Run
from textual.widgets import Static

from tests.airflow_server import Airflow

pytestmark = pytest.mark.slow

PIPELINE = "wine"
MODEL = "wine_airflow"
TASKS = ["extract", "validate", "train", "evaluate", "register"]
USER = current_user()
README = Path(__file__).resolve().parent.parent / "README.md"


def config(url: str, timeout: str) -> str:
    return f"""
[workspace]
name = "airflow-tests"

[policy.roles]
approver = ["{USER}"]

[models.{MODEL}]
task = "classification"
target = "cultivar"

[airflow]
base_url = "{url}"
username = "admin"
password_file = "airflow-password"
poll = "1s"
timeout = "{timeout}"

[pipelines.{PIPELINE}]
kind = "airflow"
dag_id = "lookout_wine"
model = "{MODEL}"
conf = {{ source = "lookout-tests" }}
triggers = {{ drift = true }}
"""


def until(check: Callable[[], Any], what: str, timeout: float = 240.0) -> Any:
    """Poll Airflow's progress (through the mirror) until `check` gives something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        time.sleep(0.2)


def run(ws: Workspace, run_id: int) -> Run:
    got = pipelines.get_run(ws.store, run_id)
    assert got is not None
    return got


def ended(ws: Workspace, run_id: int) -> Run | None:
    got = run(ws, run_id)
    return got if got.status in ("succeeded", "failed") else None


def answered(ws: Workspace, request_id: int) -> str:
    """The scheduler's answer to a request: 'run N', or why not."""
    req = until(
        lambda: (
            (r := scheduling.get_request(ws.store, request_id))
            and r.status in ("done", "failed")
            and r
        ),
        f"request {request_id} to be answered",
        120,
    )
    return str(req.result)


def run_of(ws: Workspace, request_id: int) -> int:
    answer = answered(ws, request_id)
    m = re.match(r"run (\d+)", answer)
    assert m, answer
    return int(m.group(1))


def ask(ws: Workspace, action: str, **args: Any) -> int:
    """Ask for a change through the door, as the console and `lookout run` do; its request."""
    outcome = door.Local(ws).perform(action, **args)
    assert outcome.ok, outcome.message
    return int(outcome.data["request"])


def dag_run_key(ws: Workspace, run_id: int) -> str:
    where = mirror.key_of(ws.store, run_id)
    assert where is not None
    return where.key


def workspace(
    parent: Path, airflow: Airflow, password: str | None = None, timeout: str = "10s"
) -> Path:
    """A workspace mirroring this Airflow, its password in a 0600 file."""
    root = parent / "ws"
    root.mkdir(parents=True, exist_ok=True)
    secret = root / "airflow-password"
    secret.write_text(airflow.password if password is None else password)
    secret.chmod(0o600)
    (root / "lookout.toml").write_text(config(airflow.url, timeout))
    return root


@pytest.fixture(scope="module")
def af_ws(airflow: Airflow) -> Any:
    """The workspace the example DAG's tasks register in (their LOOKOUT_WORKSPACE)."""
    ws = open_workspace(workspace(airflow.workspace.parent, airflow))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def scheduler(af_ws: Workspace) -> Any:
    sched = Scheduler(af_ws)
    assert sched.start()
    yield sched
    sched.stop()


@pytest.fixture(scope="module")
def started(af_ws: Workspace, scheduler: Scheduler) -> dict[str, int]:
    """The runs the cases below watch: a plain one, one whose first task fails once, one that
    holds (to be cancelled). Asked for at the start, so Airflow runs them side by side."""
    asks: dict[str, dict[str, Any]] = {
        "plain": {},
        "flaky": {"conf": {"fail_once": "extract"}},
        "held": {"conf": {"hold": 600}},
    }
    # One after another: Airflow's SQLite metadata DB locks up under parallel writers.
    return {
        name: run_of(af_ws, ask(af_ws, "run", pipeline=PIPELINE, **args))
        for name, args in asks.items()
    }


def test_a_triggered_runs_tasks_appear_as_stages_as_they_progress(
    af_ws: Workspace, started: dict[str, int]
) -> None:
    run_id = started["plain"]
    first = run(af_ws, run_id)
    assert (first.trigger, first.triggered_by) == ("manual", USER)  # Lookout asked, for this person
    seen: list[tuple[str, ...]] = []

    def progress() -> Run | None:
        now = run(af_ws, run_id)
        states = tuple(s.status for s in now.stages)
        if states and (not seen or seen[-1] != states):
            seen.append(states)
        return ended(af_ws, run_id)

    final = until(progress, "the plain run to end")
    assert final.status == "succeeded", final.error
    assert [s.name for s in final.stages] == TASKS  # the DAG's task order, not alphabetical
    assert all(s.try_number == 1 and s.operator == "@task" for s in final.stages)
    assert all(s.seconds is not None and s.seconds >= 0 for s in final.stages)
    assert seen[-1] == ("succeeded",) * 5
    midway = [
        states for states in seen if "succeeded" in states and any(s != "succeeded" for s in states)
    ]
    assert midway, f"no state between start and end was mirrored: {seen}"
    assert len(seen) >= 3


def test_a_failing_task_shows_its_log_then_clear_failed_runs_it_again(
    af_ws: Workspace, started: dict[str, int], cli: Any
) -> None:
    run_id = started["flaky"]
    failed = until(lambda: ended(af_ws, run_id), "the flaky run to fail")
    assert failed.status == "failed" and failed.error == "stage extract failed"
    assert [(s.name, s.status, s.try_number) for s in failed.stages] == [
        ("extract", "failed", 1),
        *[(name, "upstream_failed", 0) for name in TASKS[1:]],
    ]
    # Opening the stage asks the scheduler for its log, as the console does.
    req = ask(af_ws, "fetch_log", run=run_id, stage="extract")
    assert answered(af_ws, req) == f"run {run_id}: log fetched"
    log = run(af_ws, run_id).stages[0].log_tail
    assert "extract failed on purpose (conf fail_once)" in log
    assert "RuntimeError" in log

    result = cli("run", PIPELINE, "--retry", str(run_id), "--wait", "-w", str(af_ws.root))
    assert result.code == 0, result.out + result.err
    assert result.out.startswith(f"run {run_id} of {PIPELINE} succeeded")
    again = run(af_ws, run_id)
    assert again.status == "succeeded" and again.error is None
    assert [(s.name, s.status) for s in again.stages] == [(n, "succeeded") for n in TASKS]
    assert again.stages[0].try_number == 2
    assert again.stages[0].log_tail == ""  # try 1's log is not shown as try 2's


def test_cancel_marks_the_dag_run_failed_and_the_mirror_cancelled_with_who(
    af_ws: Workspace, started: dict[str, int], cli: Any, airflow: Airflow
) -> None:
    run_id = started["held"]
    until(
        lambda: run(af_ws, run_id).stages[0].status == "running",
        "the held run's first task to run",
    )
    result = cli("run", PIPELINE, "--cancel", str(run_id), "--wait", "-w", str(af_ws.root))
    assert result.code == 0, result.out + result.err
    cancelled = run(af_ws, run_id)
    who = f"cancelled by {USER}"
    assert (cancelled.status, cancelled.cancelled_by, cancelled.error) == ("cancelled", USER, who)
    theirs = airflow.get(f"/dags/lookout_wine/dagRuns/{dag_run_key(af_ws, run_id)}")
    assert (theirs["state"], theirs["note"]) == ("failed", f"marked failed from Lookout by {USER}")
    stopped = until(
        lambda: (r := run(af_ws, run_id)).stages[-1].status == "skipped" and r,
        "the cancelled run's tasks to be mirrored",
    )
    # Airflow failed the running task and skipped the rest: the one cut short is cancelled
    assert [s.status for s in stopped.stages] == ["cancelled", *["skipped"] * 4]
    assert (stopped.status, stopped.error) == ("cancelled", who)  # later syncs keep it
    refused = cli("run", PIPELINE, "--cancel", str(run_id), "--wait", "-w", str(af_ws.root))
    assert refused.code == 1 and f"run {run_id} is not queued or running" in refused.out

    # A retry runs what the cancel cut short and what it skipped ("failed only" would leave
    # the skipped tasks so); the run holds again, so it is cancelled again.
    retried = ask(af_ws, "run", pipeline=PIPELINE, retry_of=run_id)
    assert answered(af_ws, retried) == f"run {run_id}: failed tasks cleared"
    holding = until(
        lambda: (
            (r := run(af_ws, run_id)).stages[0].status == "running"
            and r.stages[0].try_number == 2
            and r
        ),
        "the retried run's first task to run again",
    )
    assert (holding.status, holding.error, holding.cancelled_by) == ("running", None, None)
    assert all(s.status not in ("skipped", "cancelled") for s in holding.stages)
    assert answered(af_ws, ask(af_ws, "cancel", run=run_id)) == f"run {run_id} cancelled"
    assert run(af_ws, run_id).status == "cancelled"


def test_a_run_started_by_airflows_own_schedule_appears_marked_by_who(
    af_ws: Workspace, started: dict[str, int]
) -> None:
    def scheduled() -> Run | None:
        return next(
            (r for r in pipelines.list_runs(af_ws.store, PIPELINE) if r.trigger == "schedule"),
            None,
        )

    found = until(scheduled, "the scheduled run to be mirrored")
    assert found.triggered_by == "airflow:timetable"
    assert dag_run_key(af_ws, found.id).startswith("scheduled__")
    assert [s.name for s in found.stages] == TASKS


def test_the_version_a_dag_registers_is_a_gated_candidate_with_its_run_as_lineage(
    af_ws: Workspace, started: dict[str, int]
) -> None:
    run_id = started["plain"]
    until(lambda: ended(af_ws, run_id), "the plain run to end")
    key = dag_run_key(af_ws, run_id)

    def registered() -> Any:
        return next(
            (
                v
                for v in registry.list_versions(af_ws.store, MODEL)
                if v.lineage.get("airflow", {}).get("run_id") == key and v.run_id == run_id
            ),
            None,
        )

    version = until(registered, "the plain run's version to be linked to its run")
    assert version.lineage["airflow"]["dag_id"] == "lookout_wine"
    assert version.lineage["lookout"]["requested_by"] == USER
    assert version.metrics["f1"] > 0.8 and version.artifact_sha256
    profile = registry.get_profile(af_ws.store, MODEL, version.version)
    assert profile is not None and "alcohol" in profile["features"] and "target" in profile
    requests = until(
        lambda: [r for r in registry.list_requests(af_ws.store) if r.version == version.version],
        "its promotion request",
    )
    assert requests[0].requested_by == f"pipeline:{PIPELINE}" and requests[0].alias == "production"


def test_drift_triggers_the_dag_with_the_model_and_the_drift_summary_in_its_conf(
    af_ws: Workspace, started: dict[str, int], airflow: Airflow
) -> None:
    pending = until(
        lambda: [
            r for r in registry.list_requests(af_ws.store, status="pending") if r.model == MODEL
        ],
        "a pending promotion of an Airflow-registered version",
    )
    approved = door.Local(af_ws).perform(
        "approve", request=pending[0].id, reason="trained on Airflow"
    )
    assert approved.ok, approved.message
    from sklearn.datasets import load_wine

    data = load_wine()
    names = [n.replace("/", "_") for n in data.feature_names]
    shifted = {n: data.data[:, i] * 3 + 10 for i, n in enumerate(names)}
    sdk.log_inferences(af_ws, MODEL, shifted)
    result = run_drift(af_ws, MODEL)
    assert result is not None and result.level == "drift"

    def drift_run() -> Run | None:
        return next(
            (r for r in pipelines.list_runs(af_ws.store, PIPELINE) if r.trigger == "drift"), None
        )

    found = until(drift_run, "drift to trigger the DAG", 60)
    assert found.triggered_by == "drift-monitor"
    conf = airflow.get(f"/dags/lookout_wine/dagRuns/{dag_run_key(af_ws, found.id)}")["conf"]
    assert isinstance(conf, dict)
    assert conf["source"] == "lookout-tests"  # the pipeline's own conf
    ours = conf["lookout"]
    assert (ours["model"], ours["trigger"], ours["pipeline"]) == (MODEL, "drift", PIPELINE)
    assert ours["drift"]["level"] == "drift" and ours["drift"]["model"] == MODEL
    assert ours["drift"]["version"] == pending[0].version
    assert set(ours["drift"]["drifted"]) <= set(names) and ours["drift"]["drifted"]
    # Spare the machine the retraining: cancel it the way the console does.
    assert answered(af_ws, ask(af_ws, "cancel", run=found.id)) == f"run {found.id} cancelled"


async def test_the_pipeline_screen_shows_the_mirror_and_fetches_a_stages_log(
    af_ws: Workspace, started: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    run_id = started["plain"]
    until(lambda: ended(af_ws, run_id), "the plain run to end")
    app = LookoutApp(af_ws, start_scheduler=False)  # the module's scheduler serves it
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        app.jump(f"pipeline {PIPELINE}")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        title = str(screen.query_one(".title", Static).render())
        assert f"Pipeline {PIPELINE} ⇄ Airflow DAG lookout_wine · Airflow synced" in title
        assert screen.detail is not None
        runs = screen.query_one("#runs", KeyedTable)
        runs.move_cursor(row=[r.id for r in screen.detail.runs].index(run_id))
        await settle(pilot)
        log = screen.query_one("#log-text", Static)
        deadline = time.monotonic() + 60
        while "read 178 rows, 13 features" not in str(log.render()):
            assert time.monotonic() < deadline, str(log.render())
            await pilot.pause(0.2)
        shown = str(log.render())
        assert "── extract ✓ succeeded" in shown and "try 1 · @task" in shown


def test_status_words_map_one_to_one_from_airflows_own_states(airflow: Airflow) -> None:
    """Every DAG run and task instance state this Airflow's API declares has its own word,
    and the README's table lists each pair."""
    import httpx

    spec = httpx.get(f"{airflow.url}/openapi.json", timeout=120).json()["components"]["schemas"]
    assert set(connector.RUN_STATES) == set(spec["DagRunState"]["enum"])
    assert set(connector.TASK_STATES) - {None} == set(spec["TaskInstanceState"]["enum"])
    for mapping in (connector.RUN_STATES, connector.TASK_STATES):
        assert len(set(mapping.values())) == len(mapping)  # one to one
    readme = README.read_text()
    for theirs, ours in [*connector.RUN_STATES.items(), *connector.TASK_STATES.items()]:
        assert f"| `{theirs or 'none'}` | `{ours}` |" in readme, theirs


def test_wrong_credentials_give_one_clear_line(airflow: Airflow, tmp_path: Path, cli: Any) -> None:
    root = workspace(tmp_path, airflow, password="not-the-password")
    result = cli("run", PIPELINE, "--wait", "-w", str(root))
    line = (
        f"Airflow at {airflow.url} answered HTTP 401 (check the [airflow] credentials):"
        " Invalid credentials"
    )
    assert result.code == 1
    assert result.out.strip() == f"run of {PIPELINE} not started: {line}"
    ws = open_workspace(root)
    try:
        report = connector.sync(ws)
        assert (report.ok, report.error) == (False, line)
        assert connector.last_sync(ws.store).stale
        secret = root / "airflow-password"
        secret.chmod(0o644)
        report = connector.sync(ws)
        assert report.error == f"{secret}: readable by others (mode 0644); run chmod 600 {secret}"
    finally:
        ws.close()


def test_airflow_stopped_mid_sync_marks_the_mirror_stale_then_it_recovers(
    airflow: Airflow, tmp_path: Path, cli: Any
) -> None:
    """Syncs run back to back (as a scheduler with a short poll does) while Airflow stops
    answering: the one in flight fails, the mirror keeps its state, marked stale with its
    age, an action fails with one line, and the next sync after Airflow is back recovers."""
    ws = open_workspace(workspace(tmp_path, airflow, timeout="2s"))
    Scheduler(ws).prepare()  # the pipelines the panes list, as a scheduler publishes them
    reports: list[connector.SyncReport] = []
    done = threading.Event()

    def syncing() -> None:
        while not done.is_set():
            reports.append(connector.sync(ws))

    loop = threading.Thread(target=syncing)
    loop.start()
    try:
        until(lambda: reports and reports[-1].ok, "a first sync")
        before = [(r.id, r.status) for r in pipelines.list_runs(ws.store, PIPELINE)]
        assert before  # the runs the other cases left, mirrored
        hung = f"Airflow at {airflow.url} did not answer within 2s (tried 3 times)"
        with airflow.stopped():
            failed = until(
                lambda: next((r for r in reports if not r.ok), None), "a failed sync", 60
            )
            assert failed.error == hung
            sync = connector.last_sync(ws.store)
            assert sync.stale and sync.error == hung and sync.age() is not None
            summary = pipelines_pane.summary(pipelines_pane.fetch(ws.store))
            assert "Airflow stale: last synced" in summary
            assert [(r.id, r.status) for r in pipelines.list_runs(ws.store, PIPELINE)] == before
            result = cli("run", PIPELINE, "--wait", "-w", str(ws.root))
            assert result.code == 1
            assert result.out.strip() == f"run of {PIPELINE} not started: {hung}"
        count = len(reports)
        until(lambda: len(reports) > count and reports[-1].ok, "a sync after Airflow is back", 120)
        fresh = connector.last_sync(ws.store)
        assert not fresh.stale and fresh.age() is not None and fresh.age() < 60
        assert "Airflow synced" in pipelines_pane.summary(pipelines_pane.fetch(ws.store))
    finally:
        done.set()
        loop.join()
        ws.close()
