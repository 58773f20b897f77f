"""The command-line contract: exit codes, one-line errors, JSON shapes (ARCHITECTURE.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lookout.storage import audit, checks, events
from lookout.storage.db import Store
from lookout.storage.records import CheckResult


def _init(cli, tmp_path: Path) -> Path:
    ws = tmp_path / "w"
    result = cli("init", str(ws))
    assert result.code == 0, result.err
    return ws


def test_init_writes_a_starter_workspace(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    assert (ws / "lookout.toml").is_file() and (ws / "lookout.db").is_file()
    assert "lookout run cancer_train" in cli("init", str(tmp_path / "other")).out
    again = cli("init", str(ws))
    assert again.code == 2 and "already exists" in again.err


def test_init_in_an_unwritable_place_is_one_line(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("init", str(blocker / "ws"))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "cannot create the workspace" in result.err


def test_status_json_has_the_contract_shape(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    result = cli("status", "--workspace", str(ws), "--json")
    assert result.code == 1, result.err  # no scheduler runs the hourly pipeline
    status = result.json()
    assert status["scheduler"]["scheduled"] == ["pipeline cancer_train", "drift of cancer"]
    assert status["problems"] == [
        "scheduler: not running, so nothing scheduled happens (2 jobs: pipeline cancer_train,"
        " drift of cancer); start `lookout scheduler`"
    ]
    assert set(status) >= {"scheduler", "pipelines", "checks", "models", "drift", "events"}
    assert set(status["scheduler"]) >= {"alive", "holder", "since"}
    assert status["pipelines"][0] == {
        "name": "cancer_train",
        "last_run": None,
        "next_run": None,
        "next_run_local": None,
    }
    assert status["checks"] == {"pass": 0, "warn": 0, "fail": 0, "error": 0}
    assert set(status["models"][0]) >= {"name", "production", "candidate", "pending_requests"}
    assert status["events"] == {"open": 0}


def test_status_is_unhealthy_when_a_check_fails(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    store = Store(ws / "lookout.db")
    checks.record_results(
        store, [CheckResult("breast_cancer", "has_rows", "row_count", "fail", "fail")]
    )
    result = cli("status", "-w", str(ws), "--json")
    assert result.code == 1
    assert "checks: 1 failing, 0 erroring" in result.json()["problems"]
    assert cli("status", "-w", str(ws)).code == 1


def test_workspace_from_environment_then_current_directory(
    cli, tmp_path: Path, monkeypatch
) -> None:
    ws = _init(cli, tmp_path)
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(ws))
    assert cli("status", "--json").json()["workspace"] == str(ws.resolve())
    monkeypatch.delenv("LOOKOUT_WORKSPACE")
    monkeypatch.chdir(ws)
    assert cli("status", "--json").json()["workspace"] == str(ws.resolve())


def test_events_json_and_acknowledge(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    store = Store(ws / "lookout.db")
    e = events.record(store, "run_failed", "cancer_train", "stage train failed", "error")
    listed = cli("events", "-w", str(ws), "--json").json()["events"]
    assert set(listed[0]) >= {"id", "at", "kind", "subject", "message", "acked_by"}
    assert listed[0]["acked_by"] is None
    acked = cli("events", "-w", str(ws), "--ack", str(e.id), "--note", "on it", "--json")
    assert acked.code == 0 and acked.json()["ok"] is True
    user = acked.json()["event"]["acked_by"]
    assert user and user == cli("events", "-w", str(ws), "--json").json()["events"][0]["acked_by"]
    missing = cli("events", "-w", str(ws), "--ack", "999")
    assert missing.code == 2 and "no event 999" in missing.err


def test_audit_verify_exits_1_and_names_the_first_broken_entry(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    store = Store(ws / "lookout.db")
    for i in range(4):
        with store.write() as conn:
            audit.append(conn, "alice", "promote", "cancer", f"reason {i}")
    ok = cli("audit", "-w", str(ws), "--verify", "--json")
    assert ok.code == 0
    body = ok.json()
    assert body["verified"] is True and body["first_bad"] is None
    assert set(body["entries"][0]) >= {"seq", "at", "actor", "action", "subject", "reason", "hash"}
    store.conn.execute("DROP TRIGGER audit_no_update")
    store.conn.execute("UPDATE audit SET reason = 'edited' WHERE seq = 2")
    bad = cli("audit", "-w", str(ws), "--verify", "--json")
    assert bad.code == 1 and bad.json()["first_bad"] == 2 and bad.json()["verified"] is False
    text = cli("audit", "-w", str(ws), "--verify")
    assert text.code == 1 and "broken at entry 2" in text.out


def test_usage_mistakes_exit_2_with_one_line(cli, tmp_path: Path) -> None:
    for args in (
        ["frobnicate"],
        ["status", "--bogus"],
        ["promote", "m"],
        ["approve", "x", "--reason", "r"],
    ):
        result = cli(*args)
        assert result.code == 2, args
        assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_missing_workspace_and_bad_config_exit_2(cli, tmp_path: Path) -> None:
    result = cli("status", "-w", str(tmp_path / "nowhere"))
    assert result.code == 2 and "no lookout.toml here" in result.err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "lookout.toml").write_text("[policy]\nfour_eyes = 'maybe'\n")
    result = cli("status", "-w", str(bad))
    assert result.code == 2
    assert result.err.strip() == (
        f'lookout: {bad / "lookout.toml"}: policy.four_eyes: expected true or false, got "maybe"'
    )


def test_readonly_refuses_mutating_commands(cli, tmp_path: Path) -> None:
    ws = _init(cli, tmp_path)
    result = cli("--readonly", "promote", "cancer", "1", "--reason", "x", "-w", str(ws))
    assert result.code == 2 and "read-only" in result.err
    result = cli("rollback", "cancer", "--reason", "x", "-w", str(ws), "--readonly")
    assert result.code == 2 and "read-only" in result.err


def test_installed_entry_point_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("lookout")
    env = {**os.environ, "LOOKOUT_WORKSPACE": str(tmp_path)}
    out = subprocess.run([str(exe), "status"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and out.stderr.startswith("lookout: ")
