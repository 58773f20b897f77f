"""Drift benchmarks; prints figures (medians of several runs).

1. 100k rows × 20 numeric features, half of them shifted: Lookout's default
   report (profile the reference + compare) against Evidently 0.7's
   DataDriftPreset on the same data, with the per-feature verdicts side by side.
2. 1M rows × 50 features logged into a real store, against a stored profile:
   reading the window, comparing, and the whole `run_drift`, with the peak
   memory it allocates (tracemalloc) as a multiple of the batch's size.

    .venv/bin/python -m bench.drift [--runs N] [--skip-evidently]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from lookout.scheduler import drift
from lookout.scheduler.drift_job import run_drift, window_frame
from lookout.scheduler.frame import Frame
from lookout.scheduler.workspace import open_workspace
from lookout.storage import drift as drift_store
from lookout.storage import registry


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds (all threads) over `runs`, and the last result.

    The machine may be shared: CPU time shows the work done when the wall
    time includes waiting for a core.
    """
    wall, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def numeric_frame(columns: dict[str, np.ndarray]) -> Frame:
    return Frame(columns, {n: "number" for n in columns})


def evidently_verdicts(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> dict[str, bool]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(pd.DataFrame(cur), pd.DataFrame(ref))
    out = {}
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        if "ValueDrift" not in cfg.get("type", ""):
            continue
        p_value = "p_value" in str(cfg["method"])
        score = float(m["value"])
        out[cfg["column"]] = score < cfg["threshold"] if p_value else score >= cfg["threshold"]
    return out


def versus_evidently(runs: int, skip: bool) -> None:
    rng = np.random.default_rng(42)
    rows, n_features = 100_000, 20
    ref = {f"f{i:02d}": rng.normal(10, 2, rows) for i in range(n_features)}
    cur = {}
    for i in range(n_features):
        if i % 4 == 1:
            cur[f"f{i:02d}"] = rng.normal(11, 2, rows)  # mean shifted by half a std
        elif i % 4 == 3:
            cur[f"f{i:02d}"] = rng.normal(10, 3, rows)  # wider
        else:
            cur[f"f{i:02d}"] = rng.normal(10, 2, rows)
    ref_frame, cur_frame = numeric_frame(ref), numeric_frame(cur)

    def lookout() -> list[drift.FeatureDrift]:
        profile = drift.build_profile(ref_frame, list(ref))
        return drift.compare_profile(profile, cur_frame)

    ours_s, ours_cpu, results = timed(lookout, max(runs, 5))
    profile = drift.build_profile(ref_frame, list(ref))
    compare_s, compare_cpu, _ = timed(
        lambda: drift.compare_profile(profile, cur_frame), max(runs, 5)
    )
    ours = {r.name: r.level == "drift" for r in results}
    print(f"[1] {rows:,} rows × {n_features} numeric features, reference vs current")
    print(f"    Lookout profile + compare:  {ours_s:7.3f} s wall {ours_cpu:7.3f} s CPU")
    print(f"    Lookout compare alone:      {compare_s:7.3f} s wall {compare_cpu:7.3f} s CPU")
    if skip:
        return
    theirs_s, theirs_cpu, theirs = timed(lambda: evidently_verdicts(ref, cur), runs)
    print(f"    Evidently DataDriftPreset:  {theirs_s:7.3f} s wall {theirs_cpu:7.3f} s CPU")
    print(
        f"    ratio, Lookout profile + compare: {theirs_s / ours_s:.0f}× wall,"
        f" {theirs_cpu / ours_cpu:.0f}× CPU"
    )
    print(
        f"    ratio, Lookout against a stored profile: {theirs_s / compare_s:.0f}× wall,"
        f" {theirs_cpu / compare_cpu:.0f}× CPU"
    )
    same = [n for n in ref if ours[n] == theirs.get(n)]
    print(f"    same drifted/not-drifted verdict on {len(same)} of {n_features} features")
    for r in results:
        mark = "" if ours[r.name] == theirs.get(r.name) else "   <-- differs"
        print(
            f"      {r.name} {r.method:12s} {r.score:.4f} lookout={'drift' if ours[r.name] else 'ok':5s}"
            f" evidently={'drift' if theirs.get(r.name) else 'ok'}{mark}"
        )


CONFIG = """
[workspace]
name = "bench"

[models.big]
task = "regression"
target = "y"

[models.big.drift]
window_rows = 1000000
"""


def million_rows(runs: int, pieces: int) -> None:
    rng = np.random.default_rng(7)
    rows, n_features = 1_000_000, 50
    names = [f"f{i:02d}" for i in range(n_features)]
    ref = numeric_frame({n: rng.normal(size=100_000) for n in names})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "lookout.toml").write_text(CONFIG)
        ws = open_workspace(root)
        registry.ensure_model(ws.store, "big", "regression", "rmse")
        registry.register_version(ws.store, "big", profile=drift.build_profile(ref, names))
        with ws.store.write() as conn:
            registry.move_alias(conn, "big", "production", 1, kind="promotion", actor="bench")
        batch = {n: rng.normal(0.3 if i % 3 == 0 else 0.0, 1, rows) for i, n in enumerate(names)}
        batch_bytes = sum(a.nbytes for a in batch.values())
        start = time.perf_counter()
        step = rows // pieces
        for at in range(0, rows, step):
            drift_store.append_batch(
                ws.store, "big", {n: a[at : at + step] for n, a in batch.items()}
            )
        write_s = time.perf_counter() - start
        del batch
        profile = registry.get_profile(ws.store, "big", 1) or {}

        def load() -> Frame:
            batches = drift_store.load_window(ws.store, "big", max_rows=rows)
            return window_frame(batches, names, rows, None)

        def load_and_compare() -> tuple[tuple[float, float], tuple[float, float], list[Any]]:
            load_s, load_cpu, frame = timed(load, runs)
            compare_s, compare_cpu, results = timed(
                lambda: drift.compare_profile(profile, frame), runs
            )
            return (load_s, load_cpu), (compare_s, compare_cpu), results

        load_t, compare_t, results = load_and_compare()
        total_s, total_cpu, result = timed(lambda: run_drift(ws, "big"), runs)
        tracemalloc.start()
        run_drift(ws, "big")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ws.close()
    drifted = sum(r.level == "drift" for r in results)
    print(
        f"[2] {rows:,} rows × {n_features} features ({batch_bytes / 1e6:.0f} MB) in {pieces} batch(es),"
        " against a stored profile"
    )
    print(f"    append to the store:         {write_s:6.2f} s (once)")
    print(f"    read the window from SQLite: {load_t[0]:6.2f} s wall {load_t[1]:6.2f} s CPU")
    print(f"    compare with the profile:    {compare_t[0]:6.2f} s wall {compare_t[1]:6.2f} s CPU")
    print(f"    run_drift end to end:        {total_s:6.2f} s wall {total_cpu:6.2f} s CPU")
    print(f"    {drifted} of {n_features} features drifted; model level {result.level}")
    print(
        f"    peak memory allocated by run_drift: {peak / 1e6:.0f} MB = {peak / batch_bytes:.2f}× the data"
    )


def machine() -> str:
    import os

    return f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--skip-evidently", action="store_true")
    args = p.parse_args()
    print(machine())
    versus_evidently(args.runs, args.skip_evidently)
    million_rows(args.runs, 1)
    million_rows(args.runs, 100)


if __name__ == "__main__":
    main()
