"""Data-check engine (stub: the data-checks issue fills this in; the signature is fixed)."""

from __future__ import annotations

from scheduler.frame import Frame
from storage.records import CheckResult
from storage.workspace import Workspace


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
    return []


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """Results that must stop training: a `fail`-severity check that failed or could not run."""
    return [r for r in results if r.severity == "fail" and r.result in ("fail", "error")]
