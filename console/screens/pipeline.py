"""A pipeline: its runs, the selected run's stages on a timeline, and the stage's log."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from lookout.console import actions
from lookout.console.format import Cells, duration, safe, safe_block, status_text
from lookout.console.panes.pipelines import run_seconds, stage_strip
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import pipelines, watch
from lookout.storage.db import Store
from lookout.storage.records import Pipeline, Run, StageRun
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

TIMELINE_WIDTH = 24


@dataclass(frozen=True)
class PipelineDetail:
    pipeline: Pipeline | None
    runs: list[Run]


def fetch(store: Store, name: str) -> PipelineDetail:
    return PipelineDetail(
        pipelines.get_pipeline(store, name), pipelines.list_runs(store, name, 100)
    )


def timeline(stage: StageRun, run: Run) -> Text:
    """Where in the run this stage ran, as a bar on a shared time axis."""
    start = run.started_at
    ends = [s.ended_at for s in run.stages if s.ended_at is not None]
    if start is None or stage.started_at is None or not ends:
        return Text("")
    span = max(max(ends) - start, 1e-9)
    a = int((stage.started_at - start) / span * TIMELINE_WIDTH)
    b = int(((stage.ended_at or max(ends)) - start) / span * TIMELINE_WIDTH)
    b = max(b, a + 1)
    return Text(" " * a + "█" * (b - a), style="cyan")


class PipelineScreen(LookoutScreen):
    BINDINGS = [
        Binding("R", "trigger", "Run now", id="pipeline.trigger"),
        Binding("y", "retry", "Retry run", id="pipeline.retry"),
        Binding("c", "cancel_run", "Cancel run", id="pipeline.cancel"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.pipeline_name = name
        self.detail: PipelineDetail | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(safe(f"Pipeline {self.pipeline_name}", 80, style="bold"), classes="title")
        yield KeyedTable(
            [
                ("run", "Run"),
                ("status", "Status"),
                ("stages", "Stages"),
                ("trigger", "Trigger"),
                ("by", "By"),
                ("started", "Age"),
                ("took", "Took"),
            ],
            flex=("stages",),
            id="runs",
        )
        yield KeyedTable(
            [
                ("stage", "Stage"),
                ("status", "Status"),
                ("started", "Age"),
                ("took", "Took"),
                ("timeline", "Timeline"),
            ],
            id="stages",
        )
        with VerticalScroll(id="log"):
            yield Static(Text("select a stage to see its log", style="dim"), id="log-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#runs").focus()

    def sources(self) -> dict[str, Any]:
        return {"pipeline": (watch.pipelines_key, partial(fetch, name=self.pipeline_name))}

    def show_data(self, name: str, data: PipelineDetail) -> None:
        self.detail = data
        times = self.lookout.times
        self.query_one("#runs", KeyedTable).relabel({"started": times.label("Started (UTC)")})
        self.query_one("#stages", KeyedTable).relabel({"started": times.label("Started (UTC)")})
        rows: list[tuple[str, Cells]] = [
            (
                str(r.id),
                (
                    Text(f"#{r.id}"),
                    status_text(r.status),
                    stage_strip(r, names=True),
                    safe(r.trigger, 40),
                    safe(r.triggered_by, 60),
                    Text(times.ago(r.started_at)),
                    Text(duration(run_seconds(r))),
                ),
            )
            for r in data.runs
        ]
        runs = self.query_one("#runs", KeyedTable)
        runs.sync(rows)
        if not data.runs:
            self.query_one("#log-text", Static).update(
                Text("No runs recorded yet. Press R to run it now.")
            )
        self._show_run()

    def _run(self) -> Run | None:
        key = self.query_one("#runs", KeyedTable).selected_key
        if self.detail is None or key is None:
            return None
        return next((r for r in self.detail.runs if str(r.id) == key), None)

    def _show_run(self) -> None:
        run = self._run()
        stages = self.query_one("#stages", KeyedTable)
        if run is None:
            stages.sync([])
            return
        fresh = getattr(self, "_shown_run", None) != run.id
        self._shown_run = run.id
        stages.sync(
            [
                (
                    s.name,
                    (
                        safe(s.name, 60),
                        status_text(s.status),
                        Text(self.lookout.times.ago(s.started_at)),
                        Text(duration(s.seconds)),
                        timeline(s, run),
                    ),
                )
                for s in run.stages
            ]
        )
        if fresh:
            # Start on the stage that needs a look: the failed or running one.
            focus = next(
                (
                    i
                    for i, s in enumerate(run.stages)
                    if s.status in ("failed", "running", "interrupted")
                ),
                0,
            )
            stages.move_cursor(row=focus)
        self._show_log()

    def _show_log(self) -> None:
        run = self._run()
        key = self.query_one("#stages", KeyedTable).selected_key
        stage = next((s for s in run.stages if s.name == key), None) if run else None
        text = Text()
        if run is not None and run.error:
            text.append("run error: ", style="bold red")
            text.append_text(safe_block(run.error))
            text.append("\n")
        if stage is not None:
            text.append(f"── {stage.name} ", style="bold")
            text.append_text(status_text(stage.status))
            text.append("\n")
            if stage.error:
                text.append_text(safe_block(stage.error, style="red"))
                text.append("\n")
            text.append_text(safe_block(stage.log_tail or "(no log)"))
        self.query_one("#log-text", Static).update(text)

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        if event.table.id == "runs":
            self._show_run()
        elif event.table.id == "stages":
            self._show_log()

    def action_trigger(self) -> None:
        actions.trigger_run(self.lookout, self.pipeline_name)

    def action_retry(self) -> None:
        run = self._run()
        if run is None or run.status not in ("failed", "interrupted", "cancelled"):
            self.lookout.report("select a failed, interrupted or cancelled run to retry")
            return
        actions.trigger_run(self.lookout, self.pipeline_name, retry_of=run.id)

    def action_cancel_run(self) -> None:
        run = self._run()
        if run is None or run.status not in ("queued", "running"):
            self.lookout.report("select a queued or running run to cancel")
            return
        actions.cancel_run(self.lookout, run.id)
