"""Airflow benchmark: mirroring 1,000 DAG runs × 10 tasks from a real, warm Airflow 3.

Starts `airflow standalone` from .venv-airflow (`make .venv-airflow/.installed`) with
bench/airflow_dags/ (ten empty tasks per run, which Airflow's scheduler completes
without workers), triggers 1,000 runs through the REST API and waits for them. Then:

- the first sync of a fresh workspace (every run and task instance is new), and an
  incremental pass (nothing changed since the last one), medians of 5;
- an incremental pass that picks up 10 new runs;
- the console's first useful frame (through a real pseudo-terminal, as bench/console.py
  measures it) on the workspace holding those runs and on one without them, taken in
  turns, medians of 15: the goal is within 10 %.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from lookout.scheduler.connectors import airflow as connector
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import pipelines

from bench.console import LOOKOUT, ttybench
from tests.airflow_server import VENV, Airflow, airflow_standalone

DAGS = Path(__file__).resolve().parent / "airflow_dags"
DAG_ID = "lookout_bench"
RUNS = 1000
TASKS = 10
PIPELINE = "bench_dag"
SETTINGS = {  # let the scheduler move many runs at once
    "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1000",
    "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE": "200",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1000",
}


def config(url: str) -> str:
    return f"""
[workspace]
name = "bench"

[models.bench_model]
task = "classification"
target = "y"

[airflow]
base_url = "{url}"
username = "admin"
password_file = "airflow-password"
timeout = "60s"
history = {RUNS}

[pipelines.{PIPELINE}]
kind = "airflow"
dag_id = "{DAG_ID}"
model = "bench_model"
"""


def workspace(root: Path, af: Airflow) -> Workspace:
    root.mkdir(parents=True)
    secret = root / "airflow-password"
    secret.write_text(af.password)
    secret.chmod(0o600)
    (root / "lookout.toml").write_text(config(af.url))
    ws = open_workspace(root)
    cfg = ws.config.pipelines[PIPELINE]
    pipelines.upsert_pipeline(ws.store, PIPELINE, "airflow", cfg["model"], None, cfg)
    return ws


def trigger(af: Airflow, count: int) -> None:
    """Start `count` DAG runs through the API, one at a time (its SQLite metadata DB locks
    under parallel writes), and wait until all have ended."""
    headers = {"Authorization": f"Bearer {af.token()}"}
    before = finished(af, headers)
    with httpx.Client(timeout=60, headers=headers) as http:
        for _ in range(count):
            for attempt in range(5):
                answer = http.post(
                    f"{af.url}/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}
                )
                if answer.status_code < 500:
                    break
                time.sleep(0.5 * 2**attempt)  # "database is locked": the scheduler was writing
            answer.raise_for_status()
    deadline = time.monotonic() + 3600
    while finished(af, headers) < before + count:
        if time.monotonic() > deadline:
            raise SystemExit("Airflow did not finish the runs within an hour")
        time.sleep(2)


def finished(af: Airflow, headers: dict[str, str]) -> int:
    answer = httpx.get(
        f"{af.url}/api/v2/dags/{DAG_ID}/dagRuns",
        params={"state": "success", "limit": 1},
        headers=headers,
        timeout=60,
    )
    answer.raise_for_status()
    return int(answer.json().get("total_entries") or 0)


WAITED = [0.0]  # seconds spent waiting on Airflow's answers, summed over calls


def _timed_call(call: Any) -> Any:
    def timed(*args: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return call(*args, **kw)
        finally:
            WAITED[0] += time.perf_counter() - t

    return timed


def timed_sync(ws: Workspace) -> tuple[float, float]:
    """Seconds the sync took, and of those how many it waited on Airflow's API."""
    WAITED[0] = 0.0
    t = time.perf_counter()
    report = connector.sync(ws)
    took = time.perf_counter() - t
    if not report.ok:
        raise SystemExit(f"sync failed: {report.error}")
    return took, WAITED[0]


def counts(ws: Workspace) -> tuple[int, int]:
    conn = ws.store.conn
    runs = conn.execute("SELECT count(*) FROM runs WHERE pipeline = ?", (PIPELINE,)).fetchone()[0]
    stages = conn.execute("SELECT count(*) FROM stage_runs").fetchone()[0]
    return int(runs), int(stages)


