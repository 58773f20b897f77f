"""Drift for one model: per feature the score, its history, and reference vs current histogram."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from lookout.console.format import bar, number, safe, span, sparkline, status_text, when
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import drift, registry, watch
from lookout.storage.db import Store
from lookout.storage.records import DriftResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

WINDOW_ROWS = 5000
BAR = 24


@dataclass(frozen=True)
class Histogram:
    edges: list[float]  # inner edges: one bin more than edges, the outer ones open
    reference: list[float]  # shares, sum 1
    current: list[float]


@dataclass(frozen=True)
class DriftDetail:
    history: list[DriftResult]  # newest first
    histograms: dict[str, Histogram]


def histograms(store: Store, model: str, version: int | None) -> dict[str, Histogram]:
    """Reference deciles from the version's profile; the current window binned the same way."""
    if version is None:
        return {}
    features = (registry.get_profile(store, model, version) or {}).get("features") or {}
    if not features:
        return {}
    import numpy as np  # only when this screen fetches: numpy costs the first frame 0.2 s
    from lookout.scheduler.drift import histogram

    batches = drift.load_window(store, model, max_rows=WINDOW_ROWS)
    out = {}
    for name, f in features.items():
        if not isinstance(f, dict):
            continue
        parts = [
            np.frombuffer(col, "<f8")
            for b in batches
            if isinstance(col := b.columns.get(name), memoryview)
        ]
        values = np.concatenate(parts) if parts else np.empty(0)
        shares = histogram(f, values)
        if shares is not None:
            out[name] = Histogram(*shares)
    return out


def fetch(store: Store, model: str) -> DriftDetail:
    hist = drift.history(store, model, limit=30)
    return DriftDetail(hist, histograms(store, model, hist[0].version if hist else None))


def histogram_view(name: str, h: Histogram) -> Table:
    t = Table(
        box=None, padding=(0, 1), show_edge=False, title=safe(f"{name}: reference vs current", 60)
    )
    t.add_column("bin")
    t.add_column("reference")
    t.add_column("current")
    labels = (
        [f"< {number(h.edges[0])}"]
        + [f"{number(a)}–{number(b)}" for a, b in zip(h.edges, h.edges[1:], strict=False)]
        + [f"≥ {number(h.edges[-1])}"]
    )
    for i, label in enumerate(labels):
        ref = h.reference[i] if i < len(h.reference) else 0.0
        cur = h.current[i] if i < len(h.current) else None
        ref_bar = Text("█" * round(ref * BAR), style="blue") + Text(f" {ref:.0%}")
        cur_bar = (
            Text("-", style="dim")
            if cur is None
            else Text("█" * round(cur * BAR), style="magenta") + Text(f" {cur:.0%}")
        )
        t.add_row(Text(label), ref_bar, cur_bar)
    return t


class DriftScreen(LookoutScreen):
    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.detail: DriftDetail | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(
            safe(f"Drift {self.model}", 80, style="bold"), classes="title", id="drift-title"
        )
        yield KeyedTable(
            [
                ("feature", "Feature"),
                ("method", "Method"),
                ("score", "Score"),
                ("threshold", "Threshold"),
                ("level", "Level"),
                ("bar", "Score vs threshold"),
                ("history", "History"),
            ],
            id="features",
        )
        with VerticalScroll(id="histogram"):
            yield Static(Text("select a feature", style="dim"), id="histogram-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#features").focus()

    def sources(self) -> dict[str, Any]:
        return {"drift": (watch.drift_key, partial(fetch, model=self.model))}

    def show_data(self, name: str, data: DriftDetail) -> None:
        self.detail = data
        title = self.query_one("#drift-title", Static)
        if not data.history:
            title.update(safe(f"Drift {self.model}: nothing computed yet", 80, style="bold"))
            self.query_one("#features", KeyedTable).sync([])
            return
        latest = data.history[0]
        head = safe(f"Drift {self.model}", 40, style="bold")
        head.append("  ")
        head.append_text(status_text(latest.level))
        head.append(
            f"  {latest.share:.0%} of features drifted · {latest.rows} rows · {when(latest.at)} UTC"
            f" ({span(max(0.0, self.lookout.times.now - latest.at))} ago)"
        )
        title.update(head)
        past: dict[str, list[float | None]] = {}
        for result in reversed(data.history):
            scores = {f.name: f.strength for f in result.features}
            for f in latest.features:
                past.setdefault(f.name, []).append(scores.get(f.name))
        feats = sorted(latest.features, key=lambda f: f.strength or 0.0, reverse=True)
        self.query_one("#features", KeyedTable).sync(
            [
                (
                    f.name,
                    (
                        safe(f.name, 120),
                        safe(f.method, 40),
                        Text(number(f.score) if f.score is not None else "-"),
                        Text(number(f.threshold)),
                        status_text(f.level),
                        bar(f.strength, 12),
                        Text(sparkline(past.get(f.name, []))),
                    ),
                )
                for f in feats
            ]
        )
        self._show_histogram()

    def _show_histogram(self) -> None:
        key = self.query_one("#features", KeyedTable).selected_key
        box = self.query_one("#histogram-text", Static)
        if self.detail is None or key is None:
            return
        h = self.detail.histograms.get(key)
        if h is None:
            box.update(
                safe(f"{key}: no reference histogram recorded for this version", 90, style="dim")
            )
        else:
            box.update(histogram_view(key, h))

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        self._show_histogram()
