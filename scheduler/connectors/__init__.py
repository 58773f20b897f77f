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
pipelines (Airflow's DAG runs, issue 20) adds its own protocol beside
ModelSource in the same way; the common part above needs no change for it.

Connector modules import their client libraries (httpx) where they make a
request: the config reads this table, and reading a config must stay light.

`webhooks` delivers notifications and mirrors nothing; it is not a connector
in this sense.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lookout.scheduler.connectors.base import SyncStatus
from lookout.scheduler.connectors.mlflow import MLFLOW
from lookout.scheduler.validate import Checker

if TYPE_CHECKING:
    from lookout.scheduler.workspace import Workspace
    from lookout.storage.db import Store


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


CONNECTORS: dict[str, Connector] = {c.name: c for c in (MLFLOW,)}
# What `models.X.source` accepts beside "local" (versions Lookout trains and serves itself).
MODEL_SOURCES = tuple(n for n, c in CONNECTORS.items() if isinstance(c, ModelSource))


def model_source(source: str | None) -> ModelSource | None:
    """The connector that holds the versions of models with this `source`; None for "local"."""
    connector = CONNECTORS.get(source or "")
    return connector if isinstance(connector, ModelSource) else None
