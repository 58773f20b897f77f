"""Pipelines pane: each pipeline's latest run as a strip of stage glyphs, and its next run."""

from __future__ import annotations

from dataclasses import dataclass

from lookout.console.format import STATUS, Cells, Times, duration, glyph, safe, status_text
from lookout.console.panes import PaneSpec
from lookout.storage import pipelines, watch
from lookout.storage.db import Store
from lookout.storage.records import Pipeline, Run
from rich.text import Text


@dataclass(frozen=True)
class PipelineState:
    pipeline: Pipeline
    run: Run | None


def fetch(store: Store) -> list[PipelineState]:
    latest = pipelines.latest_runs(store)
    return [PipelineState(p, latest.get(p.name)) for p in pipelines.list_pipelines(store)]


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
                    safe(p.pipeline.name, 120),
                    status_text(run.status) if run else Text("never run", style="dim"),
                    Text(duration(run_seconds(run)) if run else "-"),
                    Text(times.until(p.pipeline.next_run_at)),
                    stage_strip(run) if run else Text(""),
                ),
            )
        )
    return out


def summary(data: list[PipelineState]) -> str:
    bad = sum(1 for p in data if p.run and p.run.status in ("failed", "interrupted"))
    return f"{bad} failing" if bad else ""


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
