"""The domain records every part of Lookout passes around (plain dataclasses).

Times are float seconds since the epoch; `iso()` formats them for people and JSON.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
from dataclasses import dataclass, field
from typing import Any

# `unchanged`: the run found a version already trained from the same data, pipeline config
# and code, so it trained and registered nothing (`lookout run --force` trains anyway).
RUN_STATUSES = (
    "queued",
    "running",
    "succeeded",
    "unchanged",
    "failed",
    "cancelled",
    "interrupted",
)
RUN_ENDED = ("succeeded", "unchanged", "failed", "cancelled", "interrupted")
STAGE_STATUSES = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "interrupted",
    "cancelled",
)
CHECK_RESULTS = ("pass", "warn", "fail", "error")
DRIFT_LEVELS = ("ok", "warn", "drift", "error")
EVENT_SEVERITIES = ("info", "warn", "error")  # in rising order


def iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second; None stays None."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Pipeline:
    name: str
    kind: str
    model: str | None
    dataset: str | None
    config: dict[str, Any]
    next_run_at: float | None
    updated_at: float


@dataclass(frozen=True)
class StageRun:
    id: int
    run_id: int
    position: int
    name: str
    status: str
    started_at: float | None
    ended_at: float | None
    log_tail: str
    metrics: dict[str, Any]
    error: str | None
    try_number: int | None = None  # mirrored stages: the outside system's attempt
    operator: str | None = None  # mirrored stages: what ran it, e.g. "@task", "BashOperator"

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class Run:
    id: int
    pipeline: str
    status: str
    trigger: str
    triggered_by: str
    attempt: int
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None
    cancel_requested: bool
    job_run_id: int | None
    stages: tuple[StageRun, ...] = ()
    retry_of: int | None = None  # the interrupted run this one re-runs
    cancelled_by: str | None = None  # who cancelled it (a person, or "scheduler"); why is `error`
    forced: bool = False  # train and register even when nothing changed


@dataclass(frozen=True)
class MirroredStage:
    """A stage as an outside system (Airflow) reports it, for `lookout.storage.mirror`."""

    name: str
    position: int
    status: str
    started_at: float | None
    ended_at: float | None
    try_number: int | None
    operator: str | None


@dataclass(frozen=True)
class MirroredRun:
    """A run as an outside system reports it; `key` is its own id for the run."""

    key: str
    status: str
    trigger: str
    triggered_by: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None
    stages: tuple[MirroredStage, ...] = ()
    # Lookout started it: its trigger and asker stand, even over a sync that saw it first
    ours: bool = False


@dataclass(frozen=True)
class Snapshot:
    id: int
    dataset: str
    created_at: float
    source: str
    rows: int
    columns: dict[str, str]  # column name -> kind ("number", "string", "datetime", "bool")
    fingerprint: str
    run_id: int | None


@dataclass(frozen=True)
class CheckResult:
    dataset: str
    name: str
    kind: str
    severity: str  # warn | fail
    result: str  # pass | warn | fail | error
    observed: str | None = None
    threshold: str | None = None
    rows_examined: int = 0
    failing_rows: int = 0
    examples: tuple[str, ...] = ()
    message: str = ""
    snapshot_id: int | None = None
    run_id: int | None = None
    at: float = 0.0
    id: int | None = None


@dataclass(frozen=True)
class Model:
    name: str
    source: str  # local | mlflow
    task: str  # classification | regression
    primary_metric: str
    created_at: float


@dataclass(frozen=True)
class Version:
    id: int
    model: str
    version: int
    created_at: float
    metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, Any]
    tags: dict[str, str]
    artifact_path: str | None
    artifact_sha256: str | None
    snapshot_id: int | None
    run_id: int | None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AliasTransition:
    id: int
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    kind: str  # promotion | rollback | external | register
    actor: str
    reason: str
    request_id: int | None
    at: float


@dataclass(frozen=True)
class Approval:
    id: int
    request_id: int
    actor: str
    decision: str  # approve | reject
    reason: str
    override: bool
    at: float


@dataclass(frozen=True)
class Gate:
    """One gate's result at the time a promotion was requested."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class PromotionRequest:
    id: int
    model: str
    version: int
    alias: str
    from_version: int | None
    status: str  # pending | approved | rejected | superseded | cancelled
    requested_by: str
    requested_at: float
    reason: str
    gates: tuple[Gate, ...]
    approvals_required: int
    decided_at: float | None
    decided_by: str | None
    approvals: tuple[Approval, ...] = ()
    kind: str = "promotion"  # promotion | rollback (a rollback that policy makes wait for approval)

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    method: str
    score: float | None
    threshold: float
    level: str  # ok | warn | drift | error
    warn_threshold: float | None = None
    p_value: float | None = None  # the score again when it is a p-value (lower is worse)
    error: str | None = None
    statistic: float | None = None  # the test statistic when `score` is a p-value (KS)
    bound: float | None = None  # KS's D or the normed W1 is within this of the exact value

    @property
    def strength(self) -> float | None:
        """How far the feature moved, on one scale for every method: 1.0 is its drift threshold.

        Distances grow with drift; p-values shrink, so they are compared on a log
        scale (p = threshold gives 1.0, p = threshold² gives 2.0). Panes rank and
        draw bars with this, never with the raw score. Whether the score is a
        p-value is recorded with the result (`p_value`), so storage needs no list
        of methods.
        """
        score, threshold = self.score, self.threshold
        if score is None or not math.isfinite(score) or not threshold or threshold <= 0:
            return None
        if self.p_value is not None:
            if threshold >= 1:
                return None
            return math.log(max(score, 1e-300)) / math.log(threshold)
        return score / threshold


