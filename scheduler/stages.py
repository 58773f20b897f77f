"""What a stage is, and the built-in ones: ingest → validate → train → evaluate → register.

A stage is a function of a `StageContext`; a stage that cannot go on raises
`StageFailed` with the one line to store. BUILTINS lists the stages of a
tabular pipeline; `custom_stage` wraps a `[[pipelines.X.stages]]` entry's
`module:function`. Running them (threads, timeouts, retries, capture) is
`lookout.scheduler.pipeline`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lookout.scheduler import artifacts, drift, promotion, training, usercode
from lookout.scheduler.checks import engine as checks
from lookout.scheduler.frame import DataError, Frame
from lookout.scheduler.loading import load_dataset, resolve_callable
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks as checks_store
from lookout.storage import pipelines, registry
from lookout.storage.db import Store
from lookout.storage.records import Version


class StageFailed(Exception):
    """A stage's failure; the message is the one line stored and shown."""


@dataclass
class StageContext:
    """What a stage callable gets: the data so far, the run, a logger, a cancellation flag.

    `data` carries results between stages (`frame`, `snapshot`, `trained`,
    `split`, `metrics`, `version` for the built-in ones; a custom stage's
    return value is stored under its name). Put numbers in `metrics` to
    record them on the stage. Long work should look at `cancelled.is_set()`.
    """

    ws: Workspace
    pipeline: str
    run_id: int
    stage: str
    config: dict[str, Any]
    data: dict[str, Any]
    log: logging.Logger
    cancelled: threading.Event
    metrics: dict[str, Any] = field(default_factory=dict)


StageFn = Callable[[StageContext], Any]


@dataclass(frozen=True)
class Stage:
    name: str
    fn: StageFn
    timeout: float
    custom: bool


def _ingest(ctx: StageContext) -> None:
    dataset = ctx.config["dataset"]
    try:
        loaded = load_dataset(ctx.ws.config, dataset)
    except DataError as exc:
        raise StageFailed(str(exc)) from None
    frame = loaded.frame
    snap = checks_store.record_snapshot(
        ctx.ws.store,
        dataset,
        loaded.source,
        frame.rows,
        dict(frame.kinds),
        frame.fingerprint(),
        ctx.run_id,
    )
    ctx.data.update(frame=frame, snapshot=snap, loaded=loaded)
    ctx.metrics.update(rows=frame.rows, columns=len(frame.names), snapshot=snap.id)
    ctx.log.info("read %d rows × %d columns from %s", frame.rows, len(frame.names), loaded.source)
    if frame.rows == 0:
        raise StageFailed(f"dataset {dataset}: no rows in {loaded.source}")


def _validate(ctx: StageContext) -> None:
    loaded = ctx.data["loaded"]
    results = checks.run_checks(
        ctx.ws,
        ctx.config["dataset"],
        ctx.data["frame"],
        snapshot_id=ctx.data["snapshot"].id,
        run_id=ctx.run_id,
        modified_at=loaded.modified_at,
    )
    for outcome in ("pass", "warn", "fail", "error"):
        ctx.metrics[outcome] = sum(1 for r in results if r.result == outcome)
    for r in results:
        detail = f" ({r.observed})" if r.observed else ""
        ctx.log.info("check %s: %s%s %s", r.name, r.result, detail, r.message)
    stop = checks.blocking(results)
    if stop:
        named = ", ".join(f"{r.name} ({r.result})" for r in stop)
        raise StageFailed(f"blocking checks failed: {named}")


# Pipeline keys that say when, how often or how patiently a run happens, not what it trains.
_NOT_INPUTS = (
    "schedule",
    "triggers",
    "retries",
    "retry_backoff",
    "stage_timeout",
    "request_promotion",
)
_MODEL_INPUTS = ("task", "target", "features", "categorical", "primary_metric")


