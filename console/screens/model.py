"""A model: versions, two versions compared side by side, promotion requests and history."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from lookout.console import actions
from lookout.console.format import delta, number, safe, status_text
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import drift, registry, watch
from lookout.storage.db import Store
from lookout.storage.records import AliasTransition, DriftResult, Model, PromotionRequest, Version
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static


@dataclass(frozen=True)
class ModelDetail:
    model: Model | None
    versions: list[Version]
    requests: list[PromotionRequest]
    transitions: list[AliasTransition]
    drift: list[DriftResult]


def fetch(store: Store, name: str) -> ModelDetail:
    return ModelDetail(
        registry.get_model(store, name),
        registry.list_versions(store, name, limit=200),
        registry.list_requests(store, model=name, limit=50),
        registry.transitions(store, name, limit=50),
        drift.history(store, name, limit=50),
    )


def key(store: Store) -> tuple[object, ...]:
    return (*watch.models_key(store), *watch.drift_key(store))


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def compare(a: Version, b: Version, drift_results: list[DriftResult]) -> Table:
    """Metrics, params, lineage and drift of two versions, side by side."""
    t = Table(box=None, padding=(0, 1), expand=False, show_edge=False)
    # long names and values wrap onto more lines rather than being cut
    t.add_column("", overflow="fold", ratio=3)
    t.add_column(f"v{a.version}", justify="right", overflow="fold", ratio=2)
    t.add_column(f"v{b.version}", justify="right", overflow="fold", ratio=2)
    t.add_column("Δ", justify="right", no_wrap=True)

    def section(title: str, left: dict[str, Any], right: dict[str, Any], deltas: bool) -> None:
        t.add_row(Text(title, style="bold underline"), "", "", "")
        for name in sorted(set(left) | set(right)):
            old, new = left.get(name), right.get(name)
            same = old == new
            t.add_row(
                safe(name, 120),
                _value(old),
                _value(new, "" if same else "bold"),
                delta(new, old) if deltas else Text("" if same else "≠", style="yellow"),
            )

    section("metrics", a.metrics, b.metrics, True)
    section("params", _flat(a.params), _flat(b.params), False)
    section("lineage", _flat(a.lineage), _flat(b.lineage), False)

    def drift_of(v: Version) -> dict[str, Any]:
        d = next((d for d in drift_results if d.version == v.version), None)
        return {} if d is None else {"level": d.level, "share": f"{d.share:.0%}"}

    section("drift", drift_of(a), drift_of(b), False)
    section(
        "artifact",
        {"sha256": (a.artifact_sha256 or "-")[:12]},
        {"sha256": (b.artifact_sha256 or "-")[:12]},
        False,
    )
    return t


def _value(value: object, style: str = "") -> Text:
    """A metric, param or lineage value in full (numbers to four significant digits)."""
    if value is None:
        return Text("-", style=style)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Text(number(value), style=style)
    return safe(value, 300, style=style)


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


def _aliases(v: Version, marked: bool) -> Text:
    """The version's aliases, and whether it is marked to compare (`m`)."""
    text = safe(", ".join(v.aliases) or "-", 120, style="bold" if v.aliases else "dim")
    if marked:
        text.append(" · marked", style="bold yellow")
    return text


