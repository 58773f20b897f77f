"""The SDK records runs, stages, checks and versions from any process, like the scheduler does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lookout.scheduler import sdk
from lookout.storage import checks, events, pipelines, registry
from lookout.storage.db import Store


def test_a_recorded_run_shows_stages_checks_and_a_version(tmp_path: Path) -> None:
    store = sdk.open_store(tmp_path / "lookout.db")
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    with sdk.record_run(store, "nightly", stages=["extract", "train"], trigger="airflow") as run:
        with run.stage("extract") as stage:
            stage.log("read 10 rows")
            stage.metrics["rows"] = 10
        sdk.record_checks(store, "orders", [{"name": "no_nulls", "result": "pass"}], run.id)
        with run.stage("train"):
            pass
        v = sdk.register_version(
            store, "churn", metrics={"f1": 0.9}, artifact_path=artifact, run_id=run.id
        )
    got = pipelines.get_run(store, run.id)
    assert got is not None and got.status == "succeeded" and got.trigger == "airflow"
    assert [(s.name, s.status) for s in got.stages] == [
        ("extract", "succeeded"),
        ("train", "succeeded"),
    ]
    assert got.stages[0].log_tail == "read 10 rows" and got.stages[0].metrics == {"rows": 10}
    assert pipelines.get_pipeline(store, "nightly") is not None
    assert [r.result for r in checks.latest_results(store, "orders")] == ["pass"]
    assert v.version == 1 and v.run_id == run.id
    assert v.artifact_sha256 == sdk.file_sha256(artifact)
    assert registry.get_version(store, "churn", 1) is not None
    store.close()


def test_an_exception_fails_the_stage_and_the_run_and_reaches_the_timeline(
    tmp_path: Path,
) -> None:
    store = sdk.open_store(tmp_path / "lookout.db")
    with pytest.raises(RuntimeError), sdk.record_run(store, "nightly") as run:
        with run.stage("extract"):
            pass
        with run.stage("load"):
            raise RuntimeError("warehouse \x1b[31mdown\x1b[0m")
    got = pipelines.get_run(store, run.id)
    assert got is not None and got.status == "failed"
    assert [(s.name, s.status) for s in got.stages] == [
        ("extract", "succeeded"),
        ("load", "failed"),
    ]
    assert got.stages[1].error == "RuntimeError: warehouse down"
    failed = events.list_events(store, kind="run_failed")
    assert len(failed) == 1 and "warehouse down" in failed[0].message
    store.close()


def test_bad_statuses_are_refused(tmp_path: Path) -> None:
    store = sdk.open_store(tmp_path / "lookout.db")
    run_id = sdk.start_run(store, "p")
    with pytest.raises(ValueError):
        sdk.finish_stage(store, run_id, "s", status="running")
    with pytest.raises(ValueError):
        sdk.finish_run(store, run_id, status="queued")
    with pytest.raises(ValueError):
        sdk.record_checks(store, "d", [{"name": "c", "result": "ok"}])
    store.close()


def test_the_sdk_imports_only_the_standard_library(tmp_path: Path) -> None:
    code = (
        "import sys; import lookout.scheduler.sdk;"
        "bad = [m for m in ('numpy', 'sklearn', 'apscheduler', 'textual', 'rich', 'scheduler')"
        " if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_workspace_directory_opens_its_store(tmp_path: Path) -> None:
    (tmp_path / "lookout.toml").write_text('[workspace]\ndatabase = "data/x.db"\n')
    store = sdk.open_store(tmp_path)
    assert store.path == tmp_path / "data" / "x.db"
    store.close()
    Store(tmp_path / "data" / "x.db").close()
