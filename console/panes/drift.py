"""Drift pane: per model the level, share of drifted features, the most drifted features
as score bars, and a sparkline of the share over recent windows."""

from __future__ import annotations

from dataclasses import dataclass

from lookout.console.format import Cells, Times, bar, safe, sparkline, status_text
from lookout.console.panes import PaneSpec
from lookout.storage import drift, watch
from lookout.storage.db import Store
from lookout.storage.records import DriftResult
from rich.text import Text

HISTORY = 6  # windows in the trend


@dataclass(frozen=True)
class ModelDrift:
    model: str
    latest: DriftResult
    shares: tuple[float, ...]  # oldest first


def fetch(store: Store) -> list[ModelDrift]:
    shares = drift.recent_shares(store, HISTORY)
    return [
        ModelDrift(d.model, d, tuple(shares.get(d.model, [d.share])))
        for d in drift.latest_each(store)
    ]


def top_features(result: DriftResult, n: int = 2) -> Text:
    feats = sorted(
        (f for f in result.features if f.strength is not None),
        key=lambda f: f.strength or 0.0,
        reverse=True,
    )[:n]
    out = Text()
    for i, f in enumerate(feats):
        if i:
            out.append("  ")
        out.append_text(safe(f.name, 60))
        out.append(" ")
        out.append_text(bar(f.strength, 4))
    return out


def rows(data: list[ModelDrift], times: Times) -> list[tuple[str, Cells]]:
    order = {"drift": 0, "error": 1, "warn": 2, "ok": 3}
    items = sorted(data, key=lambda d: (order.get(d.latest.level, 9), d.model))
    return [
        (
            d.model,
            (
                safe(d.model, 120),
                status_text(d.latest.level) + Text(f" {d.latest.share:.0%}"),
                Text(sparkline(d.shares, top=1.0)),
                top_features(d.latest),
            ),
        )
        for d in items
    ]


def summary(data: list[ModelDrift]) -> str:
    bad = sum(1 for d in data if d.latest.level == "drift")
    return f"{bad} drifting" if bad else ""


SPEC = PaneSpec(
    name="drift",
    title="Drift",
    columns=[
        ("model", "Model"),
        ("level", "Level, share"),
        ("trend", "Trend"),
        ("features", "Most drifted"),
    ],
    empty="No drift computed yet (log inference inputs with `lookout log`).",
    key=watch.drift_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("trend", "features"),
)
