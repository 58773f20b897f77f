"""A pipeline: its runs, the selected run's stages on a timeline, and the stage's log.

For a pipeline an outside system runs (Airflow), the title says how fresh the mirror
is, and opening a stage asks the scheduler to fetch the last lines of its log (once
per try and state); until they arrive, or if Airflow cannot be reached, the log
pane says so in one line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from lookout.console import actions
from lookout.console.format import (
    Cells,
    duration,
    freshness,
    safe,
    safe_block,
    status_text,
    when,
)
from lookout.console.panes.pipelines import Mirror, mirror_of, run_seconds, stage_strip
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.storage import pipelines, scheduling, watch
from lookout.storage.db import Store
from lookout.storage.records import Pipeline, Run, StageRun
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

TIMELINE_WIDTH = 24
LOG_WAIT = 20.0  # seconds to wait for a fetched log before saying it has not come


@dataclass(frozen=True)
class PipelineDetail:
    pipeline: Pipeline | None
    runs: list[Run]
    mirror: Mirror | None = None


def fetch(store: Store, name: str) -> PipelineDetail:
    pipeline = pipelines.get_pipeline(store, name)
    return PipelineDetail(
        pipeline,
        pipelines.list_runs(store, name, 100),
        mirror_of(store, pipeline.kind) if pipeline is not None else None,
    )


def stage_facts(stage: StageRun) -> str:
    """A mirrored stage's try number, operator and times, for the head of its log."""
    parts = []
    if stage.try_number:
        parts.append(f"try {stage.try_number}")
    if stage.operator:
        parts.append(stage.operator)
    if stage.started_at is not None:
        end = when(stage.ended_at)[-5:] if stage.ended_at is not None else "…"
        parts.append(f"{when(stage.started_at)} → {end}")
    return " · ".join(parts)


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
        self._asked: set[tuple[int, str, int | None, str]] = set()  # logs asked for
        self._log_notes: dict[tuple[int, str], str] = {}  # why a log has not come

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
        if data.mirror is not None:
            dag = (data.pipeline.config.get("dag_id") if data.pipeline else None) or "?"
            head = f"Pipeline {self.pipeline_name} ⇄ {data.mirror.title} DAG {dag} · "
            self.query_one(".title", Static).update(
                safe(head + freshness(data.mirror.title, data.mirror.sync), 100, style="bold")
            )
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
        mirror = self.detail.mirror if self.detail is not None else None
        if mirror is not None and mirror.sync.error:
            text.append(f"{mirror.title}: ", style="bold yellow")
            text.append_text(safe_block(mirror.sync.error))
            text.append("\n")
        if run is not None and run.error:
            text.append("run error: ", style="bold red")
            text.append_text(safe_block(run.error))
            text.append("\n")
        if stage is not None:
            text.append(f"── {stage.name} ", style="bold")
            text.append_text(status_text(stage.status))
            facts = stage_facts(stage) if mirror is not None else ""
            if facts:
                text.append_text(safe(f"  {facts}", 80, style="dim"))
            text.append("\n")
            if stage.error:
                text.append_text(safe_block(stage.error, style="red"))
                text.append("\n")
            log = stage.log_tail
            if mirror is not None and run is not None:
                waiting = self._ask_for_log(run, stage)
                log = log or waiting
            text.append_text(safe_block(log or "(no log)"))
        self.query_one("#log-text", Static).update(text)

    def _ask_for_log(self, run: Run, stage: StageRun) -> str:
        """What to show for a mirrored stage's log until it arrives; asks for it once per
        try and state (a running task's log is asked for again when it ends)."""
        note = self._log_notes.get((run.id, stage.name))
        if not stage.try_number:
            return "(this task has not run yet)"
        ask = (run.id, stage.name, stage.try_number, stage.status)
        if ask not in self._asked:
            self._asked.add(ask)
            self._log_notes.pop((run.id, stage.name), None)
            note = None
            self.run_worker(partial(self._fetch_log, run.id, stage.name), thread=True, group="log")
        title = self.detail.mirror.title if self.detail and self.detail.mirror else "outside"
        return note or f"(fetching the log from {title}…)"

    def _fetch_log(self, run_id: int, stage: str) -> None:
        """Ask the scheduler for a stage's log and wait for its answer (a thread worker)."""
        store = self.lookout.ws.store
        asked = self.lookout.changes.perform("fetch_log", run=run_id, stage=stage)
        if not asked.ok:
            note = f"(log not fetched: {asked.message})"
            self.app.call_from_thread(self._log_note, run_id, stage, note)
            return
        deadline = time.monotonic() + LOG_WAIT
        tick = threading.Event()
        while time.monotonic() < deadline:
            got = scheduling.get_request(store, int(asked.data["request"]))
            if got is not None and got.status == "done":
                return  # the log is on the stage; the next refresh shows it
            if got is not None and got.status == "failed":
                note = f"(log not fetched: {got.result})"
                self.app.call_from_thread(self._log_note, run_id, stage, note)
                return
            tick.wait(0.2)
        waiting = "" if self.lookout.scheduler_alive() else ": no scheduler is running"
        self.app.call_from_thread(self._log_note, run_id, stage, f"(the log has not come{waiting})")

    def _log_note(self, run_id: int, stage: str, note: str) -> None:
        self._log_notes[(run_id, stage)] = note
        self._show_log()

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