def inputs_sha256(ws: Workspace, pipeline: str, fingerprint: str) -> str:
    """What a version trained by this pipeline is a function of, hashed: the data's
    fingerprint, the pipeline's config (less when and how often it runs), what its model's
    config says about training, and the code (the workspace's git commit and the files in
    its code folder, where a `module:factory` estimator or a custom stage lives)."""
    cfg = ws.config
    p = cfg.pipelines[pipeline]
    model = cfg.models.get(p["model"] or "", {})
    dataset = cfg.datasets.get(p["dataset"] or "", {})
    inputs = {
        "fingerprint": fingerprint,
        "pipeline": {k: v for k, v in p.items() if k not in _NOT_INPUTS},
        "model": {k: model.get(k) for k in _MODEL_INPUTS},
        "timestamp_column": dataset.get("timestamp_column"),
        "code_version": code_version(ws),
        "code_folder": usercode.digest(cfg.code_path),
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _trained_before(ctx: StageContext) -> Version | None:
    """A version this model already has from the same inputs (None for a forced run, or when
    the version is this run's own, registered before it was interrupted)."""
    store = ctx.ws.store
    key = inputs_sha256(ctx.ws, ctx.pipeline, ctx.data["snapshot"].fingerprint)
    ctx.data["inputs_sha256"] = key
    run = pipelines.get_run(store, ctx.run_id)
    if run is None or run.forced:
        return None
    same = registry.trained_from(store, ctx.config["model"], key)
    if same is None or same.run_id in pipelines.retry_chain(store, ctx.run_id):
        return None
    return same


def _model_cfg(ctx: StageContext) -> dict[str, Any]:
    return dict(ctx.ws.config.models[ctx.config["model"]])


def _train(ctx: StageContext) -> None:
    model = ctx.config["model"]
    same = _trained_before(ctx)
    if same is not None:
        ctx.data["unchanged"] = same.version
        ctx.metrics["same_as_version"] = same.version
        ctx.log.info(
            "same data, pipeline config and code as %s v%d: nothing to train or register"
            " (lookout run --force trains anyway)",
            model,
            same.version,
        )
        return
    frame: Frame = ctx.data["frame"]
    ts = ctx.ws.config.datasets[ctx.config["dataset"]].get("timestamp_column")
    artifact = artifacts.run_artifact(ctx.ws, model, ctx.run_id)
    try:
        trained, sp = training.train(
            frame,
            model_cfg=_model_cfg(ctx),
            estimator_path=ctx.config["estimator"],
            params=dict(ctx.config["params"]),
            test_size=float(ctx.config["test_size"]),
            seed=int(ctx.config["seed"]),
            artifact=artifact,
            artifacts=ctx.ws.config.artifacts,
            exclude=(ts,) if ts else (),
            code=ctx.ws.config.code_path,
        )
    except training.TrainingError as exc:
        raise StageFailed(str(exc)) from None
    ctx.data.update(trained=trained, split=sp)
    ctx.metrics.update(
        train_rows=len(sp.train), test_rows=len(sp.test), features=len(trained.bundle["features"])
    )
    ctx.log.info("fitted %s on %d rows; saved %s", ctx.config["estimator"], len(sp.train), artifact)


def _evaluate(ctx: StageContext) -> None:
    trained: training.Trained = ctx.data["trained"]
    sp: training.Split = ctx.data["split"]
    frame: Frame = ctx.data["frame"]
    try:
        scores = training.metrics(trained.bundle, frame, sp.test)
    except training.TrainingError as exc:
        raise StageFailed(str(exc)) from None
    ctx.data["metrics"] = scores
    ctx.metrics.update(scores)
    ctx.log.info("candidate: %s", _fmt(scores))
    model = ctx.config["model"]
    production = registry.aliases(ctx.ws.store, model).get("production")
    version = registry.get_version(ctx.ws.store, model, production) if production else None
    if version is None or not version.artifact_path:
        return
    try:
        bundle = training.load_version(ctx.ws, version)
        baseline = training.metrics(bundle, frame, sp.test)
    except (training.TrainingError, KeyError) as exc:
        ctx.log.warning("production version %d cannot be scored: %s", version.version, exc)
        return
    ctx.data["baseline"] = {"version": version.version, "metrics": baseline}
    ctx.metrics["production_version"] = version.version
    ctx.metrics.update({f"production_{k}": v for k, v in baseline.items()})
    ctx.log.info("production v%d on the same rows: %s", version.version, _fmt(baseline))


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in scores.items())


