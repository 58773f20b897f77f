"""A full disk, for real: the workspace lives on a small tmpfs filled up to a few kilobytes.
Every command says what failed in one line (exit 2, or 1 where it reports health) and
leaves nothing half-done; the daemon marks the run the store failed under as failed, keeps
running, warns while free space is low and repairs what it could not do once there is
room again. Needs root to mount the tmpfs (CI runs as root)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lookout.scheduler import promotion, serving
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, events, intents, pipelines, registry, scheduling
from lookout.storage import drift as drift_store
from lookout.storage.db import now

from tests import accounts
from tests.test_pipeline import STAGES_PY, config, write_csv
from tests.test_promotion import ME, add_version

pytestmark = pytest.mark.slow

SIZE = "16m"
# the pipeline's last stage reads a gate outside the tmpfs (a FIFO where the test holds the
# run there: the read returns when the test has written it), so the test decides when the
# run next writes to the store
WAIT = """
[[pipelines.p.stages]]
name = "hold"
call = "lookout_stages:hold_outside"
"""
HOLD_OUTSIDE = """
def hold_outside(ctx):
    import os, pathlib
    pathlib.Path(os.environ["LOOKOUT_TEST_GATE"]).read_text()
    return {"blob": "x" * 4_000_000}  # recorded on the stage: more than the disk has left
"""


@contextlib.contextmanager
def tmpfs(where: Path, size: str = SIZE) -> Iterator[Path]:
    accounts.need_root("mount a small tmpfs")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs here: {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(root: Path, leave: int) -> Path:
    """Fill the disk, then give back `leave` bytes (rounded to pages by tmpfs)."""
    filler = root / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    block = b"\0" * (1 << 16)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 4096:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file outside the tmpfs the hold stage waits for (and stages read from the env)."""
    path = tmp_path / "gate"
    monkeypatch.setenv("LOOKOUT_TEST_GATE", str(path))
    return path


def workspace(root: Path, head: str = "") -> Workspace:
    ws_root = root / "ws"
    ws_root.mkdir()
    text = config(WAIT).replace("[scheduler]", f"[scheduler]\n{head}", 1)
    text += f'\n[policy.roles]\napprover = ["{ME}"]\n'
    (ws_root / "lookout.toml").write_text(text)
    write_csv(ws_root / "data" / "train.csv")
    (ws_root / "code").mkdir()
    (ws_root / "code" / "lookout_stages.py").write_text(STAGES_PY + HOLD_OUTSIDE)
    return open_workspace(ws_root)


def lookout(ws: Workspace, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout.console.cli", "--workspace", str(ws.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,  # type: ignore[call-overload]
    )


def one_line(result: subprocess.CompletedProcess[str], codes: tuple[int, ...]) -> None:
    assert result.returncode in codes, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def serving_agrees(ws: Workspace) -> bool:
    number = registry.aliases(ws.store, "m").get("production")
    version = None if number is None else registry.get_version(ws.store, "m", number)
    return serving.agrees(serving.read_pointer(ws, "m"), version, ws)


def two_versions(ws: Workspace) -> None:
    for _ in range(2):
        v = add_version(ws)
        req = promotion.on_version_registered(ws, "m", v.version, "pipeline:p")
        assert req is not None
        promotion.approve(ws, req.id, ME, "ship", override=True)


