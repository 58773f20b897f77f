"""The one door: every change anyone asks of a workspace goes through `perform`.

`perform(ws, actor, action, args)` checks the arguments, asks the policy whether
the actor's role allows the action (`policy.require`, the one table `policy.NEEDS`)
and runs the action's handler. The command line, the console, the SDK and the
daemon's socket all reach the store's changes only through here: in a personal
workspace in their own process (`Local`), in a shared one over the daemon's socket
(`lookout.scheduler.client.Remote`), where the daemon calls `perform` itself.

Who acts is an `Actor`, and it comes from the operating system only: the real uid
of this process, or the uid the kernel reports for the peer of the daemon's socket
(`SO_PEERCRED`). No argument, environment variable or frame field names it.
Whoever can write a personal workspace's files can of course do anything there;
the shared mode is what holds against the other members of a team.

Adding an action is one row in ACTIONS (its arguments and its handler) and one row
in `policy.NEEDS` (its least role).
"""

from __future__ import annotations

import logging
import os
import pwd
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lookout.scheduler import policy
from lookout.scheduler.validate import (
    Checker,
    Invalid,
    Key,
    boolean,
    choice,
    free_table,
    integer,
    join,
    list_of,
    name,
    nonempty,
    number,
    shown,
    string,
    table,
)
from lookout.scheduler.workspace import Workspace
from lookout.storage.db import StoreError
from lookout.storage.records import CHECK_RESULTS, PromotionRequest, iso

if TYPE_CHECKING:
    from lookout.scheduler import promotion

log = logging.getLogger("lookout.door")

# What went wrong, in Outcome.data["error"]: the command line exits 2 for the first
# two (the asker can do something about it) and 1 for the others.
REFUSED = "refused"  # the policy, or the state of the workspace, says no
INVALID = "invalid"  # the arguments do not fit
UNAVAILABLE = "unavailable"  # the daemon could not be reached or did not answer
FAILED = "failed"  # the action broke; the daemon's log has the traceback


@dataclass(frozen=True)
class Actor:
    """Who is asking: an OS account, known from the kernel."""

    name: str
    uid: int | None

    @classmethod
    def of_uid(cls, uid: int) -> Actor:
        try:
            return cls(pwd.getpwuid(uid).pw_name, uid)
        except KeyError:
            return cls(f"uid:{uid}", uid)


def process_actor() -> Actor:
    """The account this process runs as (its real uid; never `$USER`)."""
    return Actor.of_uid(os.getuid())


@dataclass(frozen=True)
class Outcome:
    """What every change returns; `data` is plain JSON (it crosses the socket)."""

    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def refused(message: str, error: str = REFUSED) -> Outcome:
    return Outcome(False, message, {"error": error})


class Refusal(Exception):
    """A handler's one-line no: a missing thing, a wrong state."""


class Changes(Protocol):
    """Where a process sends its changes: `changes(ws)` picks in-process or the daemon."""

    actor: Actor

    def perform(self, action: str, **args: Any) -> Outcome: ...


@dataclass
class Local:
    """A personal workspace: the change runs in this process, as this process's account."""

    ws: Workspace
    actor: Actor = field(default_factory=process_actor)

    def perform(self, action: str, **args: Any) -> Outcome:
        return perform(self.ws, self.actor, action, args)


def changes(ws: Workspace) -> Changes:
    """In-process for a personal workspace; over the daemon's socket for a shared one."""
    if ws.shared:
        from lookout.scheduler.client import Remote

        return Remote(ws.socket, ws.config.workspace.get("group"))
    return Local(ws)


# -- the actions ------------------------------------------------------------------------

Handler = Callable[[Workspace, Actor, dict[str, Any]], Outcome]


@dataclass(frozen=True)
class Action:
    args: dict[str, Key]
    handler: Handler
    # the policy action it asks for when that depends on the arguments (approve --override)
    needs: Callable[[dict[str, Any]], str] | None = None
    changes: bool = True  # False only for `whoami`, which anyone may ask


