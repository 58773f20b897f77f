"""Report to a workspace from any process: pipeline work done outside Lookout's scheduler
(an Airflow task, a notebook, a CI job) and what a model sees in production.

Standard library only at import time (NumPy when `register_version` profiles a
`reference`). Everything it records goes through the one
door (`lookout.scheduler.door`) like any other change: in a personal workspace in
this process, in a shared one over the daemon's socket. Who reports is the OS
account running this process; it needs the reporter role. Runs, checks and versions
show up in the console and in `lookout status` like the scheduler's own::

    from lookout.scheduler import sdk

    lk = sdk.connect("/srv/lookout")                      # the workspace directory
    with sdk.record_run(lk, "nightly_churn", trigger="airflow") as run:
        with run.stage("extract") as stage:
            stage.log("read 10000 rows")
            stage.metrics["rows"] = 10000
        sdk.record_checks(lk, "orders", [{"name": "no_nulls", "result": "pass"}], run.id)
        sdk.register_version(lk, "churn", metrics={"roc_auc": 0.91}, run_id=run.id)

An exception inside `stage()` marks that stage and the run failed (the error
goes on the timeline) and propagates. The plain functions (`start_run`,
`start_stage`, `finish_stage`, `finish_run`) do the same step by step. A refused
report raises `Refused` with the one line the workspace gave.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookout.scheduler import door
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import pipelines
from lookout.storage.drift import LABEL, PREDICTION, PREDICTION_ID, TIMESTAMP, BatchError
from lookout.storage.records import Run


class Refused(Exception):
    """The workspace did not take a report; the message is one line (`error` says why:
    door.REFUSED, INVALID, UNAVAILABLE or FAILED)."""

    def __init__(self, message: str, error: str):
        super().__init__(message)
        self.error = error


@dataclass
class Connection:
    """A workspace to report to: its store to read, and the door to its changes."""

    ws: Workspace
    changes: door.Changes
    owned: bool = True  # opened by `connect`, so closed by `close`

    def ask(self, action: str, **args: Any) -> dict[str, Any]:
        outcome = self.changes.perform(action, **args)
        if not outcome.ok:
            if action == "log" and outcome.data.get("error") == door.INVALID:
                raise BatchError(outcome.message)
            raise Refused(outcome.message, str(outcome.data.get("error", door.REFUSED)))
        return outcome.data

    def close(self) -> None:
        if self.owned:
            self.ws.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Target = Connection | Workspace | str | os.PathLike[str] | None


def connect(target: Workspace | str | os.PathLike[str] | None = None) -> Connection:
    """A workspace directory (default: $LOOKOUT_WORKSPACE, then the current directory),
    or a workspace this process already opened."""
    if isinstance(target, Workspace):
        return Connection(target, door.changes(target), owned=False)
    ws = open_workspace(target)
    return Connection(ws, door.changes(ws))


@contextlib.contextmanager
def _connected(target: Target) -> Iterator[Connection]:
    if isinstance(target, Connection):
        yield target
        return
    lk = connect(target)
    try:
        yield lk
    finally:
        lk.close()


# -- runs, stages, checks, versions --------------------------------------------------------


def start_run(
    lk: Connection, pipeline: str, stages: Sequence[str] = (), trigger: str = "external"
) -> int:
    """Open a `running` run (with these stages `pending`) of an external pipeline; its id.

    `trigger` labels where it came from ("airflow", "ci"); who started it is the OS
    account of this process.
    """
    return int(lk.ask("start_run", pipeline=pipeline, stages=list(stages), trigger=trigger)["run"])


def start_stage(lk: Connection, run_id: int, name: str) -> None:
    """Mark a stage `running`, adding it to the run if it was not declared."""
    lk.ask("start_stage", run=run_id, stage=name)


def finish_stage(
    lk: Connection,
    run_id: int,
    name: str,
    status: str = "succeeded",
    log: str = "",
    metrics: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record a stage's outcome (`succeeded`, `failed` or `skipped`), its log tail and metrics."""
    lk.ask(
        "finish_stage",
        run=run_id,
        stage=name,
        status=status,
        log=log,
        metrics=dict(metrics or {}),
        error=error,
    )


def finish_run(
    lk: Connection, run_id: int, status: str = "succeeded", error: str | None = None
) -> Run:
    """Close a run (`succeeded`, `failed` or `cancelled`); a failure goes on the timeline."""
    lk.ask("finish_run", run=run_id, status=status, error=error)
    run = pipelines.get_run(lk.ws.store, run_id)
    assert run is not None
    return run


