"""Models pane: production and candidate, the primary metric and its change, and the
promotion requests waiting for approval (rows keyed `request:ID`, approvable from here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lookout.console.format import (
    Cells,
    Times,
    delta,
    freshness,
    number,
    safe,
)
from lookout.console.panes import PaneSpec
from lookout.storage import registry, watch
from lookout.storage.db import Store
from lookout.storage.records import Model, PromotionRequest, Version
from rich.text import Text

if TYPE_CHECKING:  # the connector loads httpx: only import it when a model uses MLflow
    from lookout.scheduler.connectors.mlflow import SyncStatus


@dataclass(frozen=True)
class ModelState:
    model: Model
    production: Version | None
    candidate: Version | None


@dataclass(frozen=True)
class ModelsData:
    models: list[ModelState]
    requests: list[PromotionRequest]
    mlflow: SyncStatus | None = None  # how fresh the MLflow mirror is, when a model uses it


def fetch(store: Store) -> ModelsData:
    by_alias = {(v.model, a): v for v in registry.aliased_versions(store) for a in v.aliases}
    states = [
        ModelState(
            m,
            by_alias.get((m.name, "production")),
            by_alias.get((m.name, "candidate")),
        )
        for m in registry.list_models(store)
    ]
    sync = None
    if any(s.model.source == "mlflow" for s in states):
        from lookout.scheduler.connectors.mlflow import last_sync

        sync = last_sync(store)
    return ModelsData(states, registry.list_requests(store, status="pending", limit=50), sync)


def _metric(v: Version | None, metric: str) -> object:
    return None if v is None else v.metrics.get(metric)


def rows(data: ModelsData, times: Times) -> list[tuple[str, Cells]]:
    """A row per model, each followed by its requests waiting for approval."""
    waiting: dict[str, list[PromotionRequest]] = {}
    for r in data.requests:
        waiting.setdefault(r.model, []).append(r)
    out: list[tuple[str, Cells]] = []
    for s in data.models:
        metric = s.model.primary_metric
        prod, cand = _metric(s.production, metric), _metric(s.candidate, metric)
        shown = cand if cand is not None else prod
        out.append(
            (
                f"model:{s.model.name}",
                (
                    _name(s.model),
                    Text(f"v{s.production.version}" if s.production else "-"),
                    Text(f"v{s.candidate.version}" if s.candidate else "-"),
                    Text(f"{safe(metric, 40).plain} {number(shown)}" if shown is not None else "-"),
                    delta(cand, prod) if cand is not None else Text("-", style="dim"),
                ),
            )
        )
        for r in waiting.pop(s.model.name, []):
            out.append((f"request:{r.id}", _request_cells(r)))
    for left in waiting.values():  # a request for a model not listed (yet)
        out.extend((f"request:{r.id}", _request_cells(r)) for r in left)
    return out


def _request_cells(r: PromotionRequest) -> Cells:
    """Under its model: `→ request 4  v1  v3  gates ✗ drift` (its alias when not production)."""
    name = Text(f" → request {r.id}", style="yellow")
    if r.alias != "production":
        name.append_text(safe(f" to {r.alias}", 40, style="yellow"))
    failed = [g.name for g in r.gates if not g.passed]
    return (
        name,
        Text(f"v{r.from_version}" if r.from_version else "-"),
        Text(f"v{r.version}"),
        safe("gates ✗ " + ", ".join(failed), 120, style="bold red")
        if failed
        else Text("gates ✓", style="green"),
        Text(""),
    )


def _name(model: Model) -> Text:
    """MLflow-backed models carry a mark: their versions live in the tracking server."""
    if model.source != "mlflow":
        return safe(model.name, 120)
    return safe(model.name, 120) + Text(" ⇄ mlflow", style="cyan")


def mlflow_freshness(sync: SyncStatus, at: float | None = None) -> str:
    """'MLflow synced 30s ago', or 'MLflow stale: last synced 12m ago' when the last try failed."""
    return freshness("MLflow", sync, at)


def summary(data: ModelsData) -> str:
    parts = [f"{len(data.requests)} awaiting approval"] if data.requests else []
    if data.mlflow is not None:
        parts.append(mlflow_freshness(data.mlflow))
    return " · ".join(parts)


SPEC = PaneSpec(
    name="models",
    title="Models",
    columns=[
        ("model", "Model"),
        ("prod", "Prod"),
        ("cand", "Cand"),
        ("metric", "Metric"),
        ("change", "Δ"),
    ],
    empty="No models registered yet.",
    key=watch.models_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("metric",),
)