def perform(ws: Workspace, actor: Actor, action: str, args: Mapping[str, Any]) -> Outcome:
    """Validate, authorize and run one change; never raises for a refusal or bad input."""
    spec = ACTIONS.get(action)
    if spec is None:
        return refused(f"unknown action {action!r}", INVALID)
    try:
        # an argument given as None is an argument not given
        clean = table(spec.args)(action, {k: v for k, v in args.items() if v is not None})
    except Invalid as exc:
        return refused(f"{exc.path}: {exc.message}", INVALID)
    if spec.changes:
        try:
            policy.require(ws, actor.name, spec.needs(clean) if spec.needs else action)
        except policy.PermissionDenied as exc:
            return refused(str(exc))
        if ws.store.readonly:
            return refused(f"{action} changes the store, which is open read-only")
    from lookout.scheduler.promotion import PromotionError
    from lookout.storage.drift import BatchError

    try:
        return spec.handler(ws, actor, clean)
    except (Refusal, PromotionError, LookupError, StoreError) as exc:
        # StoreError: e.g. an audited change refused because the record does not hold
        return refused(_line(exc))
    except BatchError as exc:
        return refused(_line(exc), INVALID)
    except (sqlite3.Error, OSError) as exc:
        # A full disk, above all: every change is one transaction, so nothing was made.
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else _line(exc)
        log.info("%s by %s: the store could not be written: %s", action, actor.name, detail)
        return refused(f"{action}: the store could not be written: {detail}")
    except Exception as exc:
        log.exception("%s by %s failed", action, actor.name)
        return refused(f"{action} failed: {type(exc).__name__}: {_line(exc)}", FAILED)


def _line(exc: BaseException) -> str:
    text = str(exc).strip().strip("'\"").splitlines()
    return text[0] if text else type(exc).__name__


# -- promotion ----------------------------------------------------------------------------


def request_data(r: PromotionRequest) -> dict[str, Any]:
    """A promotion request as JSON (`lookout requests --json` prints the same)."""
    return {
        "id": r.id,
        "model": r.model,
        "version": r.version,
        "alias": r.alias,
        "kind": r.kind,
        "status": r.status,
        "requested_by": r.requested_by,
        "requested_at": iso(r.requested_at),
        "reason": r.reason,
        "from_version": r.from_version,
        "approvals_required": r.approvals_required,
        "approvals": [
            {
                "actor": a.actor,
                "decision": a.decision,
                "reason": a.reason,
                "override": a.override,
                "at": iso(a.at),
            }
            for a in r.approvals
        ],
        "gates": [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in r.gates],
        "gates_passed": r.gates_passed,
        "decided_by": r.decided_by,
        "decided_at": iso(r.decided_at),
    }


def _promotion(outcome: promotion.Outcome) -> Outcome:
    data: dict[str, Any] = {}
    if outcome.request is not None:
        data["request"] = request_data(outcome.request)
    if outcome.to_version is not None:
        data["from_version"] = outcome.from_version
        data["to_version"] = outcome.to_version
    if outcome.hook_error is not None:
        data["hook_error"] = outcome.hook_error
    return Outcome(outcome.ok, outcome.message, data)


