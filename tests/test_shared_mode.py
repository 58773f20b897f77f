"""A shared ops host, for real: the daemon runs as the service account, the team as
themselves, and every attack from issue 14 is refused by the OS or by the daemon.

One workspace and one daemon serve the whole module. Roles: dave reports, alice
operates, bob and carol approve, erin only looks; the outsider is in no group.
(`audit --verify` catching forged entries and `status` catching a moved pointer are
the audit's and serving's own tests.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lookout.console.cli import main

from tests import accounts
from tests.test_pipeline import write_csv

pytestmark = pytest.mark.slow

CONFIG = """\
[workspace]
name = "team"
mode = "shared"
service_user = "{svc}"
group = "{group}"

[scheduler]
poll = "0.2s"
heartbeat = "1s"
lease = "5s"

[policy.roles]
reporter = ["{dave}"]
operator = ["{alice}"]
approver = ["{bob}", "{carol}"]

[datasets.table]
source = "data/train.csv"

[[datasets.table.checks]]
name = "rows"
type = "row_count"
min = 10

[models.m]
task = "classification"
target = "y"
primary_metric = "accuracy"

[pipelines.train]
dataset = "table"
model = "m"
estimator = "sklearn.tree.DecisionTreeClassifier"
"""


@dataclass
class Host:
    """A shared workspace on this machine, and its daemon."""

    team: Any
    root: Path
    log: Path
    daemon: subprocess.Popen[str] | None = None

    def name(self, who: str) -> str:
        return str(self.team[who].name)

    def lookout(self, who: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.team.lookout(who, *args, "--workspace", str(self.root))

    def python(self, who: str, code: str) -> subprocess.CompletedProcess[str]:
        return self.team.run(who, ["python", "-c", textwrap.dedent(code)])

    def start(self) -> None:
        """Start the daemon as the service account and wait until it answers."""
        lookout = accounts.OS_VENV / "bin" / "lookout"
        self.daemon, running = self.team.popen(
            "svc", [lookout, "scheduler", "-w", self.root], self.log, "scheduler running"
        )
        if not running.wait(60):  # it says so once its socket listens
            pytest.fail(f"the daemon did not start: {self.log.read_text()}")
        if self.daemon.poll() is not None:
            pytest.fail(f"the daemon exited: {self.log.read_text()}")
        if not answers(self.root / "lookout.sock"):
            pytest.fail(f"the daemon did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            self.daemon.wait(30)
        self.daemon = None


def answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def make_shared(team: Any, name: str, config: str = CONFIG) -> Host:
    """`lookout init --shared` (as root), then the test's config and data, owned as init owns."""
    root = team.base / name
    code = main(
        ["init", str(root), "--shared", "--group", team.group, "--service-user", team["svc"].name]
    )
    assert code == 0
    svc, gid = team["svc"].uid, team.gid
    text = config.format(group=team.group, **{r: team[r].name for r in accounts.PEOPLE})
    (root / "lookout.toml").write_text(text)
    write_csv(root / "data" / "train.csv")
    for p, mode in ((root / "data", 0o2750), (root / "data" / "train.csv", 0o640)):
        os.chown(p, svc, gid)
        os.chmod(p, mode)
    log = team.base / f"{name}-daemon.log"
    return Host(team, root, log)


@pytest.fixture(scope="module")
def host(team: Any) -> Iterator[Host]:
    h = make_shared(team, "shared-mode")
    h.start()
    try:
        yield h
    finally:
        h.stop()


