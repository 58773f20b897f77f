"""Promotion benchmark: request + approve round trip on a store with 10k versions.

Goal (issue 6): p95 ≤ 50 ms for `request_promotion` (gates evaluated against
production: checks on the training snapshot, metric, and drift of the
candidate's 30-feature training profile against production's, 5000 rows each) followed by the `approve` that moves production, verifies the
artifact's sha256 and switches the serving pointer, with audit and events.

    .venv/bin/python -m bench.promotion [--versions N] [--rounds N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from lookout.scheduler import promotion, serving
from lookout.scheduler.drift import build_profile
from lookout.scheduler.frame import frame_from_columns
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import checks, registry
from lookout.storage.identity import current_user
from lookout.storage.records import CheckResult

FEATURES = 30
OPERATOR = "bench-operator"


def profile(rng: np.random.Generator, rows: int = 5000) -> dict[str, Any]:
    """A real drift-engine profile of a training set (30 numeric features)."""
    frame = frame_from_columns({f"f{i}": rng.normal(0, 1, rows) for i in range(FEATURES)})
    return build_profile(frame, [f"f{i}" for i in range(FEATURES)])


def build(root: Path, versions: int, profiled: range) -> Workspace:
    """A workspace whose model already has `versions` versions, each with a real artifact.

    Versions in `profiled` (the ones the benchmark promotes) also get a training
    profile; profiling all 10k would only make the file bigger.
    """
    me = current_user()
    (root / "lookout.toml").write_text(
        f'[workspace]\nname = "bench"\n[policy]\nmetric_tolerance = 0.5\n[policy.roles]\n'
        f'operator = ["{OPERATOR}"]\napprover = ["{me}"]\n'
        '[models.m]\ntask = "classification"\ntarget = "y"\nprimary_metric = "f1"\n'
    )
    ws = open_workspace(root)
    registry.ensure_model(ws.store, "m", "classification", "f1")
    rng = np.random.default_rng(0)
    snap = checks.record_snapshot(ws.store, "d", "d.csv", 10_000, {"x": "number"}, "f")
    checks.record_results(
        ws.store,
        [
            CheckResult("d", f"c{i}", "range", "fail", "pass", snapshot_id=snap.id)
            for i in range(10)
        ],
    )
    art = root / "artifacts" / "models"
    art.mkdir(parents=True)
    with ws.store.write():  # one transaction for the whole history
        for n in range(1, versions + 1):
            path = art / f"m-{n}.joblib"
            joblib.dump({"coef": rng.normal(size=(1, FEATURES)), "version": n}, path)
            registry.register_version(
                ws.store,
                "m",
                metrics={"f1": 0.8, "accuracy": 0.9},
                artifact_path=str(path),
                artifact_sha256=serving.sha256_of(path),
                snapshot_id=snap.id,
            )
    with ws.store.write():
        for n in profiled:
            registry.set_profile(ws.store, "m", n, profile(rng))
    return ws


def round_trip(ws: Workspace, version: int, cold: bool) -> float:
    """Seconds for request + approve of a version that is the candidate.

    Warm: a pipeline registered it (untimed, the pipeline's work), which compared
    the drift profiles and stored the gate. Cold: an operator made it the
    candidate by hand, so the promotion compares the profiles itself.
    """
    me = current_user()
    if cold:
        promotion.request_promotion(ws, "m", version, OPERATOR, "bench", alias="candidate")
    else:
        promotion.on_version_registered(ws, "m", version, "pipeline:bench", request=False)
    t0 = time.perf_counter()
    out = promotion.request_promotion(ws, "m", version, OPERATOR, "bench")
    assert out.request is not None
    done = promotion.approve(ws, out.request.id, me, "bench")
    elapsed = time.perf_counter() - t0
    assert done.to_version == version, done.message
    return elapsed


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        first = args.versions // 2
        ws = build(Path(tmp), args.versions, range(first, first + 2 * args.runs * args.rounds + 1))
        print(f"built a store with {args.versions} versions in {time.perf_counter() - t0:.1f}s")
        # Promote versions from the middle of the history so every round has a fresh candidate.
        next_version = first
        for cold in (False, True):
            label = (
                "cold (drift profiles compared in the promote)"
                if cold
                else "warm (drift gate stored at registration)"
            )
            medians, p95s = [], []
            for run in range(args.runs):
                times = []
                for _ in range(args.rounds):
                    times.append(round_trip(ws, next_version, cold))
                    next_version += 1
                medians.append(statistics.median(times) * 1000)
                p95s.append(p95(times) * 1000)
                print(
                    f"  {label} run {run + 1}: {args.rounds} round trips, median"
                    f" {medians[-1]:.1f} ms, p95 {p95s[-1]:.1f} ms"
                )
            worst = statistics.median(p95s)
            verdict = "meets" if worst <= 50 else "MISSES"
            print(
                f"promote + approve, {label}, {args.versions} versions: median"
                f" {statistics.median(medians):.1f} ms, p95 {worst:.1f} ms (median of {args.runs}"
                f" runs) — {verdict} the 50 ms p95 goal"
            )
        ws.close()


if __name__ == "__main__":
    main()
