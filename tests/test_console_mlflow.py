"""The Models pane marks MLflow-backed models and says how fresh the mirror is."""

from __future__ import annotations

from lookout.console.format import Times
from lookout.console.panes import models
from lookout.scheduler.connectors.mlflow import SyncStatus
from lookout.storage.records import Model


def _data(sync: SyncStatus) -> models.ModelsData:
    state = models.ModelState(Model("churn", "mlflow", "classification", "f1", 0.0), None, None)
    local = models.ModelState(Model("fraud", "local", "classification", "f1", 0.0), None, None)
    return models.ModelsData([state, local], [], sync)


def test_mlflow_models_are_marked() -> None:
    rows = dict(models.rows(_data(SyncStatus(100.0, 100.0, None)), Times.at(100.0)))
    assert rows["model:churn"][0].plain == "churn ⇄ mlflow"
    assert rows["model:fraud"][0].plain == "fraud"


def test_a_failed_sync_marks_the_mirror_stale_with_its_age() -> None:
    stale = SyncStatus(fetched_at=1000.0, attempted_at=1700.0, error="timed out")
    assert models.mlflow_freshness(stale, at=1720.0) == "MLflow stale: last synced 12m00s ago"
    fresh = SyncStatus(fetched_at=1700.0, attempted_at=1700.0, error=None)
    assert models.mlflow_freshness(fresh, at=1730.0) == "MLflow synced 30.0s ago"
    never = SyncStatus(None, 1700.0, "connection refused")
    assert models.mlflow_freshness(never) == "MLflow stale: last synced never"
