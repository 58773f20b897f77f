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
from textual.containers import Horizontal, Vertical
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
    t.add_column("")
    t.add_column(f"v{a.version}", justify="right")
    t.add_column(f"v{b.version}", justify="right")
    t.add_column("Δ", justify="right")

    def section(title: str, left: dict[str, Any], right: dict[str, Any], deltas: bool) -> None:
        t.add_row(Text(title, style="bold underline"), "", "", "")
        for name in sorted(set(left) | set(right)):
            old, new = left.get(name), right.get(name)
            same = old == new
            t.add_row(
                safe(name, 26),
                safe(number(old) if old is not None else "-", 22),
                safe(number(new) if new is not None else "-", 22, style="" if same else "bold"),
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


class ModelScreen(LookoutScreen):
    BINDINGS = [
        Binding("P", "promote", "Promote", id="model.promote"),
        Binding("a", "approve", "Approve", id="model.approve"),
        Binding("x", "reject", "Reject", id="model.reject"),
        Binding("b", "rollback", "Rollback", id="model.rollback"),
        Binding("m", "mark", "Compare with", id="model.mark"),
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
                id="versions",
            )
            yield Static(id="compare")
        with Horizontal(id="model-bottom"):
            with Vertical():
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
                    id="requests",
                )
            with Vertical():
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
                        safe(", ".join(v.aliases) or "-", 24, style="bold" if v.aliases else "dim"),
                        Text(times.ago(v.created_at)),
                        Text(f"{number(v.metrics.get(metric))}" if metric in v.metrics else "-"),
                        delta(v.metrics.get(metric), base),
                        safe(", ".join(f"{k}={t}" for k, t in v.tags.items()), 30),
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
                        safe(f"{r.alias} v{r.from_version or '-'} → v{r.version}", 30),
                        safe(r.requested_by, 14),
                        Text(
                            "✓ pass"
                            if r.gates_passed
                            else "✗ " + ",".join(g.name for g in r.gates if not g.passed)
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
                        safe(t.alias, 12),
                        Text(f"v{t.from_version or '-'} → v{t.to_version or '-'}"),
                        safe(t.kind, 10),
                        safe(t.actor, 14),
                        safe(t.reason, 40),
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
        if self.detail is None or not self.detail.versions:
            self.query_one("#compare", Static).update(
                Text("No versions registered yet.", style="dim")
            )
            return
        b = self._selected_version() or self.detail.versions[0]
        other = self.marked
        if other is None:
            prod = next((v for v in self.detail.versions if "production" in v.aliases), None)
            other = prod.version if prod and prod.version != b.version else None
        if other is None:
            other = next((v.version for v in self.detail.versions if v.version != b.version), None)
        a = next((v for v in self.detail.versions if v.version == other), None)
        box = self.query_one("#compare", Static)
        if a is None:
            box.update(Text("Only one version: nothing to compare.", style="dim"))
            return
        box.border_title = f"compare v{a.version} ↔ v{b.version} (m marks)"
        box.update(compare(a, b, self.detail.drift))

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        if event.table.id == "versions":
            self._show_compare()

    def action_mark(self) -> None:
        v = self._selected_version()
        if v is not None:
            self.marked = v.version
            self._show_compare()

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
