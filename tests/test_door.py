"""The one door in a personal workspace: roles cover every change, arguments are checked,
four-eyes follows the person behind a run, code never comes from the workspace, and the
config that is in force is on the record."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lookout.scheduler import door, pipeline, policy
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, events, pipelines, registry
from lookout.storage.identity import current_user

from tests.test_pipeline import config, write_csv

ME = current_user()
LOOKOUT = Path(sys.executable).with_name("lookout")


def roles(**granted: list[str]) -> str:
    return "[policy.roles]\n" + "".join(f"{r} = {names!r}\n" for r, names in granted.items())


def workspace(make_workspace: Callable[..., Workspace], head: str) -> Workspace:
    ws = make_workspace(config(head=head))
    write_csv(ws.root / "data" / "train.csv")
    return ws


def test_a_personal_workspace_without_roles_belongs_to_its_owner(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace()
    assert policy.owner(ws) == ME
    assert policy.role_of(ws, ME) == "admin"
    assert policy.role_of(ws, "someone-else") == "viewer"
    named = make_workspace(roles(operator=["someone-else"]), name="named")
    assert policy.role_of(named, ME) == "viewer"  # once roles name anyone, they say it all


def test_a_viewer_is_refused_every_change_on_the_command_line(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws = workspace(make_workspace, roles(admin=["boss"]))
    e = events.record(ws.store, "run_failed", "p", "stage train failed", "error")
    root = str(ws.root)
    for args, role in (
        (["run", "p"], "operator"),
        (["run", "p", "--wait"], "operator"),
        (["checks", "--run", "table"], "operator"),
        (["events", "--ack", str(e.id)], "operator"),
        (["log", "m", str(ws.root / "data" / "train.csv")], "reporter"),
    ):
        r = cli(*args, "--workspace", root)
        assert r.code == 2, args
        assert r.err.strip().endswith(f"needs the {role} role; {ME} is a viewer"), r.err
        assert r.err.count("\n") == 1
    assert pipelines.list_runs(ws.store) == []
    assert events.list_events(ws.store)[0].acked_by is None


def test_every_action_checks_its_arguments(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace()
    me = door.process_actor()
    for action, args, message in (
        ("approve", {"request": "one", "reason": "x"}, "approve.request: expected an integer"),
        ("approve", {"request": 1}, "approve.reason: missing required key"),
        (
            "promote",
            {"model": "m", "version": 1, "reason": "x", "by": "bob"},
            "promote.by: unknown key",
        ),
        ("log", {"model": "m", "columns": "a,b"}, "log.columns: expected a table of columns"),
        ("frobnicate", {}, "unknown action 'frobnicate'"),
    ):
        outcome = door.perform(ws, me, action, args)
        assert not outcome.ok and outcome.data == {"error": door.INVALID}, outcome
        assert outcome.message.startswith(message), outcome.message


def test_the_person_who_starts_a_run_cannot_approve_its_request(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws = workspace(make_workspace, roles(approver=[ME, "carol"]))
    root = str(ws.root)
    ran = cli("run", "p", "--wait", "--workspace", root)
    assert ran.code == 0, ran.err
    (req,) = registry.list_requests(ws.store, status="pending")
    assert req.requested_by == ME
    own = cli("approve", str(req.id), "--reason", "mine", "--override", "--workspace", root)
    assert own.code == 2 and f"four-eyes: {ME} requested #{req.id}" in own.err
    carol = door.Local(ws, door.Actor("carol", None)).perform(
        "approve", request=req.id, reason="reviewed", override=True
    )
    assert carol.ok, carol.message


def test_a_scheduled_run_asks_as_its_pipeline(make_workspace: Callable[..., Workspace]) -> None:
    ws = workspace(make_workspace, roles(approver=[ME]))
    run = pipeline.queue_run(ws, "p", "schedule", "scheduler")
    assert Scheduler(ws).runner.execute(run.id) is not None
    (req,) = registry.list_requests(ws.store, status="pending")
    assert req.requested_by == "pipeline:p"
    done = door.Local(ws).perform("approve", request=req.id, reason="ok", override=True)
    assert done.ok, done.message


def test_modules_dropped_in_the_workspace_run_nothing(
    make_workspace: Callable[..., Workspace],
) -> None:
    """`joblib.py` and `httpx.py` beside lookout.toml are never imported; code/ is where
    custom stages come from, and there they cannot shadow an installed module either."""
    stage = '[[pipelines.p.stages]]\nname = "extra"\ncall = "mystages:extra"\n'
    ws = make_workspace(config(stage))
    write_csv(ws.root / "data" / "train.csv")
    trap = "import pathlib\npathlib.Path(__file__).with_name('{name}-ran').write_text('x')\n"
    for name in ("joblib", "httpx"):
        (ws.root / f"{name}.py").write_text(trap.format(name=name))
    code = ws.root / "code"
    code.mkdir()
    (code / "joblib.py").write_text(trap.format(name="code-joblib"))
    (code / "mystages.py").write_text("def extra(ctx):\n    return {'extra': 1}\n")
    done = subprocess.run(
        [str(LOOKOUT), "run", "p", "--wait", "--workspace", str(ws.root)],
        capture_output=True,
        text=True,
        cwd=ws.root,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "extra        succeeded" in done.stdout
    assert not list(ws.root.glob("*-ran")) and not list(code.glob("*-ran"))


def test_the_config_in_force_is_on_the_record(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(roles(operator=["alice"]))
    Scheduler(ws).prepare()
    Scheduler(ws).prepare()  # the same file again: nothing new
    (loaded,) = [e for e in audit.entries(ws.store) if e.subject == "lookout.toml"]
    assert loaded.action == "config" and loaded.details["sha256"] == ws.config.sha256
    ws.config.path.write_text(roles(operator=["alice"], approver=["bob"]))
    again = open_workspace(ws.root)
    try:
        Scheduler(again).prepare()
    finally:
        again.close()
    policy_change, reloaded = audit.entries(ws.store, limit=2)
    assert reloaded.action == "config" and reloaded.details["sha256"] != loaded.details["sha256"]
    assert policy_change.action == "policy"
    assert policy_change.details == {
        "roles": {
            "before": {"reporter": [], "operator": ["alice"], "approver": [], "admin": []},
            "after": {"reporter": [], "operator": ["alice"], "approver": ["bob"], "admin": []},
        }
    }
    assert audit.verify(ws.store).verified


def test_a_rollback_decided_on_an_old_screen_is_refused(
    make_workspace: Callable[..., Workspace],
) -> None:
    from tests.test_promotion import promote_new, toml

    ws = make_workspace(toml())
    for _ in range(3):
        promote_new(ws)
    stale = door.Local(ws).perform("rollback", model="m", reason="bad", expected_current=2)
    assert not stale.ok and stale.message == "production is no longer v2 (m production is v3 now)"
    fresh = door.Local(ws).perform("rollback", model="m", reason="bad", expected_current=3)
    assert fresh.ok and fresh.data == {"from_version": 3, "to_version": 2}


@pytest.mark.parametrize("mode", [0o666, 0o664])
def test_doctor_names_what_others_could_write_in_a_personal_workspace(
    make_workspace: Callable[..., Workspace], cli: Any, mode: int
) -> None:
    ws = make_workspace()
    assert cli("doctor", "--workspace", str(ws.root)).code == 0
    ws.config.path.chmod(mode)
    r = cli("doctor", "--workspace", str(ws.root), "--json")
    assert r.code == 1
    (bad,) = [c for c in r.json()["checks"] if not c["ok"]]
    assert bad["path"] == str(ws.config.path) and bad["fix"] == f"chmod go-w {ws.config.path}"