@dataclass(frozen=True)
class DriftResult:
    id: int
    model: str
    version: int | None
    at: float
    level: str
    share: float
    rows: int
    window: dict[str, Any]
    features: tuple[FeatureDrift, ...]
    prediction: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    kind: str
    severity: str  # info | warn | error
    subject: str
    message: str
    dedup_key: str | None
    resolved_at: float | None
    acked_by: str | None
    acked_at: float | None
    ack_note: str | None
    batch: str | None = None  # what raised it with others: "run:12", "checks:…" (one message)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: float
    actor: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str | None = None  # base64 Ed25519 over the hash; None on legacy entries


@dataclass(frozen=True)
class AuditHead:
    """The newest signed entry as the witness keeps it: enough to check a record reaches it."""

    seq: int
    hash: str
    signature: str
    key: str  # fingerprint of the key that signed it


@dataclass(frozen=True)
class AuditVerification:
    verified: bool
    first_bad: int | None
    problem: str | None
    entries: int
    signed: int = 0
    legacy: int = 0  # unsigned entries written before the store had a key
    missing: int = 0  # entries the witness saw that the record no longer has
    signatures_checked: int = 0
    witness: AuditHead | None = None  # the last head the witness saw
    witness_reached: bool | None = None  # the record still holds that head (None: no witness)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    host: str
    pid: int
    since: float
    heartbeat_at: float
    expires_at: float

    def alive(self, at: float) -> bool:
        """Held until it expires, or no longer at once when its holder ran on this host and
        that process is gone (a killed daemon is not shown alive for the rest of its lease)."""
        return self.expires_at > at and not process_gone(self.host, self.pid)


def process_gone(host: str, pid: int) -> bool:
    """Whether process `pid` of `host` is known to have ended (only this host can tell)."""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another account's process
        return False
    return False


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    scheduled_for: float
    idem_key: str
    status: str
    lease_holder: str
    started_at: float
    ended_at: float | None
    error: str | None
    attempt: int


@dataclass(frozen=True)
class Request:
    """Work a console or the CLI asks the scheduler to do."""

    id: int
    kind: str  # run_pipeline | cancel_run | run_checks | run_drift
    target: str
    args: dict[str, Any]
    requested_by: str
    at: float
    status: str  # queued | taken | done | failed
    taken_at: float | None
    done_at: float | None
    result: str | None


@dataclass(frozen=True)
class Delivery:
    """One event sent (or not) to one notification target, and how it went."""

    id: int
    event_id: int
    target: str
    status: str  # pending | delivered | failed | suppressed
    attempts: int
    at: float
    code: int | None  # the last HTTP status code, if any answer came
    detail: str
    message: str | None = None  # the key it went out under, with the events sent beside it
    open: int = 0  # 1 while a paging receiver shows it firing (a resolution is still owed)


@dataclass(frozen=True)
class ExternalState:
    """The last known state of something in an external registry, and when it was fetched."""

    source: str
    key: str
    value: dict[str, Any]
    fetched_at: float


@dataclass(frozen=True)
class Batch:
    """One logged batch of inference inputs or labels, its columns still encoded.

    `columns` maps a name to either little-endian float64 bytes (a zero-copy
    memoryview into the stored blob; `numpy.frombuffer(v, "<f8")` reads it)
    or a list of strings. Only `lookout.storage.drift` builds these.
    """

    id: int
    model: str
    kind: str  # inputs | labels
    at: float
    rows: int
    first_ts: float | None
    last_ts: float | None
    columns: dict[str, memoryview | list[str]]


@dataclass(frozen=True)
class AliasIntent:
    """A change to what serves, recorded before the outside world (a serving pointer, an
    external registry's alias) is touched; `pending` until the decision commits."""

    id: int
    model: str
    alias: str
    action: str
    actor: str
    from_version: int | None
    to_version: int | None
    host: str
    pid: int
    started_at: float
    status: str  # pending | done | recovered
    ended_at: float | None
    note: str | None
