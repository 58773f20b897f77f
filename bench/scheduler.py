"""Scheduler figures: request → stage start, overhead per stage, idle CPU of the daemon.

    .venv/bin/python -m bench.scheduler [--repeat N]

Targets: a request written by a console starts its first stage within 1 s;
the runner adds at most 20 ms per stage; an idle `lookout scheduler` uses at
most 1% of a CPU. Each figure is the median of several runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from lookout.scheduler import pipeline
from lookout.scheduler.workspace import open_workspace
from lookout.storage import pipelines, scheduling

STAGES = 20
CONFIG = """
[scheduler]
lease = "30s"
heartbeat = "5s"
poll = "500ms"

[datasets.t]
source = "data/*.csv"

[models.m]
task = "classification"
target = "y"

[pipelines.quick]
kind = "custom"
schedule = "1h"
stages = [{stage_list}]

[pipelines.quick.triggers]
files = "data/*.csv"
"""
NOOP = "def noop(ctx):\n    return None\n"


def workspace(root: Path) -> Path:
    stages = ", ".join(f'{{ name = "s{i}", call = "bench_stages:noop" }}' for i in range(STAGES))
    root.mkdir(parents=True, exist_ok=True)
    (root / "lookout.toml").write_text(CONFIG.format(stage_list=stages))
    (root / "bench_stages.py").write_text(NOOP)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "a.csv").write_text("x,y\n1,0\n2,1\n")
    return root


def wait(what, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    tick = threading.Event()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        tick.wait(0.01)
    raise RuntimeError("timed out")


def overhead_per_stage(root: Path, repeat: int) -> list[float]:
    """Wall time of a run of no-op stages divided by its stages (in-process runner)."""
    ws = open_workspace(root)
    runner = pipeline.Runner(ws, "bench")
    out = []
    for _ in range(repeat):
        queued = pipeline.queue_run(ws, "quick", "manual", "bench")
        t0 = time.perf_counter()
        runner.execute(queued.id)
        out.append((time.perf_counter() - t0) / STAGES * 1000)
    ws.close()
    return out


def request_latency_and_idle_cpu(root: Path, repeat: int) -> tuple[list[float], list[float]]:
    ws = open_workspace(root)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "lookout.console.cli", "--workspace", str(root), "scheduler"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait(lambda: (x := scheduling.get_lease(ws.store)) and x.pid == daemon.pid)
        wait(lambda: not pipelines.runs_with_status(ws.store, "queued"))
        latencies = []
        for _ in range(repeat):
            req = scheduling.submit_request(ws.store, "run_pipeline", "quick", "bench")

            def started(req_id: int = req.id) -> float | None:
                r = scheduling.get_request(ws.store, req_id)
                if r is None or not r.result:
                    return None
                run = pipelines.get_run(ws.store, int(r.result.split()[1]))
                if run is None or run.stages[0].started_at is None:
                    return None
                return run.stages[0].started_at

            latencies.append((wait(started) - req.at) * 1000)
            wait(lambda: not pipelines.runs_with_status(ws.store, "running"))
        proc = psutil.Process(daemon.pid)
        idle = []
        tick = threading.Event()
        for _ in range(3):
            before = proc.cpu_times()
            t0 = time.monotonic()
            tick.wait(10)
            after = proc.cpu_times()
            spent = (after.user + after.system) - (before.user + before.system)
            idle.append(spent / (time.monotonic() - t0) * 100)
        return latencies, idle
    finally:
        daemon.terminate()
        daemon.wait(30)
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp) / "ws")
        per_stage = overhead_per_stage(root, args.repeat)
        latency, idle = request_latency_and_idle_cpu(root, args.repeat)
    print(
        f"request written -> first stage running: median {statistics.median(latency):.0f} ms "
        f"(max {max(latency):.0f} ms, target <= 1000 ms, poll 500 ms)"
    )
    print(
        f"runner overhead per stage:              median {statistics.median(per_stage):.1f} ms "
        f"(target <= 20 ms, {STAGES} no-op stages)"
    )
    print(
        f"idle scheduler CPU:                     median {statistics.median(idle):.2f} % "
        f"(target <= 1 %, three 10 s windows)"
    )


if __name__ == "__main__":
    main()
