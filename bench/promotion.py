"""Promotion benchmark: request + approve round trip on a store with 10k versions.

Goal (issue 6): p95 ≤ 50 ms for `request_promotion` (gates evaluated against
production: checks on the training snapshot, metric, drift of two 30-feature
profiles) followed by the `approve` that moves production, verifies the
artifact's sha256 and switches the serving pointer, with audit and events.

    .venv/bin/python bench/promotion.py [--versions N] [--rounds N] [--runs N]
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

from scheduler import promotion, serving
from storage import checks, registry
from storage.identity import current_user
from storage.records import CheckResult
from storage.workspace import Workspace, open_workspace

FEATURES = 30
OPERATOR = "bench-operator"


def profile(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "rows": 10_000,
        "features": {
            f"f{i}": {"mean": float(rng.normal(0, 0.1)), "std": 1.0} for i in range(FEATURES)
        },
    }


def build(root: Path, versions: int) -> Workspace:
    """A workspace whose model already has `versions` versions, each with a real artifact."""
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
                profile=profile(rng),
            )
    return ws


def round_trip(ws: Workspace, version: int) -> float:
    """Seconds for request + approve of a version that is already the candidate."""
    me = current_user()
    t0 = time.perf_counter()
    out = promotion.request_promotion(ws, "m", version, OPERATOR, "bench")
    assert out.request is not None
    done = promotion.approve(ws, out.request.id, me, "bench")
    elapsed = time.perf_counter() - t0
    assert done.to_version == version, done.message
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ws = build(Path(tmp), args.versions)
        print(f"built a store with {args.versions} versions in {time.perf_counter() - t0:.1f}s")
        # Promote versions from the middle of the history so every run has fresh candidates.
        next_version = args.versions // 2
        medians, p95s = [], []
        for run in range(args.runs):
            times = []
            for _ in range(args.rounds):
                promotion.on_version_registered(
                    ws, "m", next_version, "pipeline:bench", request=False
                )
                times.append(round_trip(ws, next_version))
                next_version += 1
            times.sort()
            med = statistics.median(times) * 1000
            p95 = times[max(0, int(round(0.95 * len(times))) - 1)] * 1000
            medians.append(med)
            p95s.append(p95)
            print(
                f"run {run + 1}: {args.rounds} round trips, median {med:.1f} ms, p95 {p95:.1f} ms"
            )
        p95 = statistics.median(p95s)
        verdict = "meets" if p95 <= 50 else "MISSES"
        print(
            f"promote + approve on {args.versions} versions: median {statistics.median(medians):.1f} ms,"
            f" p95 {p95:.1f} ms (median of {args.runs} runs) — {verdict} the 50 ms p95 goal"
        )
        ws.close()


if __name__ == "__main__":
    main()