def test_rollback_on_a_nearly_full_disk_never_leaves_the_pointer_half_done(
    tmp_path: Path, gate: Path
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        ws = workspace(disk)
        try:
            two_versions(ws)
            outcomes: dict[str, int] = {}
            for leave in (0, 4096, 8192, 16384, 32768, 65536, 262144, 1 << 20) * 2:
                other = 1 if registry.aliases(ws.store, "m")["production"] == 2 else 2
                filler = fill(disk, leave)
                done = lookout(ws, "rollback", "m", "--to", str(other), "--reason", "disk")
                one_line(done, (0, 2))
                key = "ok" if done.returncode == 0 else done.stderr.split(": ", 2)[-1][:40]
                outcomes[key] = outcomes.get(key, 0) + 1
                assert serving_agrees(ws), done.stderr  # right after the command, full disk
                filler.unlink()
                assert Scheduler(ws).run_once()  # room again: the next pass tidies up
                assert serving_agrees(ws) and intents.pending(ws.store.conn) == []
                assert serving.leftovers(ws, "m", "production") == []
                assert audit.verify(ws.store).verified
            print("rollback outcomes on a full disk:", outcomes)
            assert "ok" in outcomes and len(outcomes) > 1
        finally:
            ws.close()


def test_commands_on_a_full_disk_say_so_in_one_line(tmp_path: Path, gate: Path) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        ws = workspace(disk)
        try:
            two_versions(ws)
            batch = tmp_path / "batch.csv"
            batch.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(20000)))
            gate.write_text("open")  # the hold stage does not wait
            filler = fill(disk, 0)
            one_line(lookout(ws, "log", "m", str(batch)), (2,))
            folder = drift_store.batch_folder(ws.store)
            assert not folder.exists() or list(folder.iterdir()) == []  # no partial file
            one_line(lookout(ws, "checks", "--run", "table"), (0, 2))
            one_line(lookout(ws, "run", "p"), (2,))
            one_line(lookout(ws, "run", "p", "--wait"), (1, 2))
            one_line(lookout(ws, "scheduler", "--once"), (0, 2))
            status = lookout(ws, "status")  # exit 1 is also its verdict: no scheduler runs
            assert status.returncode in (0, 1) and "Traceback" not in status.stderr, status
            assert len(status.stderr.splitlines()) <= 1, status.stderr
            daemon = subprocess.Popen(
                [sys.executable, "-m", "lookout.console.cli", "-w", str(ws.root), "scheduler"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                _, err = daemon.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # it started after all: stop it
                daemon.send_signal(signal.SIGTERM)
                _, err = daemon.communicate(timeout=30)
            assert "Traceback" not in err, err
            filler.unlink()
            assert Scheduler(ws).run_once()
            left = [r for r in pipelines.list_runs(ws.store) if r.status == "running"]
            assert left == []
            assert serving_agrees(ws) and audit.verify(ws.store).verified
        finally:
            ws.close()


def test_a_large_batch_the_disk_cannot_hold_leaves_no_partial_file(tmp_path: Path) -> None:
    """A batch file of 16 MB or more is written around the page cache: the disk filling
    part-way through it is the same one line, and nothing is left of the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = drift_store.WRITE_DIRECT // 32 + 50_000  # four columns: over the threshold
    batch = tmp_path / "large.parquet"
    table = {
        name: np.arange(float(rows)) * sign
        for name, sign in zip("abcd", (1, -1, 2, 3), strict=True)
    }
    pq.write_table(pa.table(table), batch)
    with tmpfs(tmp_path / "disk", "48m") as disk:
        ws = workspace(disk)
        try:
            filler = fill(disk, 6 << 20)  # room for the start of the file, not all of it
            one_line(lookout(ws, "log", "m", str(batch)), (2,))
            folder = drift_store.batch_folder(ws.store)
            assert not folder.exists() or list(folder.iterdir()) == []
            filler.unlink()
            one_line(lookout(ws, "log", "m", str(batch)), (0,))
            (stored,) = drift_store.load_window(ws.store, "m")
            assert np.array_equal(np.frombuffer(stored.columns["b"]), -np.arange(float(rows)))
        finally:
            ws.close()


def held_at(fifo: Path, timeout: float = 60.0) -> int:
    """The gate opened for writing: that returns once the hold stage has opened it to read."""
    opened: list[int] = []
    opening = threading.Thread(target=lambda: opened.append(os.open(fifo, os.O_WRONLY)))
    opening.daemon = True
    opening.start()
    opening.join(timeout)
    assert opened, "the run never reached its hold stage"
    return opened[0]


def wait_for(what: object, timeout: float = 60.0) -> object:
    tick = threading.Event()
    deadline = now() + timeout
    while now() < deadline:
        value = what()  # type: ignore[operator]
        if value:
            return value
        tick.wait(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_daemon_fails_the_run_the_disk_broke_and_keeps_serving(
    tmp_path: Path, gate: Path
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        ws = workspace(disk, 'min_free = "2MB"')
        sched = Scheduler(ws)
        assert sched.start()
        try:
            os.mkfifo(gate)
            scheduling.submit_request(ws.store, "run_pipeline", "p", "alice")
            held = held_at(gate)  # the run is at its hold stage
            run = pipelines.list_runs(ws.store, "p")[0]
            filler = fill(disk, 0)
            os.write(held, b"go")  # the run's next write meets a full disk
            os.close(held)
            wait_for(lambda: run.id in sched.runner.unfinished or not sched.runner.cancels)
            os.truncate(filler, filler.stat().st_size - (1 << 20))  # 1 MB: below min_free
            failed = wait_for(
                lambda: (r := pipelines.get_run(ws.store, run.id)) and r.status == "failed" and r
            )
            assert "database or disk is full" in failed.error or "No space" in failed.error  # type: ignore[attr-defined]
            warning = wait_for(lambda: events.list_events(ws.store, kind="disk_space"))
            assert "below 2 MB" in warning[0].message  # type: ignore[index]
            assert sched._loop_thread is not None and sched._loop_thread.is_alive()  # noqa: SLF001
            filler.unlink()
            wait_for(
                lambda: events.open_event(ws.store.conn, f"disk:{ws.store.path.parent}") is None
            )
        finally:
            sched.stop()
            ws.close()
        shutil.rmtree(disk / "ws", ignore_errors=True)


def test_a_commit_the_disk_refused_does_not_swallow_the_next_write(tmp_path: Path) -> None:
    """A failed COMMIT leaves SQLite's transaction open; the store closes it, so the next
    write on that thread commits instead of joining a transaction that never will."""
    with tmpfs(tmp_path / "disk") as disk:
        ws = workspace(disk)
        try:
            filler = fill(disk, 0)
            with pytest.raises(sqlite3.OperationalError, match="full"):
                events.record(ws.store, "note", "x", "y" * 2_000_000)
            assert not ws.store.conn.in_transaction
            filler.unlink()
            events.record(ws.store, "note", "x", "after")
            other = open_workspace(ws.root)
            assert [e.message for e in events.list_events(other.store, kind="note")] == ["after"]
            other.close()
        finally:
            ws.close()


def test_a_daemon_stopped_on_a_full_disk_exits_cleanly_and_its_lease_ends(
    tmp_path: Path, gate: Path
) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        ws = workspace(disk)
        try:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "lookout.console.cli", "-w", str(ws.root), "scheduler"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                wait_for(lambda: (x := scheduling.get_lease(ws.store)) and x.pid == daemon.pid)
                filler = fill(disk, 0)  # its heartbeat, chores and release meet a full disk
                threading.Event().wait(2.5)
                daemon.send_signal(signal.SIGTERM)
                out, err = daemon.communicate(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
            assert daemon.returncode == 0, err
            assert "Traceback" not in err and "scheduler stopped" in out
            lease = scheduling.get_lease(ws.store)
            assert lease is not None and not lease.alive(now())
            filler.unlink()
        finally:
            ws.close()
