"""Record pipeline work done outside Lookout's scheduler: an Airflow task, a notebook, a CI job.

Standard library only, so any Python process that can import `storage` can
report to a workspace. Everything it records shows up in the console and in
`lookout status` like the scheduler's own runs::

    from lookout.scheduler import sdk

    store = sdk.open_store("/srv/lookout")        # a workspace directory or a lookout.db
    with sdk.record_run(store, "nightly_churn", trigger="airflow") as run:
        with run.stage("extract") as stage:
            stage.log("read 10000 rows")
            stage.metrics["rows"] = 10000
        sdk.record_checks(store, "orders", [{"name": "no_nulls", "result": "pass"}], run.id)
        with run.stage("train"):
            ...
        sdk.register_version(store, "churn", metrics={"roc_auc": 0.91}, run_id=run.id)

An exception inside `stage()` marks that stage and the run failed (the error
goes on the timeline) and propagates. The plain functions (`start_run`,
`start_stage`, `finish_stage`, `finish_run`) do the same step by step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lookout.scheduler import config as config_mod
from lookout.storage import checks as checks_store
from lookout.storage import drift as drift_store
from lookout.storage import pipelines, registry
from lookout.storage.db import Store
from lookout.storage.identity import current_user
from lookout.storage.records import CHECK_RESULTS, CheckResult, Run, Version


def open_store(path: str | os.PathLike[str]) -> Store:
    """A workspace directory (its lookout.toml names the store) or a store file."""
    p = Path(path).expanduser()
    if p.is_dir():
        return Store(config_mod.load(p).database)
    return Store(p)


def start_run(
    store: Store,
    pipeline: str,
    stages: Sequence[str] = (),
    trigger: str = "external",
    triggered_by: str | None = None,
) -> int:
    """Open a `running` run (with these stages `pending`); returns its id."""
    if pipelines.get_pipeline(store, pipeline) is None:
        pipelines.upsert_pipeline(store, pipeline, "external", None, None, {})
    run = pipelines.create_run(
        store, pipeline, list(stages), trigger, triggered_by or current_user(), status="running"
    )
    return run.id


def start_stage(store: Store, run_id: int, name: str) -> None:
    """Mark a stage `running`, adding it to the run if it was not declared."""
    pipelines.add_stage(store, run_id, name)
    pipelines.start_stage(store, run_id, name)


def finish_stage(
    store: Store,
    run_id: int,
    name: str,
    status: str = "succeeded",
    log: str = "",
    metrics: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record a stage's outcome (`succeeded`, `failed` or `skipped`), its log tail and metrics."""
    if status not in ("succeeded", "failed", "skipped"):
        raise ValueError(f"stage status must be succeeded, failed or skipped, not {status!r}")
    pipelines.add_stage(store, run_id, name)
    pipelines.finish_stage(store, run_id, name, status, log, dict(metrics or {}), error)


def finish_run(
    store: Store, run_id: int, status: str = "succeeded", error: str | None = None
) -> Run:
    """Close a run (`succeeded`, `failed` or `cancelled`); a failure goes on the timeline."""
    if status not in ("succeeded", "failed", "cancelled"):
        raise ValueError(f"run status must be succeeded, failed or cancelled, not {status!r}")
    pipelines.finish_run(store, run_id, status, error)
    run = pipelines.get_run(store, run_id)
    assert run is not None
    return run


def record_checks(
    store: Store,
    dataset: str,
    results: Sequence[Mapping[str, Any] | CheckResult],
    run_id: int | None = None,
) -> list[CheckResult]:
    """Store check results: each a CheckResult or a dict with at least `name` and `result`.

    Dict keys: name, result (pass|warn|fail|error), severity (warn|fail, default fail),
    kind, observed, threshold, message, rows_examined, failing_rows.
    """
    out: list[CheckResult] = []
    for item in results:
        if isinstance(item, CheckResult):
            out.append(item if run_id is None else _with_run(item, run_id))
            continue
        result = str(item["result"])
        if result not in CHECK_RESULTS:
            raise ValueError(f"check result must be one of {', '.join(CHECK_RESULTS)}")
        severity = str(item.get("severity", "fail"))
        if severity not in ("warn", "fail"):
            raise ValueError("check severity must be warn or fail")
        out.append(
            CheckResult(
                dataset=dataset,
                name=str(item["name"]),
                kind=str(item.get("kind", "external")),
                severity=severity,
                result=result,
                observed=None if item.get("observed") is None else str(item["observed"]),
                threshold=None if item.get("threshold") is None else str(item["threshold"]),
                rows_examined=int(item.get("rows_examined", 0)),
                failing_rows=int(item.get("failing_rows", 0)),
                message=str(item.get("message", "")),
                run_id=run_id,
            )
        )
    return checks_store.record_results(store, out)


def _with_run(result: CheckResult, run_id: int) -> CheckResult:
    return replace(result, run_id=run_id)