def _register(ctx: StageContext) -> None:
    store = ctx.ws.store
    model = ctx.config["model"]
    earlier = pipelines.registered_version(store, pipelines.retry_chain(store, ctx.run_id))
    if earlier is not None:
        ctx.data["version"] = earlier[1]
        ctx.metrics["version"] = earlier[1]
        ctx.log.info("version %d was already registered by this run's first attempt", earlier[1])
        return
    mcfg = _model_cfg(ctx)
    trained: training.Trained = ctx.data["trained"]
    sp: training.Split = ctx.data["split"]
    features = trained.bundle["features"]
    categorical = [c for c in mcfg.get("categorical") or [] if c in features]
    try:  # what the model predicts on rows it was not fitted on: prediction drift's reference
        held_out = training.predict(trained.bundle, ctx.data["frame"], sp.test)
    except training.TrainingError as exc:
        ctx.log.warning("no reference for prediction drift: %s", exc)
        held_out = None
    profile = drift.build_profile(
        ctx.data["frame"].take(sp.train),
        features,
        categorical,
        target=mcfg["target"],
        predictions=held_out,
    )
    snap = ctx.data["snapshot"]
    lineage = {
        "pipeline": ctx.pipeline,
        "run_id": ctx.run_id,
        "dataset": ctx.config["dataset"],
        "snapshot_id": snap.id,
        "fingerprint": snap.fingerprint,
        "code_version": code_version(ctx.ws),
        "inputs_sha256": ctx.data.get("inputs_sha256"),
        "estimator": ctx.config["estimator"],
        "seed": ctx.config["seed"],
        "test_size": ctx.config["test_size"],
        "train_rows": len(sp.train),
        "test_rows": len(sp.test),
    }
    if "baseline" in ctx.data:
        lineage["baseline"] = ctx.data["baseline"]
    registry.ensure_model(store, model, mcfg["task"], mcfg["primary_metric"], "local")
    version = registry.register_version(
        store,
        model,
        metrics=ctx.data["metrics"],
        params={"estimator": ctx.config["estimator"], **ctx.config["params"]},
        lineage=lineage,
        artifact_path=str(trained.path),
        artifact_sha256=trained.sha256,
        snapshot_id=snap.id,
        run_id=ctx.run_id,
        profile=profile,
    )
    ctx.data["version"] = version.version
    ctx.metrics["version"] = version.version
    ctx.log.info("registered %s version %d", model, version.version)
    try:
        req = promotion.on_version_registered(
            ctx.ws,
            model,
            version.version,
            requested_by=requester(store, ctx.run_id, ctx.pipeline),
            request=bool(ctx.config["request_promotion"]),
        )
    except Exception as exc:  # the version stands; the promotion can be requested by hand
        ctx.log.warning("promotion request failed: %s: %s", type(exc).__name__, exc)
        return
    if req is not None:
        ctx.metrics["promotion_request"] = req.id
        ctx.log.info("promotion request %d opened", req.id)


# Triggers a person pulls (`lookout run`, the console's run and retry keys): the
# promotion request their run opens is theirs, so four-eyes keeps them from approving it.
PERSON_TRIGGERS = ("manual", "retry")


def requester(store: Store, run_id: int, pipeline: str) -> str:
    """Who a request opened by this run counts as: the person who started the run, or,
    for a schedule, a file or drift, the pipeline's service identity `pipeline:NAME`."""
    run = pipelines.get_run(store, run_id)
    if run is not None and run.trigger in PERSON_TRIGGERS and run.triggered_by:
        return run.triggered_by
    return f"pipeline:{pipeline}"


# The stages of a tabular pipeline, in the order they run.
BUILTINS: dict[str, StageFn] = {
    "ingest": _ingest,
    "validate": _validate,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
}


def custom_stage(spec: str) -> StageFn:
    """A `[[pipelines.X.stages]]` entry's `module:function` as a stage (loaded from the
    workspace's code folder, `lookout.scheduler.usercode`); a dict it returns adds its
    numbers to the stage's metrics, and its value is kept under the stage's name."""

    def call(ctx: StageContext) -> Any:
        try:
            fn = resolve_callable(ctx.ws.config, spec)
        except DataError as exc:
            raise StageFailed(str(exc)) from None
        if not callable(fn):
            raise StageFailed(f"{spec}: is not callable")
        result = fn(ctx)
        if isinstance(result, dict):
            ctx.metrics.update(
                {k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}
            )
        ctx.data[ctx.stage] = result
        return result

    return call


def code_version(ws: Workspace) -> str | None:
    """The git commit of the workspace, when it is in a repository (asked at every register)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ws.root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