def request_of_run(host: Host, who: str) -> int:
    """`who` runs the pipeline and waits; the id of the promotion request its run opened
    (forced: on the data an earlier test trained from it would end unchanged)."""
    done = host.lookout(who, "run", "train", "--force", "--wait", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    reqs = json.loads(host.lookout("erin", "requests", "--json").stdout)["requests"]
    return int(next(r["id"] for r in reqs if r["status"] == "pending"))


def refused(done: subprocess.CompletedProcess[str], role: str, who: str, was: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"needs the {role} role; {who} is {was}" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# -- who is asking ------------------------------------------------------------------------


def test_the_daemon_knows_each_member_from_the_kernel(host: Host) -> None:
    code = f"""
        import json
        from lookout.scheduler import door
        from lookout.scheduler.workspace import open_workspace
        ws = open_workspace({str(host.root)!r})
        print(json.dumps(door.changes(ws).perform("whoami").data))
    """
    for who, role in (("alice", "operator"), ("bob", "approver"), ("erin", "viewer")):
        done = host.python(who, code)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"actor": host.name(who), "role": role}


def test_a_request_cannot_name_its_actor(host: Host) -> None:
    """A hand-made frame that claims to be bob is refused: the args have no such key."""
    code = """
        import json, socket, struct, time
        body = json.dumps({{"v": 1, "action": "approve",
                           "args": {{"request": 1, "reason": "me", "actor": {bob!r}}}}}).encode()
        s = socket.socket(socket.AF_UNIX)
        s.connect({sock!r})
        s.sendall(struct.pack(">I", len(body)) + body)
        size = struct.unpack(">I", s.recv(4))[0]
        print(s.recv(size).decode())
    """.format(bob=host.name("bob"), sock=str(host.root / "lookout.sock"))
    done = host.python("erin", code)
    reply = json.loads(done.stdout)
    assert reply["ok"] is False and "approve.actor: unknown key" in reply["message"]


# -- roles cover every change ----------------------------------------------------------------


def test_a_viewer_is_refused_every_change(host: Host) -> None:
    erin = host.name("erin")
    batch = host.team.base / "batch.csv"
    batch.write_text("a,b\n0.1,0.2\n")
    batch.chmod(0o644)
    for args, role in (
        (("promote", "m", "1", "--reason", "x"), "operator"),
        (("approve", "1", "--reason", "x"), "approver"),
        (("approve", "1", "--reason", "x", "--override"), "approver"),
        (("reject", "1", "--reason", "x"), "approver"),
        (("rollback", "m", "--reason", "x"), "operator"),
        (("run", "train"), "operator"),
        (("checks", "--run", "table"), "operator"),
        (("events", "--ack", "1"), "operator"),
        (("log", "m", str(batch)), "reporter"),
    ):
        refused(host.lookout("erin", *args), role, erin, "a viewer")
    sdk_calls = {
        "start_run": "sdk.start_run(lk, 'nightly')",
        "register_version": "sdk.register_version(lk, 'm', metrics={'f1': 1.0})",
        "log": "sdk.log_inferences(lk, 'm', {'a': [0.1], 'b': [0.2]})",
        "record_checks": "sdk.record_checks(lk, 'orders', [{'name': 'c', 'result': 'pass'}])",
    }
    for action, call in sdk_calls.items():
        done = host.python(
            "erin",
            f"""
            from lookout.scheduler import sdk
            lk = sdk.connect({str(host.root)!r})
            try:
                {call}
            except sdk.Refused as exc:
                print(exc)
            """,
        )
        assert f"{action} needs the reporter role; {erin} is a viewer" in done.stdout, done


def test_a_reporter_logs_and_records_but_runs_nothing(host: Host) -> None:
    batch = host.team.base / "inputs.csv"
    batch.write_text("a,b,prediction_id\n0.1,0.2,p1\n0.3,-0.5,p2\n")
    batch.chmod(0o644)
    logged = host.lookout("dave", "log", "m", str(batch), "--json")
    assert logged.returncode == 0, logged.stderr
    assert json.loads(logged.stdout)["message"].startswith("logged 2 rows of inputs for m")
    recorded = host.python(
        "dave",
        f"""
        from lookout.scheduler import sdk
        with sdk.connect({str(host.root)!r}) as lk:
            with sdk.record_run(lk, "nightly", trigger="airflow") as run:
                with run.stage("extract"):
                    pass
            sdk.log_inferences(lk, "m", {{"a": [1.0], "b": [2.0]}}, prediction_ids=["p3"])
            print(sdk.finish_run.__name__, run.id)
        """,
    )
    assert recorded.returncode == 0, recorded.stderr
    refused(host.lookout("dave", "run", "train"), "operator", host.name("dave"), "a reporter")


# -- four-eyes follows the person behind a pipeline ------------------------------------------


def test_the_person_who_starts_a_run_cannot_approve_its_request(host: Host) -> None:
    req = request_of_run(host, "bob")
    listed = json.loads(host.lookout("erin", "requests", "--json").stdout)["requests"]
    assert next(r for r in listed if r["id"] == req)["requested_by"] == host.name("bob")
    own = host.lookout("bob", "approve", str(req), "--reason", "mine", "--override")
    assert own.returncode == 2 and "four-eyes" in own.stderr, own.stderr
    other = host.lookout("carol", "approve", str(req), "--reason", "looks right", "--override")
    assert other.returncode == 0, other.stderr
    models = json.loads(host.lookout("erin", "models", "--json").stdout)
    assert models["models"][0]["aliases"]["production"] is not None


# -- nobody writes around the daemon ----------------------------------------------------------


def test_members_cannot_write_around_the_daemon(host: Host) -> None:
    """An approver with Python and sqlite3 in hand: every way around the daemon is shut."""
    req = request_of_run(host, "alice")
    bob = host.name("bob")
    db = host.root / "lookout.db"
    attacks = {
        "promotion.approve": f"""
            from lookout.scheduler import promotion
            from lookout.scheduler.workspace import open_workspace
            ws = open_workspace({str(host.root)!r})
            promotion.approve(ws, {req}, {bob!r}, "as bob", override=True)
        """,
        "sqlite": f"""
            import sqlite3
            c = sqlite3.connect({str(db)!r})
            c.execute("UPDATE promotion_requests SET status = 'approved' WHERE id = {req}")
            c.commit()
        """,
        "config": f"open({str(host.root / 'lookout.toml')!r}, 'w').write('[workspace]')",
        "new config": f"""
            import os
            os.rename({str(host.root / "lookout.toml")!r}, {str(host.root / "old.toml")!r})
        """,
        "pointer": f"""
            import os
            os.makedirs({str(host.root / "artifacts" / "serving" / "m")!r}, exist_ok=True)
            open({str(host.root / "artifacts" / "serving" / "m" / "production")!r}, 'w').write('{{}}')
        """,
        "symlink": f"""
            import os
            os.symlink('/tmp', {str(host.root / "artifacts" / "serving2")!r})
        """,
        "joblib.py": f"open({str(host.root / 'joblib.py')!r}, 'w').write('import os')",
        "code": f"open({str(host.root / 'code' / 'stages.py')!r}, 'w').write('import os')",
    }
    for name, code in attacks.items():
        done = host.python("bob", code)
        assert done.returncode != 0, name
        assert (
            "Permission denied" in done.stderr
            or "readonly database" in done.stderr
            or "open read-only" in done.stderr
        ), (name, done.stderr)
    pending = json.loads(host.lookout("erin", "requests", "--json").stdout)["requests"]
    assert next(r for r in pending if r["id"] == req)["status"] == "pending"
    assert not (host.root / "joblib.py").exists()


def test_the_outsider_can_neither_read_nor_ask(host: Host) -> None:
    status = host.lookout("outsider", "status")
    assert status.returncode == 2 and "Permission denied" in status.stderr, status.stderr
    done = host.python(
        "outsider",
        f"""
        import socket
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect({str(host.root / "lookout.sock")!r})
        except OSError as exc:
            print(type(exc).__name__)
        """,
    )
    assert done.stdout.strip() == "PermissionError"


def test_a_slow_client_holds_up_nobody(host: Host) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(5):  # connected, silent
            s = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            s.connect(str(host.root / "lookout.sock"))
            s.sendall(b"\x00\x00")  # half a length prefix, then nothing
        t0 = time.monotonic()
        done = host.lookout("alice", "events", "--ack", "1", "--note", "seen")
        took = time.monotonic() - t0
    assert done.returncode in (0, 2), done.stderr  # acked, or no event 1: the daemon answered
    assert took < 8, took


def test_doctor_finds_a_sound_workspace_and_names_the_fix(host: Host) -> None:
    sound = host.lookout("alice", "doctor", "--json")
    report = json.loads(sound.stdout)
    assert sound.returncode == 0, [c for c in report["checks"] if not c["ok"]]
    assert any(f"you are {host.name('alice')} (operator)" in c["detail"] for c in report["checks"])
    data = host.root / "data" / "train.csv"
    data.chmod(0o664)
    try:
        broken = host.lookout("alice", "doctor")
    finally:
        data.chmod(0o640)
    assert broken.returncode == 1
    assert f"FIX  {data}" in broken.stdout and f"chmod 0640 {data}" in broken.stdout


def test_a_shared_console_asks_the_daemon_and_runs_no_scheduler(host: Host) -> None:
    from lookout.console.app import LookoutApp
    from lookout.scheduler.client import Remote
    from lookout.scheduler.workspace import open_workspace

    ws = open_workspace(host.root)
    try:
        app = LookoutApp(ws)
        assert ws.store.readonly and isinstance(app.changes, Remote)
        assert not app.want_scheduler
        assert app.changes.perform("whoami").data["actor"] == "root"
    finally:
        ws.close()
