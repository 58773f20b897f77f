"""Connectors: outside systems Lookout mirrors into the store and acts through.

Each connector is a module here with an object that implements `Connector`,
and one row in CONNECTORS (see ARCHITECTURE.md). From its row:

- lookout.toml gets its `[name]` section, validated by `settings`;
- the scheduler syncs it every `interval(ws)` while `enabled(ws)`, as the job
  `name` in the ledger;
- panes ask `health(store)` how fresh its mirror is.

A connector that holds model versions is also a `ModelSource`: models may
name it as their `source`, and promotion and rollback move their aliases
through it instead of Lookout's serving pointer. A connector that runs
pipelines is a `PipelineSource`: pipelines may name it as their `kind`, it
brings the keys such a pipeline adds, its sync mirrors their runs as Lookout
runs, and the scheduler asks it to start, retry and cancel them (Airflow).

Connector modules import their client libraries (httpx) where they make a
request: the config reads this table, and reading a config must stay light.

`webhooks` delivers notifications and mirrors nothing; it is not a connector
in this sense.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lookout.scheduler.connectors.airflow import AIRFLOW
from lookout.scheduler.connectors.base import SyncStatus
from lookout.scheduler.connectors.mlflow import MLFLOW
from lookout.scheduler.validate import Checker, Key

if TYPE_CHECKING:
    from lookout.scheduler.workspace import Workspace
    from lookout.storage.db import Store
    from lookout.storage.records import Run


class SyncResult(Protocol):
    """What one sync reports; a connector's own report may say more."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str | None: ...


class Connector(Protocol):
    """An outside system whose state Lookout mirrors into the store."""

    name: str  # its section in lookout.toml, its scheduler job, its rows in external_state
    title: str  # how messages name the system, e.g. "MLflow"
    settings: Checker  # validates its section

    def enabled(self, ws: Workspace) -> bool:
        """Is it configured? The scheduler syncs only enabled connectors."""
        ...

    def interval(self, ws: Workspace) -> float:
        """Seconds between two syncs."""
        ...

    def sync(self, ws: Workspace) -> SyncResult:
        """Mirror the outside state into the store. Never raises for the outside system's
        trouble: the report says it failed, and the mirror stays as it was."""
        ...

    def health(self, store: Store) -> SyncStatus:
        """How fresh the mirror is, and why the last sync failed if it did."""
        ...


@runtime_checkable
class ModelSource(Connector, Protocol):
    """A connector that holds model versions: promotion moves their aliases there."""

    def set_alias(self, ws: Workspace, model: str, alias: str, version: int) -> None:
        """Point a Lookout alias (e.g. `production`) at a version; raises with one line."""
        ...

    def delete_alias(self, ws: Workspace, model: str, alias: str) -> None:
        """Remove a Lookout alias (already absent is fine); raises with one line."""
        ...


@runtime_checkable
class PipelineSource(Connector, Protocol):
    """A connector that runs pipelines: its runs are mirrored, and Lookout's keys drive them.

    Each action raises with one line when the outside system cannot do it, and
    mirrors what the outside system answered at once.
    """

    pipeline_keys: dict[str, Key]  # what a pipeline of this kind adds to [pipelines.NAME]

    def check_pipeline(self, path: str, pipeline: dict[str, Any], section: dict[str, Any]) -> None:
        """Cross-field rules for such a pipeline (its section is the connector's); raises Invalid."""
        ...

    def trigger(
        self,
        ws: Workspace,
        name: str,
        requested_by: str,
        trigger: str = "manual",
        conf: dict[str, Any] | None = None,
        drift: dict[str, Any] | None = None,
    ) -> Run:
        """Start a run of pipeline `name`; `drift` is the summary when drift asked for it."""
        ...

    def clear_failed(self, ws: Workspace, run: Run, requested_by: str) -> Run:
        """Run a failed run's failed steps again."""
        ...

    def mark_failed(self, ws: Workspace, run: Run, requested_by: str) -> Run:
        """Cancel a queued or running run."""
        ...

    def fetch_log(self, ws: Workspace, run: Run, stage: str) -> str:
        """Fetch the last lines of a stage's log and keep them on the stage."""
        ...


CONNECTORS: dict[str, Connector] = {c.name: c for c in (MLFLOW, AIRFLOW)}
# What `models.X.source` accepts beside "local" (versions Lookout trains and serves itself).
MODEL_SOURCES = tuple(n for n, c in CONNECTORS.items() if isinstance(c, ModelSource))
# What `pipelines.X.kind` accepts beside "tabular" and "custom" (pipelines Lookout runs).
PIPELINE_SOURCES = tuple(n for n, c in CONNECTORS.items() if isinstance(c, PipelineSource))


def model_source(source: str | None) -> ModelSource | None:
    """The connector that holds the versions of models with this `source`; None for "local"."""
    connector = CONNECTORS.get(source or "")
    return connector if isinstance(connector, ModelSource) else None


def pipeline_source(kind: str | None) -> PipelineSource | None:
    """The connector that runs pipelines of this `kind`; None for the kinds Lookout runs."""
    connector = CONNECTORS.get(kind or "")
    return connector if isinstance(connector, PipelineSource) else None
