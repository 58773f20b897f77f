"""A realistic, deterministic workspace: what `lookout screenshots` and the snapshot tests show.

Everything is written through the storage functions the scheduler uses, with
the store's clock pinned (`frozen_clock`) so every time shown on screen is the
same on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from lookout.scheduler import config, signing
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, checks, db, drift, events, pipelines, registry, scheduling
from lookout.storage.db import Store
from lookout.storage.records import CheckResult, FeatureDrift, Gate

# 2026-03-02 09:00:00 UTC: the seeded "now".
NOW = 1772442000.0

CONFIG = """
[workspace]
name = "acme-ml"

[policy]
approvals_required = 1

[policy.roles]
admin = ["{user}"]

[datasets.customers]
source = "lookout.scheduler.examples:breast_cancer"

[datasets.transactions]
source = "lookout.scheduler.examples:wine"

[datasets.sales]
source = "lookout.scheduler.examples:diabetes"

[models.churn]
task = "classification"
target = "target"
primary_metric = "f1"

[models.fraud]
task = "classification"
target = "target"
primary_metric = "roc_auc"

[models.demand]
task = "regression"
target = "target"
primary_metric = "rmse"

[pipelines.churn-train]
dataset = "customers"
model = "churn"
estimator = "sklearn.linear_model:LogisticRegression"
schedule = "30m"

[pipelines.fraud-train]
dataset = "transactions"
model = "fraud"
estimator = "sklearn.ensemble:RandomForestClassifier"
schedule = "1h"

[pipelines.demand-train]
dataset = "sales"
model = "demand"
estimator = "sklearn.linear_model:Ridge"
schedule = "2h"
"""

# every storage module that stamps rows with `now()`
STAMPING = (db, pipelines, checks, registry, drift, events, audit, scheduling)
STAGES = ["load", "validate", "train", "evaluate", "register"]


class Clock:
    """A settable clock standing in for `lookout.storage.db.now` while seeding."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextlib.contextmanager
def frozen_clock(clock: Clock) -> Iterator[Clock]:
    """Point every storage module's `now` at `clock` for the duration."""
    saved = []
    for module in STAMPING:
        saved.append((module, module.now))
        module.now = clock  # type: ignore[attr-defined]
    try:
        yield clock
    finally:
        for module, original in saved:
            module.now = original  # type: ignore[attr-defined]


def _run(
    ws: Workspace,
    clock: Clock,
    pipeline: str,
    start: float,
    outcomes: list[tuple[str, float]],
    log: str = "",
    trigger: str = "schedule",
) -> int:
    """A run whose stages end as `outcomes` (status, seconds); missing ones stay pending."""
    store = ws.store
    clock.t = start
    run = pipelines.create_run(store, pipeline, STAGES, trigger, "scheduler", status="running")
    final = "succeeded"
    for name, (status, seconds) in zip(STAGES, outcomes, strict=False):
        pipelines.start_stage(store, run.id, name)
        if status == "running":
            final = "running"
            break
        clock.t += seconds
        text = (
            f"{name}: {log or 'ok'}\n" if status == "failed" else f"{name}: done in {seconds:g}s\n"
        )
        pipelines.finish_stage(
            store,
            run.id,
            name,
            status,
            log_tail=f"starting {name}\n{text}",
            metrics={"rows": 569} if name == "load" else {},
            error=log or None if status == "failed" else None,
        )
        if status == "failed":
            final = "failed"
            pipelines.skip_pending_stages(store, run.id)
            break
    if final != "running":
        pipelines.set_run_status(store, run.id, final, error=log or None)
    if final == "failed":
        events.record(
            store, "run_failed", pipeline, f"run {run.id} of {pipeline} failed: {log}", "error"
        )
    return run.id


def _check(
    dataset: str,
    name: str,
    result: str,
    observed: str,
    threshold: str,
    *,
    severity: str = "fail",
    kind: str = "range",
    failing: int = 0,
    examples: tuple[str, ...] = (),
    message: str = "",
) -> CheckResult:
    return CheckResult(
        dataset=dataset,
        name=name,
        kind=kind,
        severity=severity,
        result=result,
        observed=observed,
        threshold=threshold,
        rows_examined=569,
        failing_rows=failing,
        examples=examples,
        message=message,
    )


def _features(level: str, scores: dict[str, float]) -> list[FeatureDrift]:
    out = []
    for name, score in scores.items():
        lvl = "drift" if score >= 0.2 else "warn" if score >= 0.1 else "ok"
        out.append(FeatureDrift(name, "psi", round(score, 3), 0.2, lvl, warn_threshold=0.1))
    return out