def register_version(
    store: Store,
    model: str,
    *,
    task: str = "classification",
    primary_metric: str = "",
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    lineage: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    artifact_path: str | os.PathLike[str] | None = None,
    run_id: int | None = None,
) -> Version:
    """Add the model's next version; an artifact file's sha256 is computed here."""
    if registry.get_model(store, model) is None:
        registry.ensure_model(store, model, task, primary_metric)
    sha = None
    path = None
    if artifact_path is not None:
        path = str(Path(artifact_path).expanduser().resolve())
        sha = file_sha256(path)
    return registry.register_version(
        store,
        model,
        metrics={k: float(v) for k, v in (metrics or {}).items()},
        params=dict(params or {}),
        lineage={**(lineage or {}), **({"run_id": run_id} if run_id is not None else {})},
        tags=dict(tags or {}),
        artifact_path=path,
        artifact_sha256=sha,
        run_id=run_id,
    )


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class StageRecorder:
    """What a stage collects while it runs: log lines and metrics."""

    lines: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def log(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class RunRecorder:
    """A run being recorded; `stage(name)` times and records one stage."""

    store: Store
    id: int

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageRecorder]:
        rec = StageRecorder()
        start_stage(self.store, self.id, name)
        try:
            yield rec
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            finish_stage(
                self.store, self.id, name, "failed", "\n".join(rec.lines), rec.metrics, error
            )
            raise
        finish_stage(self.store, self.id, name, "succeeded", "\n".join(rec.lines), rec.metrics)


@contextlib.contextmanager
def record_run(
    store: Store,
    pipeline: str,
    stages: Sequence[str] = (),
    trigger: str = "external",
    triggered_by: str | None = None,
) -> Iterator[RunRecorder]:
    """A run that succeeds when the block ends and fails (then re-raises) on an exception."""
    run_id = start_run(store, pipeline, stages, trigger, triggered_by)
    try:
        yield RunRecorder(store, run_id)
    except BaseException as exc:
        finish_run(store, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish_run(store, run_id, "succeeded")


# -- inference logging (for drift) ----------------------------------------------------------


@contextlib.contextmanager
def _store_and_model_config(
    target: Store | str | os.PathLike[str], model: str
) -> Iterator[tuple[Store, dict[str, Any] | None]]:
    """The store (opened here and closed after, unless given) and the model's config if known."""
    if isinstance(target, Store):
        yield target, None
        return
    p = Path(target).expanduser()
    cfg = config_mod.load(p) if p.is_dir() else None
    store = Store(cfg.database if cfg else p)
    try:
        yield store, cfg.models.get(model) if cfg else None
    finally:
        store.close()


def _span(timestamps: Any) -> tuple[float | None, float | None]:
    if timestamps is None:
        return None, None
    present = [float(t) for t in list(timestamps) if t is not None and float(t) == float(t)]
    return (min(present), max(present)) if present else (None, None)


def log_inferences(
    target: Store | str | os.PathLike[str],
    model: str,
    columns: Mapping[str, Any],
    prediction_ids: Any = None,
    predictions: Any = None,
    timestamps: Any = None,
) -> int:
    """Append one batch of a model's inputs (feature -> values) for drift; returns the batch id.

    `target` is a Store, a workspace directory or a lookout.db. Columns (and
    ids, predictions, epoch-second timestamps) are NumPy arrays or sequences,
    all the same length. The batch must hold every
    feature of the model's production profile (or, without one, of its
    config), numbers for numeric features; other columns are dropped. Raises
    `lookout.storage.drift.BatchError` (one line naming the column) and stores nothing
    when it does not fit.
    """
    with _store_and_model_config(target, model) as (store, model_cfg):
        expected = drift_store.expected_features(store, model, model_cfg)
        return _log_inputs(store, model, columns, expected, prediction_ids, predictions, timestamps)


def _log_inputs(
    store: Store,
    model: str,
    columns: Mapping[str, Any],
    expected: dict[str, str] | None,
    prediction_ids: Any,
    predictions: Any,
    timestamps: Any,
) -> int:
    wanted = (
        dict(columns) if expected is None else {n: columns[n] for n in expected if n in columns}
    )
    if expected is not None:
        missing = [n for n in expected if n not in columns]
        if missing:
            raise drift_store.BatchError(f'feature column "{missing[0]}" is missing')
    if prediction_ids is not None:
        wanted[drift_store.PREDICTION_ID] = [str(i) for i in list(prediction_ids)]
    if predictions is not None:
        wanted[drift_store.PREDICTION] = predictions
    if timestamps is not None:
        wanted[drift_store.TIMESTAMP] = timestamps
    first, last = _span(timestamps)
    return drift_store.append_batch(store, model, wanted, "inputs", first, last, expected)


def log_labels(
    target: Store | str | os.PathLike[str],
    model: str,
    prediction_ids: Any,
    labels: Any,
    timestamps: Any = None,
) -> int:
    """Append labels that arrived for earlier predictions (joined to inputs by prediction id)."""
    cols: dict[str, Any] = {
        drift_store.PREDICTION_ID: [str(i) for i in list(prediction_ids)],
        drift_store.LABEL: labels,
    }
    if timestamps is not None:
        cols[drift_store.TIMESTAMP] = timestamps
    first, last = _span(timestamps)
    with _store_and_model_config(target, model) as (store, _):
        return drift_store.append_batch(store, model, cols, "labels", first, last)
