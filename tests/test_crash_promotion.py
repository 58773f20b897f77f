"""A promotion killed at each of its steps, for real: the `lookout` process is started with
LOOKOUT_CRASH_AT naming a step and SIGKILLs itself there (no cleanup, no handlers). After
the next command on that alias, or the scheduler's next pass, the store, the serving
pointer and the audit agree; and a pointer changed by hand is put back by the running
daemon, or, when it cannot be, is a critical event that fails `lookout status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from lookout.scheduler import promotion, reconcile, serving
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, events, intents, registry
from lookout.storage.db import now

from tests.test_promotion import ME, add_version, promote_new, toml

pytestmark = pytest.mark.slow

# The steps of a change to what serves, in order (scheduler/promotion.py).
POINTS = (
    "promotion.intent_recorded",  # the intent is committed; nothing else has happened
    "promotion.pointer_staged",  # the new pointer is written beside the old one
    "promotion.pointer_switched",  # renamed into place; the decision is not committed
    "promotion.before_commit",  # everything done but the commit
    "promotion.after_commit",  # committed; the staged files are not yet removed
)


def lookout(
    ws: Workspace, *args: str, crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LOOKOUT_CRASH_AT", None)
    if crash is not None:
        env["LOOKOUT_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "lookout.console.cli", "--workspace", str(ws.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def serving_problems(ws: Workspace) -> list[str]:
    """What `lookout status` says about what serves; any such problem makes it exit 1 (it
    also exits 1 for other reasons, e.g. no scheduler runs the model's drift here)."""
    status = lookout(ws, "status", "--json")
    found = [
        p for p in json.loads(status.stdout)["problems"] if p.startswith(("serving:", "critical:"))
    ]
    assert status.returncode == 1 if found else status.returncode in (0, 1), status.stdout
    return found


def production(ws: Workspace) -> int | None:
    return registry.aliases(ws.store, "m").get("production")


def assert_agree(ws: Workspace) -> None:
    """Store, pointer and audit tell the same story, with nothing left half-done."""
    number = production(ws)
    version = None if number is None else registry.get_version(ws.store, "m", number)
    assert serving.agrees(serving.read_pointer(ws, "m"), version, ws)
    assert intents.pending(ws.store.conn) == []
    assert serving.leftovers(ws, "m", "production") == []
    assert reconcile.check(ws) == []
    assert audit.verify(ws.store).verified
    moves = [e for e in audit.entries(ws.store) if e.action in ("promotion", "rollback")]
    assert moves[0].details["to_version"] == number  # the newest recorded move is what serves


def two_in_production(make_workspace: Callable[..., Workspace]) -> Workspace:
    """v1 then v2 promoted (so a rollback goes to v1), and v3 waiting for approval."""
    ws = make_workspace(toml())
    promote_new(ws)
    promote_new(ws)
    v3 = add_version(ws)
    assert promotion.on_version_registered(ws, "m", v3.version, "pipeline:train") is not None
    return ws


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("action", ["approve", "rollback"])
def test_a_promotion_killed_at_any_step_agrees_after_the_next_command_or_pass(
    make_workspace: Callable[..., Workspace], action: str, point: str
) -> None:
    ws = two_in_production(make_workspace)
    request = registry.list_requests(ws.store, status="pending")[0].id
    args = ["approve", str(request)] if action == "approve" else ["rollback", "m"]
    target = 3 if action == "approve" else 1
    entries = len(audit.entries(ws.store))

    killed = lookout(ws, *args, "--reason", "kill me", crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    committed = point == "promotion.after_commit"
    assert production(ws) == (target if committed else 2)
    switched = POINTS.index(point) >= POINTS.index("promotion.pointer_switched")
    pointer = serving.read_pointer(ws, "m")
    assert pointer is not None and pointer.version == (target if switched else 2)
    # status sees the disagreement while it lasts
    assert bool(serving_problems(ws)) == (switched and not committed)

    if POINTS.index(point) % 2:  # the scheduler's next pass (a start, here)
        again = lookout(ws, "scheduler", "--once")
        assert again.returncode == 0, again.stderr
        assert production(ws) == (target if committed else 2)
    else:  # the next command on the same alias settles it first, then acts
        again = lookout(ws, *args, "--reason", "once more")
        assert "Traceback" not in again.stderr
        if committed:  # approved already, or production is already a rollback
            assert again.returncode == 2, again.stderr
            assert "already approved" in again.stderr or "already a rollback" in again.stderr
        else:
            assert again.returncode == 0, again.stderr
    assert_agree(ws)

    added = [e.action for e in audit.entries(ws.store)[: len(audit.entries(ws.store)) - entries]]
    repaired = switched and not committed
    assert added.count("repair") == (1 if repaired else 0), added
    if repaired:
        repair = next(e for e in audit.entries(ws.store) if e.action == "repair")
        assert repair.details["pointer_was"] == target and repair.details["recorded"] == 2
        assert f"interrupted {action if action == 'rollback' else 'promotion'}" in repair.reason
    assert lookout(ws, "audit", "--verify").returncode == 0


def test_a_kill_before_the_commit_on_a_full_disk_leaves_the_pointer_whole(
    make_workspace: Callable[..., Workspace],
) -> None:
    """The undo of a pointer is a rename: it needs no free space (here the kill comes
    after the switch; the restore on the next pass is a rename of the kept copy)."""
    ws = two_in_production(make_workspace)
    killed = lookout(ws, "rollback", "m", "--reason", "x", crash="promotion.pointer_switched")
    assert killed.returncode == -signal.SIGKILL
    kept = serving.leftovers(ws, "m", "production")
    assert any(name.endswith(".old") for name in kept)
    version = registry.get_version(ws.store, "m", 2)
    old = next(n for n in kept if n.endswith(".old"))
    assert serving.restore_from(ws, "m", "production", old, version)  # type: ignore[arg-type]
    assert serving.read_pointer(ws, "m").version == 2  # type: ignore[union-attr]


def test_ten_parallel_plain_rollbacks_make_one_transition(
    make_workspace: Callable[..., Workspace],
) -> None:
    from tests.test_promotion_concurrency import run_all

    ws = two_in_production(make_workspace)
    before = len(registry.transitions(ws.store, "m", "production"))
    results = run_all(str(ws.root), [["rollback", "m", "--reason", "bad model"]] * 10)
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [r.stderr for r in results]
    assert "production v2 → v1" in winners[0].stdout
    for r in results:
        if r.returncode != 0:
            assert r.returncode == 2 and "Traceback" not in r.stderr
            assert "production is no longer v2" in r.stderr or "already a rollback" in r.stderr
    moves = registry.transitions(ws.store, "m", "production")
    assert len(moves) == before + 1 and (moves[0].kind, moves[0].to_version) == ("rollback", 1)
    assert_agree(ws)


def test_rollback_refuses_when_production_moved_since_the_person_looked(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = two_in_production(make_workspace)
    seen, target = promotion.rollback_target(ws, "m")
    assert (seen, target) == (2, 1)
    promotion.rollback(ws, "m", ME, "someone else was faster")
    with pytest.raises(promotion.PromotionError, match="production is no longer v2"):
        promotion.rollback(ws, "m", ME, "mine", to_version=target, expected_current=seen)
    assert production(ws) == 1


def wait_for(what: Callable[[], object], timeout: float = 20.0) -> object:
    tick = threading.Event()
    deadline = now() + timeout
    while now() < deadline:
        value = what()
        if value:
            return value
        tick.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_running_daemon_puts_back_a_pointer_changed_by_hand(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = two_in_production(make_workspace)
    sched = Scheduler(ws)
    assert sched.start()
    try:
        path = serving.pointer_path(ws, "m")
        forged = json.loads(path.read_text())
        v1 = registry.get_version(ws.store, "m", 1)
        assert v1 is not None
        forged.update(version=1, artifact=str(ws.config.resolve(str(v1.artifact_path))))
        forged["sha256"] = v1.artifact_sha256
        path.write_text(json.dumps(forged))
        wait_for(lambda: serving.read_pointer(ws, "m").version == 2)  # type: ignore[union-attr]
        repair = wait_for(lambda: [e for e in audit.entries(ws.store) if e.action == "repair"])
        assert "changed outside Lookout" in repair[0].reason  # type: ignore[index]
        assert events.list_events(ws.store, kind="serving_repair")[0].severity == "error"
    finally:
        sched.stop()
    assert_agree(ws)


def test_a_mismatch_nobody_can_repair_is_critical_until_it_is_fixed(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = two_in_production(make_workspace)
    v2 = registry.get_version(ws.store, "m", 2)
    assert v2 is not None
    artifact = ws.config.resolve(str(v2.artifact_path))
    saved = artifact.read_bytes()
    artifact.write_bytes(b"not the model that was approved")
    sched = Scheduler(ws)
    assert sched.run_once()
    critical = events.open_critical(ws.store)
    assert len(critical) == 1 and "does not match its recorded sha256" in critical[0].message
    assert any(p.startswith("critical: ") for p in serving_problems(ws))
    # the pointer itself is deleted: it cannot be written back while the artifact is wrong
    serving.pointer_path(ws, "m").unlink()
    assert sched.run_once()
    assert any("serving pointer is missing" in p for p in serving_problems(ws))
    artifact.write_bytes(saved)
    assert sched.run_once()
    assert events.open_critical(ws.store) == []
    assert serving_problems(ws) == []
    assert_agree(ws)


def test_a_symlink_planted_under_artifacts_is_refused_not_followed(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = two_in_production(make_workspace)
    private = tmp_path / "someone-elses-home"
    private.mkdir()
    serving_dir = serving.pointer_path(ws, "m").parent
    for name in os.listdir(serving_dir):
        (serving_dir / name).rename(private / name)
    serving_dir.rmdir()
    serving_dir.symlink_to(private)
    out = lookout(ws, "rollback", "m", "--reason", "x")
    assert out.returncode == 2 and "symlink" in out.stderr and "Traceback" not in out.stderr
    assert json.loads((private / "production").read_text())["version"] == 2  # untouched
    assert production(ws) == 2


async def test_the_console_header_shows_a_serving_mismatch_while_it_is_open(
    ws: Workspace,
) -> None:
    from lookout.console.commands.screenshots import settle

    from tests.test_console import make

    app = make(ws)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert "serving mismatch" not in app.header_text().plain
        with ws.store.write() as conn:
            events.raise_event(
                conn,
                reconcile.CRITICAL,
                "fraud",
                "fraud production pointer names v1, the record says v2",
                "error",
                dedup_key="serving:fraud:production",
            )
        app.request_refresh(fetch_all=True)
        await settle(pilot)
        assert "⚠ serving mismatch (1)" in app.header_text().plain
        with ws.store.write() as conn:
            events.resolve(conn, "serving:fraud:production")
        app.request_refresh(fetch_all=True)
        await settle(pilot)
        assert "serving mismatch" not in app.header_text().plain


def test_a_model_file_is_checked_before_it_is_unpickled_and_never_through_a_symlink(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    from lookout.scheduler import training

    ws = make_workspace(toml())
    v = add_version(ws)
    path = ws.config.resolve(str(v.artifact_path))
    with pytest.raises(training.TrainingError, match="not a Lookout model"):
        training.load_version(ws, v)  # verified, loaded, then found not to be a bundle
    saved = path.read_bytes()
    path.write_bytes(saved + b"tampered")
    with pytest.raises(training.TrainingError, match="does not match its recorded sha256"):
        training.load_version(ws, v)
    path.write_bytes(saved)
    elsewhere = tmp_path / "elsewhere"
    path.parent.rename(elsewhere)
    path.parent.symlink_to(elsewhere)  # artifacts/models -> a folder outside
    with pytest.raises(training.TrainingError, match="symlink"):
        training.load_version(ws, v)
    with pytest.raises(serving.ServingError, match="symlink"):
        serving.verify_artifact(ws, v)