def _promote(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.scheduler import promotion

    return _promotion(
        promotion.request_promotion(
            ws, a["model"], a["version"], actor.name, a["reason"], alias=a["alias"]
        )
    )


def _approve(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.scheduler import promotion

    return _promotion(
        promotion.approve(ws, a["request"], actor.name, a["reason"], override=a["override"])
    )


def _reject(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.scheduler import promotion

    return _promotion(promotion.reject(ws, a["request"], actor.name, a["reason"]))


def _rollback(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.scheduler import promotion

    return _promotion(
        promotion.rollback(
            ws,
            a["model"],
            actor.name,
            a["reason"],
            to_version=a["to_version"],
            expected_current=a["expected_current"],
        )
    )


# -- the timeline and the scheduler's work --------------------------------------------------


def _acknowledge(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import events

    e = events.acknowledge(ws.store, a["event"], actor.name, a["note"])
    return Outcome(True, f"event {e.id} acknowledged by {e.acked_by}", {"event": e.id})


def _run(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    """Queue a run request for the scheduler (a retry of run N is a new manual run; of an
    Airflow run, its failed tasks cleared). `conf` is for a DAG run an outside system runs."""
    from lookout.scheduler.connectors import pipeline_source
    from lookout.storage import pipelines, scheduling

    pipeline = a["pipeline"]
    cfg = ws.config.pipelines.get(pipeline)
    if cfg is None:
        known = ", ".join(sorted(ws.config.pipelines)) or "none"
        raise Refusal(f"no pipeline named {pipeline!r} in {ws.config.path} (known: {known})")
    if not cfg["triggers"]["manual"]:
        raise Refusal(f"manual runs of {pipeline} are turned off (triggers.manual = false)")
    outside = pipeline_source(cfg["kind"]) is not None
    if a["conf"] is not None and not outside:
        raise Refusal(f"conf is for pipelines an outside system runs; {pipeline} is {cfg['kind']}")
    if a["force"] and outside:
        raise Refusal(f"force is for pipelines Lookout runs; {pipeline} is {cfg['kind']}")
    if a["retry_of"] is not None:
        retried = pipelines.get_run(ws.store, a["retry_of"])
        if retried is None or retried.pipeline != pipeline:
            raise Refusal(f"{pipeline} has no run {a['retry_of']}")
    extra: dict[str, Any] = (
        {"retry_of": a["retry_of"]} if a["retry_of"] is not None else {"trigger": "manual"}
    )
    if a["force"]:
        extra["force"] = True  # train and register even if nothing changed
    if a["conf"] is not None:
        extra["conf"] = a["conf"]
    req = scheduling.submit_request(ws.store, "run_pipeline", pipeline, actor.name, extra)
    what = f"retry of run {a['retry_of']}" if a["retry_of"] is not None else "run"
    return Outcome(
        True, f"requested a {what} of {pipeline} (request {req.id})", {"request": req.id}
    )


def _mirrored(ws: Workspace, run_id: int) -> bool:
    """Whether an outside system (Airflow) runs this run; the scheduler then asks it."""
    from lookout.storage import mirror

    return mirror.key_of(ws.store, run_id) is not None


def _cancel(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    """Flag a local run for cancellation; ask the scheduler to cancel a mirrored one."""
    from lookout.storage import pipelines, scheduling

    if _mirrored(ws, a["run"]):
        req = scheduling.submit_request(ws.store, "cancel_run", str(a["run"]), actor.name)
        return Outcome(
            True, f"run {a['run']}: cancellation requested (request {req.id})", {"request": req.id}
        )
    if pipelines.request_cancel(ws.store, a["run"], actor.name):
        return Outcome(True, f"run {a['run']}: cancellation requested", {"run": a["run"]})
    raise Refusal(f"run {a['run']} is not queued or running")


def _fetch_log(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    """Ask the scheduler to fetch a mirrored stage's log from the system that ran it."""
    from lookout.storage import scheduling

    if not _mirrored(ws, a["run"]):
        raise Refusal(f"run {a['run']} is not mirrored from an outside system")
    req = scheduling.submit_request(
        ws.store, "fetch_log", str(a["run"]), actor.name, {"stage": a["stage"]}
    )
    return Outcome(
        True,
        f"run {a['run']}: log of {a['stage']} requested (request {req.id})",
        {"request": req.id},
    )


def _evaluate_now(ws: Workspace, actor: Actor, kind: str, target: str) -> Outcome:
    """Checks or drift now: in this process for a personal workspace, as a request to the
    scheduler inside the daemon (whose socket worker must not run a long evaluation)."""
    from lookout.storage import scheduling

    if ws.shared:
        req = scheduling.submit_request(ws.store, kind, target, actor.name)
        return Outcome(
            True, f"{kind} of {target} requested (request {req.id})", {"request": req.id}
        )
    if kind == "run_checks":
        from lookout.scheduler.checks.engine import run_dataset

        results = run_dataset(ws, target)
        return Outcome(True, f"ran {len(results)} checks of {target}", {"results": len(results)})
    from lookout.scheduler.drift_job import run_drift

    run_drift(ws, target)
    return Outcome(True, f"computed the drift of {target}", {})


def _run_checks(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    if a["dataset"] not in ws.config.datasets:
        known = ", ".join(ws.config.datasets) or "none configured"
        raise Refusal(f'no dataset named "{a["dataset"]}" (datasets: {known})')
    return _evaluate_now(ws, actor, "run_checks", a["dataset"])


def _run_drift(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    if a["model"] not in ws.config.models:
        known = ", ".join(ws.config.models) or "none configured"
        raise Refusal(f'no model named "{a["model"]}" (models: {known})')
    return _evaluate_now(ws, actor, "run_drift", a["model"])


# -- what the serving side and external schedulers report -----------------------------------


def columns(path: str, v: Any) -> dict[str, Any]:
    """A batch: column name -> a sequence (or 1-d array) of values, all the same length."""
    if not isinstance(v, Mapping) or not v:
        raise Invalid(path, f"expected a table of columns, got {shown(v)}")
    out: dict[str, Any] = {}
    for key, values in v.items():
        if not isinstance(key, str) or not key or len(key) > 200:
            raise Invalid(path, f"expected column names of 1 to 200 characters, got {key!r}")
        if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
            raise Invalid(join(path, key), "expected a column of values")
        out[key] = values
    return out


def _log(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    """Append a batch of inference inputs or labels; the model's expected features are
    looked up here, never taken from the asker."""
    from lookout.storage import drift, registry

    model, kind, cols = a["model"], a["kind"], a["columns"]
    model_cfg = ws.config.models.get(model)
    if model_cfg is None and registry.get_model(ws.store, model) is None:
        raise Refusal(f'no model named "{model}"')
    expected = None
    if kind == "inputs":
        expected = drift.expected_features(ws.store, model, model_cfg)
        if expected is not None:
            missing = [n for n in expected if n not in cols]
            if missing:
                raise drift.BatchError(f'feature column "{missing[0]}" is missing')
            cols = {n: v for n, v in cols.items() if n in expected or n in drift.SPECIAL}
    first, last = _span(cols.get(drift.TIMESTAMP))
    from lookout.scheduler.batches import log_batch  # profiled once, as it is stored

    batch = log_batch(ws.store, model, cols, kind, first, last, expected)
    rows = len(next(iter(cols.values())))
    return Outcome(
        True, f"logged {rows} rows of {kind} for {model} (batch {batch})", {"batch": batch}
    )


def _span(timestamps: Any) -> tuple[float | None, float | None]:
    if timestamps is None:
        return None, None
    import numpy as np

    try:
        values = np.asarray(timestamps, dtype=float)
    except (TypeError, ValueError):
        raise Refusal('column "timestamp" should hold epoch seconds') from None
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if len(finite) else (None, None)


def _external_run(ws: Workspace, actor: Actor, run_id: int) -> None:
    """Stages and outcomes are recorded only for external runs, by whoever started them."""
    from lookout.storage import pipelines

    run = pipelines.get_run(ws.store, run_id)
    if run is None:
        raise Refusal(f"no run {run_id}")
    if run.pipeline in ws.config.pipelines:
        raise Refusal(f"run {run_id} is Lookout's own run of {run.pipeline}, not an external one")
    if run.triggered_by != actor.name and policy.role_of(ws, actor.name) != "admin":
        raise Refusal(f"run {run_id} was started by {run.triggered_by}; only they may record it")
    if run.status != "running":
        raise Refusal(f"run {run_id} is already {run.status}")


def _start_run(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import pipelines

    name_ = a["pipeline"]
    if name_ in ws.config.pipelines:
        raise Refusal(f"pipeline {name_} is configured in lookout.toml; its runs are Lookout's own")
    if pipelines.get_pipeline(ws.store, name_) is None:
        pipelines.upsert_pipeline(ws.store, name_, "external", None, None, {})
    run = pipelines.create_run(
        ws.store, name_, list(a["stages"]), a["trigger"], actor.name, status="running"
    )
    return Outcome(True, f"run {run.id} of {name_} started", {"run": run.id})


def _start_stage(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import pipelines

    _external_run(ws, actor, a["run"])
    pipelines.add_stage(ws.store, a["run"], a["stage"])
    pipelines.start_stage(ws.store, a["run"], a["stage"])
    return Outcome(True, f"run {a['run']}: stage {a['stage']} running", {})


def _finish_stage(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import pipelines

    _external_run(ws, actor, a["run"])
    pipelines.add_stage(ws.store, a["run"], a["stage"])
    pipelines.finish_stage(
        ws.store, a["run"], a["stage"], a["status"], a["log"], a["metrics"], a["error"]
    )
    return Outcome(True, f"run {a['run']}: stage {a['stage']} {a['status']}", {})


def _finish_run(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import pipelines

    _external_run(ws, actor, a["run"])
    if a["status"] == "cancelled":  # a cancelled run says by whom, and why when told
        pipelines.cancel_running(ws.store, a["run"], actor.name, a["error"] or "")
    else:
        pipelines.finish_run(ws.store, a["run"], a["status"], a["error"])
    return Outcome(True, f"run {a['run']} {a['status']}", {"run": a["run"]})


def _record_checks(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    from lookout.storage import checks
    from lookout.storage.records import CheckResult

    dataset = a["dataset"]
    if dataset in ws.config.datasets:
        raise Refusal(f"dataset {dataset} is checked by Lookout itself (lookout.toml)")
    if a["run"] is not None:
        _external_run(ws, actor, a["run"])
    stored = checks.record_results(
        ws.store,
        [
            CheckResult(
                dataset=dataset,
                name=r["name"],
                kind=r["kind"],
                severity=r["severity"],
                result=r["result"],
                observed=None if r["observed"] is None else str(r["observed"]),
                threshold=None if r["threshold"] is None else str(r["threshold"]),
                rows_examined=r["rows_examined"],
                failing_rows=r["failing_rows"],
                message=r["message"],
                run_id=a["run"],
            )
            for r in a["results"]
        ],
    )
    return Outcome(True, f"recorded {len(stored)} check results for {dataset}", {})


def _register_version(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    """Add a model's next version. An artifact's sha256 comes from the asker, who read the
    file: the daemon never opens a path a client names."""
    from lookout.storage import registry

    if (a["artifact_path"] is None) != (a["artifact_sha256"] is None):
        raise Refusal("artifact_path and artifact_sha256 go together")
    if a["run"] is not None:
        _external_run(ws, actor, a["run"])
    model = a["model"]
    if registry.get_model(ws.store, model) is None:
        registry.ensure_model(ws.store, model, a["task"], a["primary_metric"])
    run = {"run_id": a["run"]} if a["run"] is not None else {}
    v = registry.register_version(
        ws.store,
        model,
        metrics=a["metrics"],
        params=a["params"],
        lineage={**a["lineage"], **run, "registered_by": actor.name},
        tags=a["tags"],
        artifact_path=a["artifact_path"],
        artifact_sha256=a["artifact_sha256"],
        run_id=a["run"],
        profile=a["profile"],
    )
    return Outcome(True, f"registered {model} v{v.version}", {"version": v.version})


def _whoami(ws: Workspace, actor: Actor, a: dict[str, Any]) -> Outcome:
    role = policy.role_of(ws, actor.name)
    return Outcome(True, f"{actor.name} ({role})", {"actor": actor.name, "role": role})


# -- argument checkers and the table ---------------------------------------------------------


def _sha256(path: str, v: Any) -> str:
    s = string(path, v)
    if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
        raise Invalid(path, "expected a hex sha256")
    return s


def _text(limit: int) -> Checker:
    def check(path: str, v: Any) -> str:
        s = string(path, v)
        if len(s) > limit:
            raise Invalid(path, f"expected at most {limit} characters")
        return s

    return check


def _numbers(path: str, v: Any) -> dict[str, float]:
    return {k: number()(join(path, k), x) for k, x in free_table(path, v).items()}


def _strings(path: str, v: Any) -> dict[str, str]:
    return {k: string(join(path, k), x) for k, x in free_table(path, v).items()}


def _scalar_or_none(path: str, v: Any) -> Any:
    if isinstance(v, dict | list):
        raise Invalid(path, f"expected a string, number or boolean, got {shown(v)}")
    return v


REQUIRED_ID = Key(integer(1), required=True)
REASON = Key(_text(2000), required=True)
CHECK_RESULT = table(
    {
        "name": Key(name, required=True),
        "result": Key(choice(*CHECK_RESULTS), required=True),
        "severity": Key(choice("warn", "fail"), default="fail"),
        "kind": Key(name, default="external"),
        "observed": Key(_scalar_or_none),
        "threshold": Key(_scalar_or_none),
        "message": Key(_text(2000), default=""),
        "rows_examined": Key(integer(0), default=0),
        "failing_rows": Key(integer(0), default=0),
    }
)

ACTIONS: dict[str, Action] = {
    "promote": Action(
        {
            "model": Key(name, required=True),
            "version": REQUIRED_ID,
            "reason": REASON,
            "alias": Key(name, default="production"),
        },
        _promote,
    ),
    "approve": Action(
        {"request": REQUIRED_ID, "reason": REASON, "override": Key(boolean, default=False)},
        _approve,
        needs=lambda a: "override" if a["override"] else "approve",
    ),
    "reject": Action({"request": REQUIRED_ID, "reason": REASON}, _reject),
    "rollback": Action(
        {
            "model": Key(name, required=True),
            "reason": REASON,
            "to_version": Key(integer(1)),
            "expected_current": Key(integer(1)),
        },
        _rollback,
    ),
    "acknowledge": Action(
        {"event": REQUIRED_ID, "note": Key(_text(2000), default="")}, _acknowledge
    ),
    "run": Action(
        {
            "pipeline": Key(name, required=True),
            "retry_of": Key(integer(1)),
            "force": Key(boolean, default=False),
            "conf": Key(free_table),
        },
        _run,
    ),
    "cancel": Action({"run": REQUIRED_ID}, _cancel),
    "fetch_log": Action({"run": REQUIRED_ID, "stage": Key(_text(300), required=True)}, _fetch_log),
    "run_checks": Action({"dataset": Key(name, required=True)}, _run_checks),
    "run_drift": Action({"model": Key(name, required=True)}, _run_drift),
    "log": Action(
        {
            "model": Key(name, required=True),
            "kind": Key(choice("inputs", "labels"), default="inputs"),
            "columns": Key(columns, required=True),
        },
        _log,
    ),
    "start_run": Action(
        {
            "pipeline": Key(name, required=True),
            "stages": Key(list_of(name), default=list),
            "trigger": Key(name, default="external"),
        },
        _start_run,
    ),
    "start_stage": Action({"run": REQUIRED_ID, "stage": Key(name, required=True)}, _start_stage),
    "finish_stage": Action(
        {
            "run": REQUIRED_ID,
            "stage": Key(name, required=True),
            "status": Key(choice("succeeded", "failed", "skipped"), default="succeeded"),
            "log": Key(_text(1 << 20), default=""),
            "metrics": Key(free_table, default=dict),
            "error": Key(_text(2000)),
        },
        _finish_stage,
    ),
    "finish_run": Action(
        {
            "run": REQUIRED_ID,
            "status": Key(choice("succeeded", "failed", "cancelled"), default="succeeded"),
            "error": Key(_text(2000)),
        },
        _finish_run,
    ),
    "record_checks": Action(
        {
            "dataset": Key(name, required=True),
            "results": Key(list_of(CHECK_RESULT), required=True),
            "run": Key(integer(1)),
        },
        _record_checks,
    ),
    "register_version": Action(
        {
            "model": Key(name, required=True),
            "task": Key(choice("classification", "regression"), default="classification"),
            "primary_metric": Key(string, default=""),
            "metrics": Key(_numbers, default=dict),
            "params": Key(free_table, default=dict),
            "lineage": Key(free_table, default=dict),
            "tags": Key(_strings, default=dict),
            "artifact_path": Key(nonempty),
            "artifact_sha256": Key(_sha256),
            "run": Key(integer(1)),
            "profile": Key(free_table),  # the drift reference, profiled by the asker
        },
        _register_version,
    ),
    "whoami": Action({}, _whoami, changes=False),
}
