"""Shared-mode benchmark: a change's round trip through the daemon's socket, and readers
that poll the store read-only while the daemon writes.

Goals (issue 14): a change's round trip (connect → the daemon's decision → reply) p95
≤ 20 ms; 8 read-only consoles' pollers polling while the daemon writes: query p99 ≤ 5 ms.
The workspace is a real shared one whose service account is the account running the
benchmark (so it needs no root): the daemon is a `lookout scheduler` process, the clients
are this process and 8 reader processes. Figures are medians over `--runs` runs.

    .venv/bin/python -m bench.trust [--changes N] [--seconds S] [--runs N]
"""

from __future__ import annotations

import argparse
import grp
import multiprocessing
import os
import pwd
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lookout.scheduler.client import Remote
from lookout.scheduler.workspace import open_workspace
from lookout.storage import events, registry
from lookout.storage.db import Store

READERS = 8
EVENTS = 2000  # to acknowledge: one write per round trip
POLL = 0.05  # seconds between a reader's polls (a console polls every 2 s)


def build(root: Path) -> None:
    """A shared workspace owned by this account, with events to acknowledge and a model."""
    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(me.pw_gid).gr_name
    root.mkdir(mode=0o750)
    (root / "code").mkdir(mode=0o750)
    config = root / "lookout.toml"
    config.write_text(
        f'[workspace]\nname = "bench"\nmode = "shared"\nservice_user = "{me.pw_name}"\n'
        f'group = "{group}"\n[policy.roles]\nadmin = ["{me.pw_name}"]\n'
        '[models.m]\ntask = "classification"\ntarget = "y"\nfeatures = ["a", "b"]\n'
    )
    config.chmod(0o640)
    ws = open_workspace(root, daemon=True)
    try:
        with ws.store.write() as conn:
            for i in range(EVENTS):
                events.raise_event(conn, "run_failed", f"p{i % 50}", f"run {i} failed", "error")
        registry.ensure_model(ws.store, "m", "classification", "f1")
        for _ in range(200):
            registry.register_version(ws.store, "m", metrics={"f1": 0.9})
    finally:
        ws.close()


def start_daemon(root: Path, log: Path) -> subprocess.Popen[bytes]:
    lookout = Path(sys.executable).with_name("lookout")
    with open(log, "wb") as sink:
        daemon = subprocess.Popen(
            [str(lookout), "scheduler", "--workspace", str(root)], stdout=sink, stderr=sink
        )
    remote = Remote(root / "lookout.sock")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited: {log.read_text()}")
        if remote.perform("whoami").ok:
            return daemon
        time.sleep(0.05)
    raise SystemExit(f"the daemon did not answer: {log.read_text()}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def round_trips(remote: Remote, first_event: int, n: int) -> tuple[list[float], list[float]]:
    """(seconds per acknowledge: a write, seconds per whoami: a decision without one)."""
    writes, reads = [], []
    for i in range(n):
        t0 = time.perf_counter()
        done = remote.perform("acknowledge", event=first_event + i, note="bench")
        writes.append(time.perf_counter() - t0)
        assert done.ok, done.message
        t0 = time.perf_counter()
        assert remote.perform("whoami").ok
        reads.append(time.perf_counter() - t0)
    return writes, reads


def reader(db: str, seconds: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A console's poller: data_version, then each overview pane's change key, and a fetch
    of each pane whose key moved; every query timed."""
    from lookout.console.panes import overview_specs

    store = Store(db, readonly=True)
    specs = overview_specs()
    keys: dict[str, object] = {}
    seen = -1
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        version = store.data_version()
        times.append(time.perf_counter() - t0)
        if version != seen:
            seen = version
            for spec in specs:
                t0 = time.perf_counter()
                key = spec.key(store)
                times.append(time.perf_counter() - t0)
                if keys.get(spec.name) != key:
                    keys[spec.name] = key
                    t0 = time.perf_counter()
                    spec.fetch(store)
                    times.append(time.perf_counter() - t0)
        time.sleep(POLL)
    store.close()
    out.put(times)


def readers_while_writing(root: Path, remote: Remote, seconds: float) -> tuple[list[float], int]:
    """(every reader query's seconds, changes the daemon made meanwhile: the serving side
    logging batches of 100 inputs through the socket)."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=reader, args=(str(root / "lookout.db"), seconds, out))
        for _ in range(READERS)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let them import and open the store
    changes = 0
    end = time.monotonic() + seconds - 1.5
    while time.monotonic() < end:
        batch = {"a": [0.5] * 100, "b": [1.5] * 100}
        assert remote.perform("log", model="m", columns=batch).ok
        changes += 1
        time.sleep(0.005)
    times = [t for _ in procs for t in out.get(timeout=seconds + 60)]
    for p in procs:
        p.join()
    return times, changes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=600, help="round trips per run")
    ap.add_argument("--seconds", type=float, default=6.0, help="readers poll this long per run")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        build(root)
        daemon = start_daemon(root, Path(tmp) / "daemon.log")
        remote = Remote(root / "lookout.sock")
        try:
            event = 1
            if args.runs * args.changes > EVENTS:
                raise SystemExit(f"--runs × --changes must be at most {EVENTS}")
            write_p95, write_p50, decide_p95, read_p99, read_p50, made = [], [], [], [], [], []
            for _ in range(args.runs):
                writes, decisions = round_trips(remote, event, args.changes)
                event += args.changes
                write_p95.append(percentile(writes, 0.95))
                write_p50.append(percentile(writes, 0.50))
                decide_p95.append(percentile(decisions, 0.95))
                times, changes = readers_while_writing(root, remote, args.seconds)
                read_p99.append(percentile(times, 0.99))
                read_p50.append(percentile(times, 0.50))
                made.append(changes / max(args.seconds - 1.5, 0.1))
        finally:
            daemon.terminate()
            daemon.wait(30)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"change round trip over the socket (acknowledge, a write; {args.changes} per run):")
    print(f"  p50 {ms(write_p50):.2f} ms, p95 {ms(write_p95):.2f} ms (goal ≤ 20 ms)")
    print(f"  a decision without a write (whoami): p95 {ms(decide_p95):.2f} ms")
    print(
        f"{READERS} read-only pollers every {POLL * 1000:.0f} ms while the daemon logs"
        f" ~{statistics.median(made):.0f} batches/s:"
    )
    print(f"  query p50 {ms(read_p50):.3f} ms, p99 {ms(read_p99):.3f} ms (goal ≤ 5 ms)")
    print(f"(medians of {args.runs} runs)")


if __name__ == "__main__":
    main()
