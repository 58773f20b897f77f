"""Console benchmark: the console on a big store, measured through a real pseudo-terminal.

Goals (issue 7), on a generated store with 1M check results, 100k runs and 10k versions:
first useful frame ≤ 0.8 s median and no slower than harlequin opening the same SQLite
file in the same run; 0 B/s written to the terminal while nothing changes (≤ 1 KB/s while
a scheduler writes); idle CPU ≤ 1 %; RSS ≤ 120 MB; a pane refresh (query + render)
≤ 30 ms p95. Uses ../shared/tools/ttybench.py; harlequin comes from $HARLEQUIN (a
separate venv, as it pins its own Textual). Prints medians of several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import checks, drift, events, pipelines, registry
from lookout.storage.records import CheckResult, FeatureDrift, Gate, Run, StageRun

ROOT = Path(__file__).resolve().parents[1]
TTYBENCH = ROOT.parent / "shared" / "tools" / "ttybench.py"
LOOKOUT = str(Path(sys.executable).parent / "lookout")
PIPELINES, DATASETS, MODELS = 20, 20, 20
RUNS, RESULTS, VERSIONS = 100_000, 1_000_000, 10_000
STAGES = ["load", "validate", "train", "evaluate", "register"]
READY = "pipe-00"  # a pipeline name: visible only once the panes hold data

WRITER = """
import sys, threading, time
from lookout.storage import checks, pipelines, scheduling
from lookout.storage.db import Store
from lookout.storage.records import CheckResult
store = Store(sys.argv[1])
stop = time.time() + float(sys.argv[2])
stages = ["load", "validate", "train", "evaluate", "register"]
scheduling.acquire_lease(store, "bench", "benchhost", 1, 30.0)
wait = threading.Event()
run, stage, n = None, 0, 0
while time.time() < stop:
    n += 1
    if run is None:
        run = pipelines.create_run(store, "pipe-00", stages, "schedule", "scheduler", "running")
        stage = 0
        pipelines.start_stage(store, run.id, stages[0])
    pipelines.set_stage_log(store, run.id, stages[stage], "line\\n" * n)  # live log, 1/s
    if n % 3 == 0:  # a stage ends, the next starts; a run every 15 s
        pipelines.finish_stage(store, run.id, stages[stage], "succeeded", "done")
        stage += 1
        if stage == len(stages):
            pipelines.set_run_status(store, run.id, "succeeded")
            run = None
        else:
            pipelines.start_stage(store, run.id, stages[stage])
    if n % 5 == 0:
        scheduling.renew_lease(store, "bench", 30.0)  # the heartbeat
    if n % 10 == 0:  # a check runs every 10 s and flips every 30 s (its event opens/closes)
        result = "fail" if (n // 30) % 2 == 0 else "pass"
        checks.record_results(store, [CheckResult("ds-00", "live", "range", "fail", result)])
    wait.wait(1.0)
print(n)
"""


def config() -> str:
    lines = ['[workspace]\nname = "bench"\n']
    for i in range(DATASETS):
        lines.append(f'[datasets.ds-{i:02d}]\nsource = "lookout.scheduler.examples:wine"\n')
    for i in range(MODELS):
        lines.append(f'[models.model-{i:02d}]\ntask = "classification"\ntarget = "target"\n')
    for i in range(PIPELINES):
        lines.append(
            f'[pipelines.pipe-{i:02d}]\ndataset = "ds-{i:02d}"\nmodel = "model-{i:02d}"\n'
            'estimator = "sklearn.linear_model:LogisticRegression"\n'
        )
    return "\n".join(lines)


def _runs(rnd: random.Random, t0: float) -> list[Run]:
    out = []
    for n in range(RUNS):
        start = t0 + n * 30
        failed = rnd.random() < 0.05
        stages = []
        t = start
        for pos, name in enumerate(STAGES):
            status = (
                "failed"
                if failed and pos == 2
                else "skipped"
                if failed and pos > 2
                else "succeeded"
            )
            took = rnd.uniform(0.5, 20) if status != "skipped" else 0
            stages.append(
                StageRun(
                    0,
                    0,
                    pos,
                    name,
                    status,
                    t if took else None,
                    t + took if took else None,
                    f"{name} done\n",
                    {},
                    None,
                )
            )
            t += took
        out.append(
            Run(
                0,
                f"pipe-{n % PIPELINES:02d}",
                "failed" if failed else "succeeded",
                "schedule",
                "scheduler",
                1,
                start,
                start,
                t,
                "train failed" if failed else None,
                False,
                None,
                stages=tuple(stages),
            )
        )
    return out


def build(root: Path) -> Workspace:
    """The big workspace (kept between runs of the benchmark; --rebuild starts over)."""
    if (root / "lookout.db").exists():
        return open_workspace(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "lookout.toml").write_text(config())
    ws = open_workspace(root)
    store = ws.store
    rnd = random.Random(7)
    t0 = time.time() - RUNS * 30
    for i in range(PIPELINES):
        pipelines.upsert_pipeline(
            store,
            f"pipe-{i:02d}",
            "tabular",
            f"model-{i:02d}",
            f"ds-{i:02d}",
            {},
            time.time() + 600,
        )
    pipelines.insert_history(store, _runs(rnd, t0))
    names = [(f"ds-{d:02d}", f"check-{c:02d}") for d in range(DATASETS) for c in range(10)]
    for chunk in range(10):
        checks.insert_history(
            store,
            (
                CheckResult(
                    ds,
                    name,
                    "range",
                    "fail",
                    "fail" if rnd.random() < 0.05 else "pass",
                    f"{rnd.random():.3f}",
                    "≤ 0.5",
                    1000,
                    at=t0 + i,
                )
                for i in range(RESULTS // 10)
                for ds, name in [names[(chunk * 7 + i) % len(names)]]
            ),
        )
    checks.record_results(
        store,
        [
            CheckResult(
                ds, name, "range", "fail", "fail" if rnd.random() < 0.1 else "pass", "0.4", "≤ 0.5"
            )
            for ds, name in names
        ],
    )
    with store.write() as conn:
        for m in range(MODELS):
            model = f"model-{m:02d}"
            registry.ensure_model(store, model, "classification", "f1")
            for v in range(VERSIONS // MODELS):
                registry.register_version(
                    store,
                    model,
                    metrics={"f1": 0.7 + v / 5000},
                    params={"C": v},
                    tags={"owner": "bench"},
                )
            top = VERSIONS // MODELS
            registry.move_alias(conn, model, "production", top - 1, kind="promotion", actor="b")
            registry.move_alias(conn, model, "candidate", top, kind="register", actor="b")
            if m % 4 == 0:
                registry.create_request(
                    conn,
                    model,
                    top,
                    "production",
                    "scheduler",
                    "bench",
                    [Gate("metric", True, "better")],
                    1,
                )
            for _ in range(50):
                feats = [
                    FeatureDrift(f"f{k}", "psi", rnd.random() * 0.3, 0.2, "ok") for k in range(10)
                ]
                drift.record_result(conn, model, top - 1, "ok", 0.1, 5000, {}, feats)
        for e in range(5000):
            events.raise_event(
                conn, "run_failed", f"pipe-{e % PIPELINES:02d}", f"run {e} failed", "error"
            )
    return ws


def ttybench(
    cmd: list[str], ready: str, idle: float, env: dict[str, str], quit_keys: str = "q"
) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            str(TTYBENCH),
            "--ready",
            ready,
            "--idle",
            str(idle),
            "--quit",
            quit_keys,
            "--timeout",
            "60",
            "--",
            *cmd,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def pane_refresh(ws: Workspace, rounds: int) -> dict[str, float]:
    """p95 of query + render per source, forcing every pane to refetch each round."""
    from lookout.console.app import LookoutApp
    from lookout.console.commands.screenshots import settle

    async def go() -> list[tuple[str, float, float]]:
        app = LookoutApp(ws, start_scheduler=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.timings.clear()
            for _ in range(rounds):
                app.request_refresh(fetch_all=True)
                await settle(pilot)
            return list(app.timings)

    by: dict[str, list[float]] = {}
    for name, fetch_s, render_s in asyncio.run(go()):
        by.setdefault(name, []).append((fetch_s + render_s) * 1000)
    return {n: sorted(v)[int(len(v) * 0.95) - 1 if len(v) > 1 else 0] for n, v in by.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "lookout-bench-console"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    root = Path(a.dir) / "ws"
    if a.rebuild and root.exists():
        shutil.rmtree(root)
    t = time.perf_counter()
    ws = build(root)
    db = ws.config.database
    counts = {
        k: ws.store.conn.execute(f"SELECT count(*) FROM {k}").fetchone()[0]  # noqa: S608
        for k in ("check_results", "runs", "versions")
    }
    print(
        f"store: {counts['check_results']:,} check results, {counts['runs']:,} runs, "
        f"{counts['versions']:,} versions ({db.stat().st_size / 2**20:.0f} MB, ready in "
        f"{time.perf_counter() - t:.0f} s)"
    )
    state = Path(a.dir) / "state"
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(state / "config"))
    # Both programs start as they would for a user: with their bytecode cached (this
    # sandbox sets PYTHONDONTWRITEBYTECODE), after one warm-up start that is not counted.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [LOOKOUT, "-w", str(root), "--no-scheduler"]
    harlequin = os.environ.get("HARLEQUIN") or shutil.which("harlequin")
    hq_cmd = [harlequin, "-a", "sqlite", str(db)] if harlequin else None
    ttybench(cmd, READY, 1, env)
    if hq_cmd:
        ttybench(hq_cmd, "main db", 1, env, "\x11")

    looks = [ttybench(cmd, READY, 5, env) for _ in range(a.runs)]
    med = {
        k: statistics.median(r[k] for r in looks)
        for k in ("ready_s", "idle_bytes_s", "idle_cpu_pct", "rss_mb")
    }
    hq = None
    if hq_cmd:
        hq_runs = [ttybench(hq_cmd, "main db", 2, env, "\x11") for _ in range(a.runs)]
        hq = statistics.median(r["ready_s"] for r in hq_runs if r["ready_s"] is not None)
    print(
        f"first useful frame: median {med['ready_s']:.2f} s of {a.runs} (goal ≤ 0.8 s)"
        + (f"; harlequin on the same file {hq:.2f} s" if hq else "; harlequin not found")
    )
    print(
        f"idle: {med['idle_bytes_s']:.0f} B/s to the terminal (goal 0), "
        f"CPU {med['idle_cpu_pct']:.1f} % (goal ≤ 1 %), RSS {med['rss_mb']:.0f} MB (goal ≤ 120)"
    )

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "45"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    busy = ttybench(cmd, READY, 30, env)
    writer.communicate()
    print(
        f"while a scheduler writes (a stage every 3 s, live log, heartbeat, checks every 10 s): "
        f"{busy['idle_bytes_s']:.0f} B/s (goal ≤ 1024), CPU {busy['idle_cpu_pct']:.1f} %"
    )

    p95 = pane_refresh(ws, 30)
    worst = max(p95.values())
    shown = ", ".join(f"{k} {v:.1f}" for k, v in sorted(p95.items()))
    print(f"pane refresh (query + render) p95 ms: {shown}; worst {worst:.1f} (goal ≤ 30)")
    ws.close()


if __name__ == "__main__":
    main()
