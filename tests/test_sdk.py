"""The SDK records runs, stages, checks and versions from any process, through the one door."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from lookout.scheduler import door, sdk
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks, events, pipelines, registry

from tests.test_console import person

REPORTER = """
[workspace]
name = "t"
[policy.roles]
reporter = ["serving", "batch"]
admin = ["boss"]
[pipelines.train]
kind = "custom"
[[pipelines.train.stages]]
name = "s"
call = "m:f"
"""


def test_a_recorded_run_shows_stages_checks_and_a_version(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace()
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    lk = sdk.connect(ws.root)
    with sdk.record_run(lk, "nightly", stages=["extract", "train"], trigger="airflow") as run:
        with run.stage("extract") as stage:
            stage.log("read 10 rows")
            stage.metrics["rows"] = 10
        sdk.record_checks(lk, "orders", [{"name": "no_nulls", "result": "pass"}], run.id)
        with run.stage("train"):
            pass
        v = sdk.register_version(
            lk, "churn", metrics={"f1": 0.9}, artifact_path=artifact, run_id=run.id
        )
    lk.close()
    got = pipelines.get_run(ws.store, run.id)
    assert got is not None and got.status == "succeeded" and got.trigger == "airflow"
    assert got.triggered_by == door.process_actor().name  # the OS says who, not the caller
    assert [(s.name, s.status) for s in got.stages] == [
        ("extract", "succeeded"),
        ("train", "succeeded"),
    ]
    assert got.stages[0].log_tail == "read 10 rows" and got.stages[0].metrics == {"rows": 10}
    assert pipelines.get_pipeline(ws.store, "nightly") is not None
    assert [r.result for r in checks.latest_results(ws.store, "orders")] == ["pass"]
    version = registry.get_version(ws.store, "churn", v)
    assert v == 1 and version is not None and version.run_id == run.id
    assert version.artifact_sha256 == sdk.file_sha256(artifact)


def test_an_exception_fails_the_stage_and_the_run_and_reaches_the_timeline(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace()
    lk = sdk.connect(ws)
    with pytest.raises(RuntimeError), sdk.record_run(lk, "nightly") as run:
        with run.stage("extract"):
            pass
        with run.stage("load"):
            raise RuntimeError("warehouse \x1b[31mdown\x1b[0m")
    got = pipelines.get_run(ws.store, run.id)
    assert got is not None and got.status == "failed"
    assert [(s.name, s.status) for s in got.stages] == [
        ("extract", "succeeded"),
        ("load", "failed"),
    ]
    assert got.stages[1].error == "RuntimeError: warehouse down"
    failed = events.list_events(ws.store, kind="run_failed")
    assert len(failed) == 1 and "warehouse down" in failed[0].message


def test_bad_statuses_are_refused(make_workspace: Callable[..., Workspace]) -> None:
    lk = sdk.connect(make_workspace())
    run_id = sdk.start_run(lk, "p")
    with pytest.raises(sdk.Refused, match="finish_stage.status: expected one of"):
        sdk.finish_stage(lk, run_id, "s", status="running")
    with pytest.raises(sdk.Refused, match="finish_run.status"):
        sdk.finish_run(lk, run_id, status="queued")
    with pytest.raises(sdk.Refused, match=r"record_checks.results\[0\].result"):
        sdk.record_checks(lk, "d", [{"name": "c", "result": "ok"}])


def test_a_reporter_reports_and_changes_nothing_else(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(REPORTER)
    serving = sdk.Connection(ws, person(ws, "serving"), owned=False)
    run_id = sdk.start_run(serving, "nightly", trigger="airflow")
    sdk.finish_run(serving, run_id)
    assert sdk.register_version(serving, "churn", metrics={"f1": 0.8}) == 1
    for action, args in (
        ("run", {"pipeline": "train"}),
        ("promote", {"model": "churn", "version": 1, "reason": "x"}),
        ("acknowledge", {"event": 1}),
    ):
        refused = serving.changes.perform(action, **args)
        assert not refused.ok and refused.data["error"] == door.REFUSED
        assert refused.message.startswith(
            f"{action} needs the operator role; serving is a reporter"
        )
    viewer = sdk.Connection(ws, person(ws, "visitor"), owned=False)
    with pytest.raises(sdk.Refused, match="start_run needs the reporter role; visitor is a viewer"):
        sdk.start_run(viewer, "nightly")
    # one reporter cannot write into another's run, nor into Lookout's own pipelines
    other = sdk.Connection(ws, person(ws, "boss"), owned=False)
    theirs = sdk.start_run(serving, "nightly")
    with pytest.raises(sdk.Refused, match=f"run {theirs} was started by serving"):
        sdk.finish_run(sdk.Connection(ws, person(ws, "batch"), owned=False), theirs)
    sdk.finish_run(other, theirs, "cancelled")  # an admin may close it
    with pytest.raises(sdk.Refused, match="configured in lookout.toml"):
        sdk.start_run(serving, "train")


def test_the_sdk_imports_only_the_standard_library(tmp_path: Path) -> None:
    code = (
        "import sys; import lookout.scheduler.sdk;"
        "bad = [m for m in ('numpy', 'sklearn', 'apscheduler', 'textual', 'rich', 'scheduler')"
        " if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_connect_finds_the_workspace_like_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lookout.toml").write_text('[workspace]\ndatabase = "data/x.db"\n')
    monkeypatch.chdir(tmp_path)
    with sdk.connect() as lk:
        assert lk.ws.store.path == tmp_path / "data" / "x.db"