def first_frames(roots: list[Path], state: Path, runs: int) -> list[float]:
    """Median seconds to the first useful frame for each workspace over `runs` starts each,
    taken in turns (after one warm-up each), so a busy moment of the machine falls on all."""
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(state / "config"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    ready = PIPELINE  # its row is in the Pipelines pane once the panes hold data

    def start(root: Path) -> float:
        cmd = [LOOKOUT, "-w", str(root), "--no-scheduler"]
        return float(ttybench(cmd, ready, 1, env)["ready_s"])

    for root in roots:
        start(root)
    times: list[list[float]] = [[] for _ in roots]
    for _ in range(runs):
        for i, root in enumerate(roots):
            times[i].append(start(root))
    return [statistics.median(t) for t in times]


def pane_queries(ws: Workspace, rounds: int = 50) -> float:
    """Median milliseconds for every overview pane's change key, fetch and rows: what the
    first frame waits for from the store, without a terminal's noise."""
    import importlib
    import pkgutil

    import lookout.console.panes as panes

    specs = [
        importlib.import_module(f"lookout.console.panes.{m.name}").SPEC
        for m in pkgutil.iter_modules(panes.__path__)
    ]
    took = []
    for _ in range(rounds):
        t = time.perf_counter()
        for spec in specs:
            spec.key(ws.store)
            spec.rows(spec.fetch(ws.store))
        took.append((time.perf_counter() - t) * 1000)
    return statistics.median(took)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--page-limit",
        type=int,
        default=None,
        help="Airflow's [api] maximum_page_limit (default: Airflow's own, 100)",
    )
    a = ap.parse_args()
    settings = dict(SETTINGS)
    if a.page_limit:
        settings["AIRFLOW__API__MAXIMUM_PAGE_LIMIT"] = str(a.page_limit)
    if not (VENV / ".installed").exists():
        print(f"airflow bench skipped: {VENV} is missing (make .venv-airflow/.installed)")
        return
    base = Path(tempfile.mkdtemp(prefix="lookout-bench-airflow-"))
    print(f"airflow bench in {base}", file=sys.stderr)
    with airflow_standalone(
        base, base / "unused", dags=DAGS, dag_id=DAG_ID, settings=settings
    ) as af:
        t = time.perf_counter()
        trigger(af, RUNS)
        print(
            f"Airflow: {RUNS} runs × {TASKS} tasks triggered and finished in"
            f" {time.perf_counter() - t:.0f} s"
        )
        connector._Client.call = _timed_call(connector._Client.call)  # type: ignore[method-assign]
        firsts, steady = [], []
        ws = None
        for i in range(a.runs):
            if ws is not None:
                ws.close()
            ws = workspace(base / f"ws-{i}", af)
            firsts.append(timed_sync(ws))
        assert ws is not None
        runs, stages = counts(ws)
        for _ in range(a.runs):
            steady.append(timed_sync(ws))
        page = a.page_limit or 100
        first, waited = (
            statistics.median(f[0] for f in firsts),
            statistics.median(f[1] for f in firsts),
        )
        print(
            f"first sync ({page} items a page): median {first:.2f} s of {a.runs}, of which"
            f" {waited:.2f} s waiting on Airflow's API ({runs:,} runs, {stages:,} stages"
            f" mirrored; {runs * TASKS / first:,.0f} task instances/s)"
        )
        print(
            f"incremental pass, nothing changed: median {statistics.median(s[0] for s in steady):.2f} s"
        )
        trigger(af, 10)
        picked, _ = timed_sync(ws)
        print(f"incremental pass with 10 new runs: {picked:.2f} s ({counts(ws)[0]:,} runs now)")

        # The console opens the stores as a daemon would have left them: closed here, so
        # neither frame reads behind this process's open connection.
        total = counts(ws)[0]
        ws.close()
        empty = workspace(base / "ws-empty", af)
        empty.close()
        state = base / "state"
        frames = 3 * a.runs
        with_runs, without = first_frames([ws.root, empty.root], state, frames)
        change = (with_runs / without - 1) * 100
        print(
            f"console first frame: {with_runs:.2f} s with {total:,} mirrored runs,"
            f" {without:.2f} s without (medians of {frames}, taken in turns;"
            f" {change:+.0f} %, goal ≤ +10 %)"
        )
        ws, empty = open_workspace(ws.root), open_workspace(empty.root)
        print(
            f"overview panes' queries and rows: {pane_queries(ws):.1f} ms with the runs,"
            f" {pane_queries(empty):.1f} ms without (medians of 50)"
        )
        ws.close()
        empty.close()


if __name__ == "__main__":
    main()