def seed(root: Path, user: str, names: dict[str, str] | None = None) -> Workspace:
    """Write the config and fill the store; `names` renames models (hostile-string tests)."""
    names = names or {}
    root.mkdir(parents=True, exist_ok=True)
    (root / "lookout.toml").write_text(CONFIG.replace("{user}", user))
    # A fixed key, so that the scenes' signatures, and the hashes that chain them, are
    # the same on every run.
    signing.ensure_key(config.load(root), seed=hashlib.sha256(b"lookout showcase").digest())
    ws = open_workspace(root)
    store = ws.store
    churn = names.get("churn", "churn")
    with frozen_clock(Clock(NOW - 86400)) as clock:
        # pipelines and their runs
        for name, every in (("churn-train", 1800), ("fraud-train", 3600), ("demand-train", 7200)):
            pipelines.upsert_pipeline(
                store, name, "tabular", name.split("-")[0], None, {"schedule": every}, NOW + 900
            )
        for i in range(3):
            _run(ws, clock, "churn-train", NOW - 7200 + i * 1800, [("succeeded", 2 + i)] * 5)
        _run(
            ws,
            clock,
            "churn-train",
            NOW - 300,
            [("succeeded", 3.1), ("succeeded", 1.4), ("running", 0)],
            trigger="manual",
        )
        _run(ws, clock, "fraud-train", NOW - 5400, [("succeeded", 4)] * 5)
        _run(
            ws,
            clock,
            "fraud-train",
            NOW - 1800,
            [("succeeded", 5.2), ("failed", 0.8)],
            log=names.get("log", "3 blocking checks failed on transactions"),
        )
        _run(ws, clock, "demand-train", NOW - 3600, [("succeeded", 1.5)] * 5)

        # data checks: history, then a latest result each (failing ones open events; a
        # check that passes again resolves its event, as sales.units_positive does)
        clock.t = NOW - 4200
        checks.record_results(
            store,
            [_check("sales", "units_positive", "fail", "3 rows", "0", failing=3)],
        )
        clock.t = NOW - 3000
        checks.record_results(
            store,
            [
                _check("customers", "age_range", "pass", "0.0%", "≤ 1%"),
                _check("transactions", "amount_not_null", "pass", "0 nulls", "0"),
            ],
        )
        clock.t = NOW - 1820
        checks.record_results(
            store,
            [
                _check("customers", "age_range", "pass", "0.2%", "≤ 1%"),
                _check("customers", "schema", "pass", "30 columns", "30 columns", kind="schema"),
                _check(
                    "customers",
                    "tenure_mean",
                    "warn",
                    "41.7",
                    "30 – 40",
                    severity="warn",
                    kind="mean",
                ),
                _check(
                    "transactions",
                    "amount_not_null",
                    "fail",
                    "17 nulls",
                    "0",
                    kind="not_null",
                    failing=17,
                    examples=("row 12: amount=null", "row 40: amount=null", "row 77: amount=null"),
                ),
                _check(
                    "transactions",
                    "amount_range",
                    "fail",
                    "3.4%",
                    "≤ 0.5%",
                    failing=6,
                    examples=("row 3: amount=-12.5", "row 9: amount=99999"),
                ),
                _check(
                    "transactions",
                    "freshness",
                    "error",
                    "-",
                    "≤ 1h",
                    kind="freshness",
                    message="column 'ts' not found",
                ),
                _check("sales", "units_positive", "pass", "0 rows", "0"),
                _check("sales", "row_count", "pass", "442", "≥ 400", kind="rows"),
            ],
        )

        # models, versions, aliases, a pending request
        specs = (
            (churn, "classification", "f1", [0.781, 0.802, 0.815, 0.829]),
            ("fraud", "classification", "roc_auc", [0.912, 0.934]),
            ("demand", "regression", "rmse", [54.1, 51.8, 53.0]),
        )
        for n, (model, task, metric, values) in enumerate(specs):
            registry.ensure_model(store, model, task, metric)
            for i, value in enumerate(values, start=1):
                clock.t = NOW - 86400 + i * 14400
                registry.register_version(
                    store,
                    model,
                    metrics={metric: value, "accuracy": round(0.8 + i * 0.01, 3)},
                    params={"C": 1.0 / i, "max_iter": 200 * i},
                    lineage={"dataset": "customers", "snapshot": f"sha:{i:04d}ab", "run": i},
                    tags={"owner": names.get("tag", "risk-team")},
                    artifact_path=f"artifacts/model{n}-v{i}.bin",
                    artifact_sha256=_artifact(root / "artifacts" / f"model{n}-v{i}.bin"),
                    profile=_profile(),
                )
        with store.write() as conn:
            clock.t = NOW - 20000
            for model, prod in ((churn, 3), ("fraud", 2), ("demand", 2)):
                registry.move_alias(conn, model, "production", prod, kind="promotion", actor=user)
                audit.append(conn, user, "promote", f"{model}:{prod}", "initial release")
            registry.move_alias(conn, churn, "candidate", 4, kind="register", actor="scheduler")
            registry.move_alias(conn, "demand", "candidate", 3, kind="register", actor="scheduler")
            clock.t = NOW - 600
            gates = [
                Gate("checks", True, "all blocking checks pass on customers"),
                Gate("metric", True, "f1 0.829 ≥ production 0.815"),
                Gate("drift", False, "production shows drift on 2 of 5 features"),
            ]
            req = registry.create_request(
                conn, churn, 4, "production", "scheduler", "retrained on fresh data", gates, 1
            )
            audit.append(conn, "scheduler", "request", f"{churn}:4", req.reason)
            events.raise_event(
                conn,
                "approval_pending",
                churn,
                f"promotion of {churn} v4 to production awaits approval",
                "warn",
                dedup_key=f"approval:{req.id}",  # as promotion.py keys it: deciding resolves it
            )

        # drift: history per model, newest last
        for model, series in (
            (churn, [0.0, 0.0, 0.2, 0.2, 0.2, 0.4, 0.4, 0.4]),
            ("fraud", [0.0] * 8),
            ("demand", [0.0, 0.0, 0.0, 0.2, 0.2, 0.2, 0.2, 0.2]),
        ):
            for i, share in enumerate(series):
                clock.t = NOW - (len(series) - i) * 600
                score = share * 0.6 + 0.005 * i
                feats = _features(
                    "",
                    {
                        "tenure": round(score * 1.6, 3),
                        "monthly_charges": round(score * 1.1, 3),
                        "age": round(score * 0.5, 3),
                        "contract": 0.03,
                        "region": 0.01,
                    },
                )
                drifted = sum(f.level == "drift" for f in feats)
                level = "drift" if drifted / 5 >= 0.4 else "warn" if drifted else "ok"
                with store.write() as conn:
                    drift.record_result(
                        conn,
                        model,
                        3,
                        level,
                        drifted / 5,
                        5000,
                        {"rows": 5000, "from": NOW - 3600, "to": clock.t},
                        feats,
                    )
                    if level == "drift":
                        events.raise_event(
                            conn,
                            "drift",
                            model,
                            f"{model}: {drifted} of 5 features drifted",
                            "warn",
                            dedup_key=f"drift:{model}",
                        )
        _log_inputs(store, churn)

        # a promotion and a rollback on the record, then one acknowledged event
        clock.t = NOW - 5000
        with store.write() as conn:
            registry.move_alias(conn, "demand", "production", 3, kind="promotion", actor=user)
            audit.append(conn, user, "promote", "demand:3", "better rmse on holdout")
            events.raise_event(conn, "promotion", "demand", "demand v3 promoted to production")
        clock.t = NOW - 4000
        with store.write() as conn:
            registry.move_alias(conn, "demand", "production", 2, kind="rollback", actor=user)
            audit.append(conn, user, "rollback", "demand:2", "v3 overpredicts weekends")
            events.raise_event(conn, "rollback", "demand", "demand rolled back to v2", "warn")
        clock.t = NOW - 3500
        first = events.list_events(store, limit=1000, unacknowledged_first=False)[-1]
        events.acknowledge(store, first.id, user, "known, fixed upstream")
    return ws


def _artifact(path: Path) -> str:
    """A small stand-in model file; returns its sha256 (what serving verifies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = f"model artifact {path.name}\n".encode()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _profile() -> dict[str, object]:
    """The drift engine's reference profile of a fixed training sample."""
    import numpy as np
    from lookout.scheduler.drift import build_profile
    from lookout.scheduler.frame import frame_from_columns

    rng = np.random.default_rng(3)
    frame = frame_from_columns(
        {
            "tenure": np.clip(rng.normal(30, 14, 569), 0, 71.9),
            "monthly_charges": np.clip(rng.normal(65, 20, 569), 0, 119.9),
        }
    )
    return build_profile(frame, ["tenure", "monthly_charges"])


def _log_inputs(store: Store, model: str) -> None:
    """A window of current inputs, skewed to the right (what drift measured)."""
    import numpy as np

    rng = np.random.default_rng(7)
    tenure = np.clip(rng.normal(44, 14, 2000), 0, 71.9)
    charges = np.clip(rng.normal(75, 20, 2000), 0, 119.9)
    drift.append_batch(store, model, {"tenure": tenure, "monthly_charges": charges})