class ModelScreen(LookoutScreen):
    BINDINGS = [
        Binding("P", "promote", "Promote", id="model.promote"),
        Binding("a", "approve", "Approve", id="model.approve"),
        Binding("x", "reject", "Reject", id="model.reject"),
        Binding("b", "rollback", "Rollback", id="model.rollback"),
        Binding("m", "mark", "Mark to compare", id="model.mark"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.detail: ModelDetail | None = None
        self.marked: int | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(
            safe(f"Model {self.model_name}", 80, style="bold"), classes="title", id="model-title"
        )
        with Horizontal(id="model-top"):
            yield KeyedTable(
                [
                    ("version", "Ver"),
                    ("aliases", "Aliases"),
                    ("created", "Age"),
                    ("metric", "Metric"),
                    ("change", "Δ prod"),
                    ("tags", "Tags"),
                ],
                flex=("tags",),
                id="versions",
            )
            with VerticalScroll(id="compare"):  # focusable: tab to it, scroll it, z zooms it
                yield Static(id="compare-text")
        with Vertical(id="model-bottom"):
            yield Static(Text("Promotion requests", style="bold"))
            yield KeyedTable(
                [
                    ("id", "Req"),
                    ("status", "Status"),
                    ("change", "Change"),
                    ("by", "By"),
                    ("gates", "Gates"),
                    ("approvals", "Approvals"),
                ],
                flex=("gates",),
                id="requests",
            )
            yield Static(Text("Promotion history", style="bold"))
            yield KeyedTable(
                [
                    ("at", "Age"),
                    ("alias", "Alias"),
                    ("move", "Move"),
                    ("kind", "Kind"),
                    ("actor", "By"),
                    ("reason", "Reason"),
                ],
                flex=("reason",),
                id="history",
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#versions").focus()

    def sources(self) -> dict[str, Any]:
        return {"model": (key, partial(fetch, name=self.model_name))}

    def show_data(self, name: str, data: ModelDetail) -> None:
        self.detail = data
        if data.model is None:
            self.query_one("#model-title", Static).update(
                safe(f"Model {self.model_name}: not registered (nothing recorded)", 90)
            )
        times = self.lookout.times
        self.query_one("#versions", KeyedTable).relabel({"created": times.label("Created (UTC)")})
        self.query_one("#history", KeyedTable).relabel({"at": times.label("At (UTC)")})
        metric = data.model.primary_metric if data.model else ""
        prod = next((v for v in data.versions if "production" in v.aliases), None)
        base = prod.metrics.get(metric) if prod else None
        self.query_one("#versions", KeyedTable).sync(
            [
                (
                    str(v.version),
                    (
                        Text(f"v{v.version}"),
                        _aliases(v, v.version == self.marked),
                        Text(times.ago(v.created_at)),
                        Text(f"{number(v.metrics.get(metric))}" if metric in v.metrics else "-"),
                        delta(v.metrics.get(metric), base),
                        safe(", ".join(f"{k}={t}" for k, t in v.tags.items()), 200),
                    ),
                )
                for v in data.versions
            ]
        )
        self.query_one("#requests", KeyedTable).sync(
            [
                (
                    str(r.id),
                    (
                        Text(str(r.id)),
                        status_text(r.status),
                        safe(f"{r.alias} {_v(r.from_version)} → {_v(r.version)}", 120),
                        safe(r.requested_by, 60),
                        Text("✓ pass", style="green")
                        if r.gates_passed
                        else safe(
                            "✗ " + ", ".join(g.name for g in r.gates if not g.passed),
                            120,
                            style="bold red",
                        ),
                        Text(
                            f"{sum(a.decision == 'approve' for a in r.approvals)}/{r.approvals_required}"
                        ),
                    ),
                )
                for r in data.requests
            ]
        )
        self.query_one("#history", KeyedTable).sync(
            [
                (
                    str(t.id),
                    (
                        Text(times.ago(t.at)),
                        safe(t.alias, 60),
                        Text(f"{_v(t.from_version)} → {_v(t.to_version)}"),
                        safe(t.kind, 20),
                        safe(t.actor, 60),
                        safe(t.reason, 300),
                    ),
                )
                for t in data.transitions
            ]
        )
        self._show_compare()

    def _selected_version(self) -> Version | None:
        key = self.query_one("#versions", KeyedTable).selected_key
        if self.detail is None or key is None:
            return None
        return next((v for v in self.detail.versions if str(v.version) == key), None)

    def _show_compare(self) -> None:
        """The selected version against the marked one (`m`), else against production,
        else against another version; never a version against itself."""
        box = self.query_one("#compare", VerticalScroll)
        text = self.query_one("#compare-text", Static)
        box.border_subtitle = ""
        if self.detail is None or not self.detail.versions:
            box.border_title = "compare"
            text.update(Text("No versions registered yet.", style="dim"))
            return
        versions = {v.version: v for v in self.detail.versions}
        if self.marked not in versions:
            self.marked = None
        b = self._selected_version() or self.detail.versions[0]
        if self.marked == b.version:
            box.border_title = f"compare v{b.version} (marked) with…"
            box.border_subtitle = f"m on v{b.version} unmarks"
            text.update(
                Text(
                    f"v{b.version} is marked. Move to another version to compare the two;"
                    f" m on v{b.version} again unmarks it.",
                    style="dim",
                )
            )
            return
        other = self.marked
        if other is None:
            prod = next((v for v in self.detail.versions if "production" in v.aliases), None)
            other = prod.version if prod and prod.version != b.version else None
        if other is None:
            other = next((v.version for v in self.detail.versions if v.version != b.version), None)
        a = versions.get(other) if other is not None else None
        if a is None:
            box.border_title = "compare"
            text.update(Text("Only one version: nothing to compare it with.", style="dim"))
            return
        how = (
            "marked"
            if self.marked is not None
            else "production"
            if "production" in a.aliases
            else ""
        )
        box.border_title = f"compare v{a.version}{f' ({how})' if how else ''} ↔ v{b.version}"
        box.border_subtitle = (
            f"m on v{a.version} unmarks" if self.marked is not None else f"m marks v{b.version}"
        )
        text.update(compare(a, b, self.detail.drift))

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        if event.table.id == "versions":
            self._show_compare()

    def action_mark(self) -> None:
        """Mark the selected version to compare others with; on the marked one, unmark."""
        v = self._selected_version()
        if v is None:
            return
        self.marked = None if self.marked == v.version else v.version
        if self.detail is not None:
            self.show_data("model", self.detail)  # the versions list shows the mark

    def action_promote(self) -> None:
        v = self._selected_version()
        if v is None:
            self.lookout.report("select a version to promote")
            return
        actions.promote(self.lookout, self.model_name, v.version)

    def action_rollback(self) -> None:
        actions.rollback(self.lookout, self.model_name)

    def _pending_request(self) -> int | None:
        if self.detail is None:
            return None
        table = self.query_one("#requests", KeyedTable)
        if self.focused is table and table.selected_key is not None:
            return int(table.selected_key)
        pending = [r for r in self.detail.requests if r.status == "pending"]
        return pending[0].id if pending else None

    def _decide(self, verb: str) -> None:
        request_id = self._pending_request()
        if request_id is None:
            self.lookout.report(f"no pending promotion request to {verb}")
            return
        actions.decide(self.lookout, verb, request_id)

    def action_approve(self) -> None:
        self._decide("approve")

    def action_reject(self) -> None:
        self._decide("reject")
