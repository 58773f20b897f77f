"""Running a dataset's checks: evaluate each configured check on a Frame, record the results.

Each check type (`lookout.scheduler.checks.CHECK_TYPES`) evaluates whole NumPy
columns (a 1M-row column costs a few passes, never a Python loop over rows).
Anything that stops a check from being evaluated (missing column, wrong
kind, no rows, no reference) raises `Unevaluable`, which becomes an `error`
result: never a pass, never a crash. Storing the results and paging on-call
is `lookout.storage.checks.record_results`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from lookout.scheduler.checks import CHECK_TYPES
from lookout.scheduler.checks.base import Context, Unevaluable
from lookout.scheduler.frame import DataError, Frame
from lookout.scheduler.loading import load_dataset
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks as stored_checks
from lookout.storage.db import now
from lookout.storage.records import CheckResult


def evaluate(frame: Frame, check: dict[str, Any], ctx: Context) -> CheckResult:
    """One check's result; every failure to evaluate becomes `error` with one line."""
    base = CheckResult(
        dataset=ctx.dataset,
        name=check["name"],
        kind=check["type"],
        severity=check["severity"],
        result="error",
    )
    try:
        with np.errstate(all="ignore"):
            o = CHECK_TYPES[check["type"]].evaluate(frame, check, ctx)
    except Unevaluable as exc:
        return replace(base, result="error", message=str(exc), rows_examined=frame.rows)
    except Exception as exc:  # odd data must cost one result, never the whole pass
        return replace(
            base,
            result="error",
            message=f"{type(exc).__name__}: {exc}".splitlines()[0],
            rows_examined=frame.rows,
        )
    return replace(
        base,
        result="pass" if o.passed else check["severity"],
        observed=o.observed,
        threshold=o.threshold,
        rows_examined=o.rows,
        failing_rows=o.failing_rows,
        examples=o.examples,
        message=o.message,
    )


def run_checks(
    ws: Workspace,
    dataset: str,
    frame: Frame,
    *,
    snapshot_id: int | None = None,
    run_id: int | None = None,
    modified_at: float | None = None,
) -> list[CheckResult]:
    """Evaluate the dataset's configured checks on `frame`, record and return the results."""
    if dataset not in ws.config.datasets:
        raise LookupError(f'no dataset named "{dataset}" in {ws.config.path.name}')
    ctx = Context(ws, dataset, now(), modified_at)
    results = [
        replace(evaluate(frame, check, ctx), snapshot_id=snapshot_id, run_id=run_id, at=ctx.at)
        for check in ws.config.datasets[dataset]["checks"]
    ]
    return stored_checks.record_results(ws.store, results)


def run_dataset(ws: Workspace, dataset: str, run_id: int | None = None) -> list[CheckResult]:
    """Load the dataset, record a snapshot, run its checks (the on-demand and scheduled path).

    Data that cannot be read gives every check an `error` result with the
    loader's one-line message, so on-call sees it rather than stale passes.
    """
    if dataset not in ws.config.datasets:
        raise LookupError(f'no dataset named "{dataset}" in {ws.config.path.name}')
    try:
        loaded = load_dataset(ws.config, dataset)
    except DataError as exc:
        t = now()
        failed = [
            CheckResult(
                dataset=dataset,
                name=c["name"],
                kind=c["type"],
                severity=c["severity"],
                result="error",
                message=f"cannot load the data: {exc}",
                run_id=run_id,
                at=t,
            )
            for c in ws.config.datasets[dataset]["checks"]
        ]
        return stored_checks.record_results(ws.store, failed)
    frame = loaded.frame
    snapshot = stored_checks.record_snapshot(
        ws.store,
        dataset,
        loaded.source,
        frame.rows,
        dict(frame.kinds),
        frame.fingerprint(),
        run_id=run_id,
    )
    return run_checks(
        ws, dataset, frame, snapshot_id=snapshot.id, run_id=run_id, modified_at=loaded.modified_at
    )


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """Results that must stop training: a `fail`-severity check that failed or could not run."""
    return [r for r in results if r.severity == "fail" and r.result in ("fail", "error")]
