"""Running a dataset's checks: each configured check over a Frame or over record batches.

Each check type (`lookout.scheduler.checks.CHECK_TYPES`) keeps a running
state that takes whole NumPy columns of one batch at a time (a 1M-row column
costs a few passes, never a Python loop over rows). A frame in memory is one
batch (`run_checks`); a dataset read from files is scanned in record batches
of ``BATCH_ROWS`` rows or ``BATCH_BYTES`` of data (`run_dataset`), so memory
holds a batch or two and the states' summaries, not the dataset. Anything that stops a check from being evaluated
(missing column, wrong kind, no rows, no reference) raises `Unevaluable`,
which becomes an `error` result: never a pass, never a crash. Storing the
results and paging on-call is `lookout.storage.checks.record_results`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from lookout.scheduler.checks import CHECK_TYPES
from lookout.scheduler.checks.base import Context, Running, Unevaluable
from lookout.scheduler.frame import DataError, Fingerprint, Frame, KindChanged, widen
from lookout.scheduler.loading import open_dataset
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks as stored_checks
from lookout.storage.db import now
from lookout.storage.records import CheckResult

BATCH_ROWS = 1 << 20
BATCH_BYTES = 128 << 20  # a batch of a wide table holds fewer rows: about this much data


def _failure(exc: Exception) -> str:
    if isinstance(exc, Unevaluable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def evaluate(frame: Frame, check: dict[str, Any], ctx: Context) -> CheckResult:
    """One check's result on a frame in memory; every failure to evaluate is `error`."""
    state = Pass([check], ctx)
    state.update(frame)
    return state.finish(frame.kinds)[0]


class Pass:
    """Every check of a dataset over one pass through its batches.

    A check that fails to evaluate on a batch (Unevaluable, or any error odd
    data causes) stops there: its result is that `error`, and it is not fed
    the later batches.
    """

    def __init__(self, checks: list[dict[str, Any]], ctx: Context):
        self.checks = checks
        self.rows = 0
        self.errors: dict[int, str] = {}
        self.states: dict[int, Running] = {}
        for i, check in enumerate(checks):
            try:
                self.states[i] = CHECK_TYPES[check["type"]].start(check, ctx)
            except Exception as exc:  # a state that cannot start is that check's error
                self.errors[i] = _failure(exc)

    def update(self, frame: Frame) -> None:
        with np.errstate(all="ignore"):
            for i, state in list(self.states.items()):
                try:
                    state.update(frame, self.rows)
                except Exception as exc:  # odd data must cost one result, never the pass
                    self.errors[i] = _failure(exc)
                    del self.states[i]
        self.rows += frame.rows

    def finish(self, kinds: dict[str, str]) -> list[CheckResult]:
        out = []
        for i, check in enumerate(self.checks):
            base = CheckResult(
                dataset="",
                name=check["name"],
                kind=check["type"],
                severity=check["severity"],
                result="error",
                rows_examined=self.rows,
            )
            if i in self.states:
                try:
                    with np.errstate(all="ignore"):
                        o = self.states[i].finish(self.rows, dict(kinds))
                except Exception as exc:
                    self.errors[i] = _failure(exc)
                else:
                    out.append(_result(base, check, o))
                    continue
            out.append(replace(base, message=self.errors[i]))
        return out


def _result(base: CheckResult, check: dict[str, Any], o: Any) -> CheckResult:
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
    checks = Pass(ws.config.datasets[dataset]["checks"], ctx)
    checks.update(frame)
    results = [
        replace(r, dataset=dataset, snapshot_id=snapshot_id, run_id=run_id, at=ctx.at)
        for r in checks.finish(frame.kinds)
    ]
    return stored_checks.record_results(ws.store, results)


def run_dataset(ws: Workspace, dataset: str, run_id: int | None = None) -> list[CheckResult]:
    """Read the dataset in record batches, record a snapshot, run its checks (the on-demand
    and scheduled path).

    Data that cannot be read gives every check an `error` result with the
    loader's one-line message, so on-call sees it rather than stale passes.
    A column whose kind changes part-way (text after numbers) is read again
    as text from the start.
    """
    if dataset not in ws.config.datasets:
        raise LookupError(f'no dataset named "{dataset}" in {ws.config.path.name}')
    configured = ws.config.datasets[dataset]["checks"]
    force: dict[str, str] = {}
    try:
        source = open_dataset(ws.config, dataset)
        while True:
            ctx = Context(ws, dataset, now(), source.modified_at, streaming=True)
            checks, fingerprint = Pass(configured, ctx), Fingerprint()
            kinds: dict[str, str] = {}
            try:
                for frame in source.scan(BATCH_ROWS, force, BATCH_BYTES):
                    checks.update(frame)
                    fingerprint.update(frame)
                    kinds = _widen(kinds, frame.kinds)
                    del frame  # a batch's memory is free before the next is read
                break
            except KindChanged as exc:
                force[exc.name] = "string"
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
            for c in configured
        ]
        return stored_checks.record_results(ws.store, failed)
    snapshot = stored_checks.record_snapshot(
        ws.store,
        dataset,
        source.label,
        checks.rows,
        kinds,
        fingerprint.digest(kinds),
        run_id=run_id,
    )
    results = [
        replace(r, dataset=dataset, snapshot_id=snapshot.id, run_id=run_id, at=ctx.at)
        for r in checks.finish(kinds)
    ]
    return stored_checks.record_results(ws.store, results)


def _widen(kinds: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Each column's kind over the batches so far (files of a glob may differ)."""
    out = dict(kinds)
    for name, kind in new.items():
        have = out.get(name)
        if have is None:
            out[name] = kind
        elif widen(have, kind) is None:
            raise KindChanged(name, "text")
        else:
            out[name] = widen(have, kind) or kind
    return out


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """Results that must stop training: a `fail`-severity check that failed or could not run."""
    return [r for r in results if r.severity == "fail" and r.result in ("fail", "error")]