def record_checks(
    lk: Connection,
    dataset: str,
    results: Sequence[Mapping[str, Any]],
    run_id: int | None = None,
) -> None:
    """Store check results of a dataset Lookout does not check itself: each a dict with at
    least `name` and `result` (pass|warn|fail|error), and optionally severity (warn|fail,
    default fail), kind, observed, threshold, message, rows_examined, failing_rows."""
    lk.ask("record_checks", dataset=dataset, results=[dict(r) for r in results], run=run_id)


def register_version(
    lk: Connection,
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
    reference: Mapping[str, Any] | None = None,
    target: str | None = None,
) -> int:
    """Add the model's next version; returns its number. An artifact's sha256 is computed
    here, by the process that can read the file.

    `reference` (column -> values: the training features, and `target` when named) is
    profiled here and stored with the version, so drift and the drift gate compare live
    inputs with it as they do for Lookout's own pipelines.
    """
    path = sha = None
    if artifact_path is not None:
        path = str(Path(artifact_path).expanduser().resolve())
        sha = file_sha256(path)
    profile = None
    if reference is not None:
        from lookout.scheduler.drift import build_profile  # NumPy: only when profiling
        from lookout.scheduler.frame import frame_from_columns

        features = [column for column in reference if column != target]
        profile = build_profile(frame_from_columns(reference), features, target=target)
    data = lk.ask(
        "register_version",
        model=model,
        task=task,
        primary_metric=primary_metric,
        metrics={k: float(v) for k, v in (metrics or {}).items()},
        params=dict(params or {}),
        lineage=dict(lineage or {}),
        tags=dict(tags or {}),
        artifact_path=path,
        artifact_sha256=sha,
        run=run_id,
        profile=profile,
    )
    return int(data["version"])


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

    lk: Connection
    id: int

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageRecorder]:
        rec = StageRecorder()
        start_stage(self.lk, self.id, name)
        try:
            yield rec
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            finish_stage(self.lk, self.id, name, "failed", "\n".join(rec.lines), rec.metrics, error)
            raise
        finish_stage(self.lk, self.id, name, "succeeded", "\n".join(rec.lines), rec.metrics)


@contextlib.contextmanager
def record_run(
    lk: Connection, pipeline: str, stages: Sequence[str] = (), trigger: str = "external"
) -> Iterator[RunRecorder]:
    """A run that succeeds when the block ends and fails (then re-raises) on an exception."""
    run_id = start_run(lk, pipeline, stages, trigger)
    try:
        yield RunRecorder(lk, run_id)
    except BaseException as exc:
        finish_run(lk, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish_run(lk, run_id, "succeeded")


# -- inference logging (for drift) ----------------------------------------------------------


def log_inferences(
    target: Target,
    model: str,
    columns: Mapping[str, Any],
    prediction_ids: Any = None,
    predictions: Any = None,
    timestamps: Any = None,
) -> int:
    """Append one batch of a model's inputs (feature -> values) for drift; returns the batch id.

    `target` is a Connection, an open Workspace or a workspace directory. Columns (and
    ids, predictions, epoch-second timestamps) are NumPy arrays or sequences, all the
    same length. The batch must hold every feature of the model's production profile
    (or, without one, of its config), numbers for numeric features; other columns are
    dropped. Raises `lookout.storage.drift.BatchError` (one line naming the column) and
    stores nothing when it does not fit.
    """
    cols = dict(columns)
    if prediction_ids is not None:
        cols[PREDICTION_ID] = [str(i) for i in list(prediction_ids)]
    if predictions is not None:
        cols[PREDICTION] = predictions
    if timestamps is not None:
        cols[TIMESTAMP] = timestamps
    with _connected(target) as lk:
        return int(lk.ask("log", model=model, kind="inputs", columns=cols)["batch"])


def log_labels(
    target: Target, model: str, prediction_ids: Any, labels: Any, timestamps: Any = None
) -> int:
    """Append labels that arrived for earlier predictions (joined to inputs by prediction id)."""
    cols: dict[str, Any] = {
        PREDICTION_ID: [str(i) for i in list(prediction_ids)],
        LABEL: labels,
    }
    if timestamps is not None:
        cols[TIMESTAMP] = timestamps
    with _connected(target) as lk:
        return int(lk.ask("log", model=model, kind="labels", columns=cols)["batch"])
