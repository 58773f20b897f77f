"""A shared workspace's daemon: who may start it, on what, and what readers see without it.

Each test makes its own workspace and starts and stops its own daemon.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.test_shared_mode import make_shared

pytestmark = pytest.mark.slow


def test_only_the_service_account_runs_the_daemon(team: Any) -> None:
    host = make_shared(team, "not-yours")
    done = host.lookout("alice", "scheduler")
    assert done.returncode == 2
    assert f"runs as {team['svc'].name} (workspace.service_user), not as {team['alice'].name}" in (
        done.stderr
    )


@pytest.mark.parametrize("where", ["config", "code", "a code file", "the workspace"])
def test_the_daemon_refuses_config_or_code_others_could_write(team: Any, where: str) -> None:
    host = make_shared(team, f"strict-{where.replace(' ', '-')}")
    target = {
        "config": host.root / "lookout.toml",
        "code": host.root / "code",
        "a code file": host.root / "code" / "stages.py",
        "the workspace": host.root,
    }[where]
    if where == "a code file":
        target.write_text("def f(ctx): pass\n")
        os.chown(target, team["svc"].uid, team.gid)
    target.chmod(target.stat().st_mode | 0o020)
    mode = target.stat().st_mode & 0o7777
    done = host.team.lookout("svc", "scheduler", "--workspace", str(host.root))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"lookout: refusing to start: {target}: mode {mode:04o} lets its group write it"
    ), done.stderr
    assert f"(chmod go-w {target})" in done.stderr
    assert not (host.root / "lookout.sock").exists()


def test_without_the_daemon_readers_see_the_store_as_last_written(team: Any) -> None:
    """Changes fail with one line; reads work from the file as it is; when the daemon
    comes back a reader that stayed open sees its writes again."""
    host = make_shared(team, "daemon-down")
    host.start()
    host.stop()
    assert not (host.root / "lookout.db-wal").exists()  # SQLite removed it: mode=ro cannot open

    asked = host.lookout("alice", "run", "train")
    assert asked.returncode == 1
    assert asked.stderr.strip() == (
        f"lookout: the Lookout daemon is not running: nothing listens on {host.root}/lookout.sock"
    )
    status = host.lookout("erin", "status", "--json")
    assert "the Lookout daemon is down: showing the store as last written" in status.stderr
    assert json.loads(status.stdout)["scheduler"]["alive"] is False

    reader, opened = host.team.popen(
        "erin",
        [
            "python",
            "-c",
            f"""
import sys
from lookout.scheduler.workspace import open_workspace
from lookout.storage import scheduling
ws = open_workspace({str(host.root)!r})
print("stale", ws.store.stale, flush=True)
sys.stdin.readline()  # the test says when the daemon has taken the request
req = scheduling.get_request(ws.store, 1)
print("saw request", req and req.id, "stale", ws.store.stale, flush=True)
""",
        ],
        team.base / "reader.log",
        "stale",
    )
    try:
        # the reader has opened the store while the daemon was down
        assert opened.wait(60) and reader.poll() is None, "the reader did not open the store"
        host.start()
        asked = host.lookout("alice", "run", "train")
        assert asked.returncode == 0, asked.stderr
        assert reader.stdin is not None
        reader.stdin.write("look\n")
        reader.stdin.flush()
        reader.wait(90)
    finally:
        host.stop()
    lines = (team.base / "reader.log").read_text().splitlines()
    assert lines == ["stale True", "saw request 1 stale False"], lines
