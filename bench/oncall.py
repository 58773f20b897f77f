"""On-call benchmark (issue 19): scrape, search and the hand-off report on a big workspace.

One workspace holds 30 days of history: ~1M check results (120 checks every
5 minutes, 3 % failing), 2,000 pipeline runs whose 10,000 stage logs hold 1M
log lines, drift every 15 minutes for three models (one with 200 features),
events, promotions and rollbacks. Goals:

- a Prometheus scrape (`lookout metrics`' text) ≤ 100 ms;
- search over the 1M indexed log lines (plus events, checks, audit): p95 ≤ 50 ms;
- the hand-off report over the 30 days, as HTML, ≤ 1 s.

Peers measured in the same run: the scrape against prometheus_client serializing the
same series from memory (the floor); search against the LIKE scan a store without an
index would need; the report against `lookout status`' one-shot summary.
Prints medians (and p95 for search).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lookout.console.commands import status
from lookout.scheduler import metrics, report, report_html
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, checks, drift, events, pipelines, registry, search
from lookout.storage.records import CheckResult, FeatureDrift, Run, StageRun
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

DAY = 86400.0
DAYS = 30
CHECK_EVERY = 300.0
DATASETS = 20
CHECKS_PER_DATASET = 6
RUNS = 2000
STAGES = ("load", "validate", "train", "evaluate", "register")
LINES_PER_STAGE = 100
DRIFT_EVERY = 900.0
WORDS = [
    "loading",
    "batch",
    "rows",
    "from",
    "partition",
    "shard",
    "reading",
    "writing",
    "parquet",
    "csv",
    "columns",
    "schema",
    "epoch",
    "step",
    "loss",
    "accuracy",
    "learning",
    "rate",
    "gradient",
    "checkpoint",
    "saved",
    "validation",
    "metric",
    "feature",
    "encoder",
    "scaler",
    "fitted",
    "transformed",
    "predictions",
    "cache",
    "hit",
    "miss",
    "retry",
    "backoff",
    "connection",
    "worker",
    "queue",
    "memory",
    "usage",
    "gpu",
    "cpu",
    "seconds",
    "elapsed",
    "finished",
    "started",
]
RARE = ("OOMKilled", "ECONNRESET", "segfault", "deadlock", "quota", "corrupt")
QUERIES = (
    "OOMKilled",
    "ECONNRESET worker",
    "deadlock",
    "quota exceeded",
    "corrupt parquet",
    "segfault",
    "checkpoint saved",
    "gradient",
    "retry backoff",
    "shard-17",
    "loss",
    "validation metric",
    "feat*",
    '"learning rate"',
    "amount_range",
    "kernelpanic",
)

CONFIG = """
[workspace]
name = "bench"
[metrics]
max_features = 25
[models.wide]
task = "classification"
target = "y"
[models.narrow]
task = "classification"
target = "y"
[models.third]
task = "classification"
target = "y"
"""


def log_text(rnd: random.Random, run: int, stage: str) -> str:
    lines = []
    for i in range(LINES_PER_STAGE):
        words = rnd.choices(WORDS, k=8)
        if rnd.random() < 0.002:
            words.append(rnd.choice(RARE))
        lines.append(f"{stage} {i:03d} shard-{rnd.randrange(64)} " + " ".join(words))
    if rnd.random() < 0.001:  # a needle in about ten of the 10,000 logs
        lines[-1] += " kernelpanic"
    return "\n".join(lines)


def build(root: Path, t0: float) -> Workspace:
    root.mkdir(parents=True)
    (root / "lookout.toml").write_text(CONFIG)
    ws = open_workspace(root)
    store = ws.store
    rnd = random.Random(19)
    names = [
        (f"ds{d:02d}", f"check_{c}") for d in range(DATASETS) for c in range(CHECKS_PER_DATASET)
    ]

    def results():
        t = t0
        while t < t0 + DAYS * DAY:
            for dataset, name in names:
                bad = rnd.random() < 0.03
                yield CheckResult(
                    dataset,
                    name,
                    "range",
                    "fail",
                    "fail" if bad else "pass",
                    observed=f"{rnd.random():.3f}",
                    threshold="≤ 0.5",
                    rows_examined=10_000,
                    failing_rows=rnd.randrange(1, 50) if bad else 0,
                    examples=(f"row {rnd.randrange(10_000)}: amount={-rnd.random():.2f}",)
                    if bad
                    else (),
                    message="amount_range outside [0, 1000]" if bad else "",
                    at=t,
                )
            t += CHECK_EVERY

    started = time.perf_counter()
    n_checks = checks.insert_history(store, results())
    checks.record_results(
        store,
        [
            CheckResult(d, n, "range", "fail", "fail" if i % 17 == 0 else "pass")
            for i, (d, n) in enumerate(names)
        ],
    )
    check_s = time.perf_counter() - started

    def runs():
        step = DAYS * DAY / RUNS
        for i in range(RUNS):
            start = t0 + i * step
            failed = rnd.random() < 0.08
            stages = []
            t = start
            for pos, name in enumerate(STAGES):
                took = rnd.uniform(1, 120) * (5 if name == "train" else 1)
                status_ = "failed" if failed and name == "train" else "succeeded"
                if failed and pos > STAGES.index("train"):
                    status_ = "skipped"
                stages.append(
                    StageRun(
                        0, 0, pos, name, status_, t, t + took, log_text(rnd, i, name), {}, None
                    )
                )
                t += took
            yield Run(
                0,
                f"pipe{i % 5}",
                "failed" if failed else "succeeded",
                "schedule",
                "scheduler",
                1,
                start,
                start,
                t,
                "stage train: CUDA out of memory" if failed else None,
                False,
                None,
                tuple(stages),
            )

    started = time.perf_counter()
    pipelines.insert_history(store, runs())
    log_s = time.perf_counter() - started

    with store.write() as conn:
        t = t0
        k = 0
        while t < t0 + DAYS * DAY:
            for model, width in (("wide", 200), ("narrow", 20), ("third", 20)):
                if model == "wide" and k % 4:
                    continue
                feats = [
                    FeatureDrift(f"f{j:03d}", "psi", rnd.random() * 0.4, 0.2, "ok")
                    for j in range(width)
                ]
                share = sum(f.score > 0.2 for f in feats if f.score is not None) / width
                result = drift.record_result(
                    conn, model, 1, "drift" if share > 0.5 else "ok", share, 5000, {}, feats
                )
                conn.execute("UPDATE drift_results SET at = ? WHERE id = ?", (t, result.id))
            t += DRIFT_EVERY
            k += 1
        for day in range(DAYS):
            at = t0 + day * DAY
            events.raise_event(
                conn, "drift", "narrow", f"narrow drifted on day {day}", "warn", at=at
            )
            audit.append(
                conn, "alice", "promote", "narrow", f"day {day}: retrained on fresh data", at=at
            )
    for model in ("wide", "narrow", "third"):
        registry.ensure_model(store, model, "classification", "f1")
        for _ in range(3):
            registry.register_version(store, model, metrics={"f1": rnd.random()})
        with store.write() as conn:
            registry.move_alias(
                conn, model, "production", 2, kind="promotion", actor="alice", reason="better"
            )
            registry.move_alias(
                conn, model, "production", 1, kind="rollback", actor="bob", reason="worse live"
            )
    print(
        f"built: {n_checks:,} check results in {check_s:.0f} s ({n_checks / check_s:,.0f}/s with"
        f" search triggers), {RUNS * len(STAGES) * LINES_PER_STAGE:,} log lines in {log_s:.0f} s"
        f" ({RUNS * len(STAGES) * LINES_PER_STAGE / log_s:,.0f} lines/s indexed); index: "
        + ", ".join(f"{k} {v:,}" for k, v in search.indexed(store).items())
    )
    return ws


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lookout-bench-oncall-") as tmp:
        t0 = time.time() - DAYS * DAY
        ws = build(Path(tmp) / "ws", t0)
        try:
            # -- scrape ---------------------------------------------------------------
            text = metrics.render(ws).decode()
            series = sum(len(f.samples) for f in text_string_to_metric_families(text))
            scrape = timed(lambda: metrics.render(ws), args.runs)
            static = CollectorRegistry()
            families = list(text_string_to_metric_families(text))

            class Static:
                def collect(self):
                    return families

            static.register(Static())  # type: ignore[arg-type]
            floor = timed(lambda: generate_latest(static), args.runs)
            print(
                f"scrape: median {ms(statistics.median(scrape))} for {series:,} series"
                f" (goal ≤ 100 ms); prometheus_client serializing them from memory:"
                f" {ms(statistics.median(floor))}"
            )

            # -- search -----------------------------------------------------------------
            times = []
            for _ in range(args.runs):
                for q in QUERIES:
                    t = time.perf_counter()
                    search.search(ws.store, q)
                    times.append(time.perf_counter() - t)
            needle = timed(lambda: search.search(ws.store, "kernelpanic"), args.runs)
            like = timed(
                lambda: ws.store.conn.execute(
                    "SELECT run_id FROM stage_runs WHERE log_tail LIKE '%kernelpanic%'"
                    " ORDER BY id DESC LIMIT 50"
                ).fetchall(),
                3,
            )
            print(
                f"search: p95 {ms(p95(times))}, median {ms(statistics.median(times))} over"
                f" {len(times)} queries of {len(QUERIES)} kinds (goal p95 ≤ 50 ms); one rare"
                f" word: {ms(statistics.median(needle))}, the same by a LIKE scan of the logs:"
                f" {ms(statistics.median(like))}"
            )

            # -- report -------------------------------------------------------------------
            since = t0
            rep = timed(lambda: report_html.render(report.build(ws, since)), max(3, args.runs // 3))
            built = report.build(ws, since)
            summary = timed(lambda: status.collect(ws), max(3, args.runs // 3))
            print(
                f"report: 30 days as HTML median {ms(statistics.median(rep))} (goal ≤ 1 s;"
                f" {sum(r.failures for r in built.runs)} failed runs, {len(built.checks)} checks,"
                f" {len(built.drift)} drift episodes, {len(built.changes)} changes);"
                f" `lookout status` summary: {ms(statistics.median(summary))}"
            )
        finally:
            ws.close()


if __name__ == "__main__":
    main()
