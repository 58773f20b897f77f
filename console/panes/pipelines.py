"""Pipelines pane: each pipeline's latest run as a strip of stage glyphs, and its next run.

Pipelines an outside system runs (Airflow) are marked with it, and the pane says how
fresh their mirror is: stale, with its age, when the last sync failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from lookout.console.format import (
    STATUS,
    Cells,
    Times,
    duration,
    freshness,
    glyph,
    safe,
    status_text,
)
from lookout.console.panes import PaneSpec
from lookout.scheduler.connectors import pipeline_source
from lookout.scheduler.connectors.base import SyncStatus
from lookout.storage import pipelines, watch
from lookout.storage.db import Store
from lookout.storage.records import Pipeline, Run
from rich.text import Text


@dataclass(frozen=True)
class Mirror:
    """The outside system that runs a pipeline, and how fresh Lookout's copy of its runs is."""

    source: str  # its kind, e.g. "airflow"
    title: str  # e.g. "Airflow"
    sync: SyncStatus


@dataclass(frozen=True)
class PipelineState:
    pipeline: Pipeline
    run: Run | None
    mirror: Mirror | None = None


def mirror_of(store: Store, kind: str) -> Mirror | None:
    """The mirror a pipeline of this kind is shown from; None for pipelines Lookout runs."""
    source = pipeline_source(kind)
    return None if source is None else Mirror(source.name, source.title, source.health(store))


def fetch(store: Store) -> list[PipelineState]:
    latest = pipelines.latest_runs(store)
    mirrors: dict[str, Mirror | None] = {}
    out = []
    for p in pipelines.list_pipelines(store):
        if p.kind not in mirrors:
            mirrors[p.kind] = mirror_of(store, p.kind)
        out.append(PipelineState(p, latest.get(p.name), mirrors[p.kind]))
    return out


def run_seconds(run: Run) -> float | None:
    if run.started_at is None:
        return None
    stages = [s.seconds for s in run.stages if s.seconds is not None]
    if run.ended_at is not None:
        return run.ended_at - run.started_at
    return sum(stages) if stages else None


def stage_strip(run: Run, names: bool = False) -> Text:
    """`✓✓✗-- validate`: a glyph per stage, then the name of the one that needs a look.

    With `names`, every stage is named (`✓load ✓validate ✗train`), for wide screens."""
    out = Text()
    for i, s in enumerate(run.stages):
        style = STATUS.get(s.status, ("", ""))[1]
        if names:
            out.append(" " if i else "")
            out.append(f"{glyph(s.status)}{s.name}", style=style)
        else:
            out.append(glyph(s.status), style=style)
    if not names:
        focus = next((s for s in run.stages if s.status not in ("succeeded", "skipped")), None)
        if focus is not None and focus.status != "pending":
            out.append(" ")
            out.append_text(safe(focus.name, 60))
    return out


def rows(data: list[PipelineState], times: Times) -> list[tuple[str, Cells]]:
    """By name: a fixed order, so a run changing state repaints one row, not the pane."""
    items = sorted(data, key=lambda p: p.pipeline.name)
    out: list[tuple[str, Cells]] = []
    for p in items:
        run = p.run
        out.append(
            (
                p.pipeline.name,
                (
                    _name(p),
                    status_text(run.status) if run else Text("never run", style="dim"),
                    Text(duration(run_seconds(run)) if run else "-"),
                    Text(times.until(p.pipeline.next_run_at)),
                    stage_strip(run) if run else Text(""),
                ),
            )
        )
    return out


def _name(p: PipelineState) -> Text:
    """A pipeline an outside system runs carries its mark, e.g. `wine ⇄ airflow`."""
    if p.mirror is None:
        return safe(p.pipeline.name, 120)
    return safe(p.pipeline.name, 120) + Text(f" ⇄ {p.mirror.source}", style="cyan")


def summary(data: list[PipelineState]) -> str:
    bad = sum(1 for p in data if p.run and p.run.status in ("failed", "interrupted"))
    parts = [f"{bad} failing"] if bad else []
    mirrors = {p.mirror.source: p.mirror for p in data if p.mirror is not None}
    parts.extend(freshness(m.title, m.sync) for _, m in sorted(mirrors.items()))
    return " · ".join(parts)


SPEC = PaneSpec(
    name="pipelines",
    title="Pipelines",
    columns=[
        ("name", "Pipeline"),
        ("status", "Last run"),
        ("took", "Took"),
        ("next", "Next"),
        ("stages", "Stages"),
    ],
    empty="No pipeline runs recorded yet. Start the scheduler or `lookout run PIPELINE`.",
    key=watch.pipelines_key,
    fetch=fetch,
    rows=rows,
    summary=summary,
    flex=("stages",),
    times={"next": ("Next", "Next (UTC)")},
)
