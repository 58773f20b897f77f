"""`lookout demo --no-tui`: a workspace that shows the whole loop, made by the real parts."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

LOOKOUT = [sys.executable, "-m", "lookout.console.cli"]
ROOT = Path(__file__).resolve().parent.parent


def lookout(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOOKOUT, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.fixture(scope="module")
def demo(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "ws"
    shutil.copytree(demo_template, root)
    return root


def _json(*args: str) -> dict:
    out = lookout(*args, "--json")
    return json.loads(out.stdout)


@pytest.mark.slow
def test_demo_has_the_whole_loop(demo: Path) -> None:
    models = _json("models", "-w", str(demo))["models"]
    with_production = [
        m for m in models if any("production" in v["aliases"] for v in m["versions"])
    ]
    assert len(with_production) >= 2

    requests = _json("requests", "-w", str(demo))["requests"]
    pending = [r for r in requests if r["status"] == "pending"]
    assert pending and pending[0]["requested_by"].startswith("pipeline:")

    kinds = {e["kind"] for e in _json("events", "-w", str(demo))["events"]}
    assert {"drift", "check_failed", "promotion", "rollback"} <= kinds

    failing = [c for c in _json("checks", "-w", str(demo))["checks"] if c["result"] == "fail"]
    assert failing

    audit = lookout("audit", "-w", str(demo), "--verify", "--json")
    assert audit.returncode == 0
    actions = [e["action"] for e in json.loads(audit.stdout)["entries"]]
    assert "rollback" in actions and any(a in ("promote", "approve") for a in actions)

    status = lookout("status", "-w", str(demo), "--json")
    body = json.loads(status.stdout)
    assert body["scheduler"]["heartbeat_at"] is not None
    assert {d["model"]: d["level"] for d in body["drift"]}["wine_quality"] == "drift"
    assert status.returncode == 1  # drift and a failing check need a person


@pytest.mark.slow
def test_running_demo_twice_is_safe(demo: Path) -> None:
    before = _json("models", "-w", str(demo))
    again = lookout("demo", str(demo), "--no-tui")
    assert again.returncode == 0, again.stderr
    assert _json("models", "-w", str(demo)) == before


def test_demo_refuses_a_directory_it_cannot_write(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    target = locked / "ws" if os.geteuid() != 0 else Path("/proc/lookout-demo")
    result = lookout("demo", str(target), "--no-tui")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot write the demo workspace" in result.stderr


def test_demo_will_not_overwrite_a_real_workspace(tmp_path: Path) -> None:
    (tmp_path / "lookout.toml").write_text("[workspace]\nname = 'prod'\n")
    result = lookout("demo", str(tmp_path), "--no-tui")
    assert result.returncode == 2 and "not a demo" in result.stderr


def test_demo_rejects_a_bad_speed(tmp_path: Path) -> None:
    result = lookout("demo", str(tmp_path / "d"), "--no-tui", "--speed", "0")
    assert result.returncode == 2 and "--speed" in result.stderr
