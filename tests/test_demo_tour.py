"""The README's five-minute tour, step by step, on the demo workspace after fifteen minutes
of its live traffic: what the tour says is still what a newcomer sees and can do.

The demo's serving system and scheduler are played forward in simulated time (a batch
every 5 s, checks and drift every 30 s, a file-triggered run whenever a file lands), so
fifteen minutes take seconds; then the console is driven through the tour's keys.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lookout.console.app import LookoutApp
from lookout.console.commands.screenshots import settle
from lookout.console.format import glyph
from lookout.console.modals.confirm import ConfirmModal
from lookout.console.modals.note import NoteModal
from lookout.console.screens.audit import AuditScreen
from lookout.console.screens.model import ModelScreen
from lookout.console.screens.timeline import TimelineScreen
from lookout.console.widgets import KeyedTable
from lookout.scheduler import demo, drift_job
from lookout.scheduler.checks import engine as check_engine
from lookout.scheduler.pipeline import queue_run
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, checks, drift, events, pipelines, registry

SERVED_EVERY = demo.TRAFFIC_SECONDS
JOBS_EVERY = 30.0  # checks run every 30 s in the demo, drift every 10 s: 30 s is enough here


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tour") / "demo"
    demo.build(root, say=lambda _line: None).close()
    return root


class Live:
    """The demo running: its serving system, and the scheduler's jobs, in simulated time."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.traffic = demo.Traffic(
            ws,
            step=demo.RAMP_STEPS,
            incoming_every=round(demo.INCOMING_SECONDS / demo.TRAFFIC_SECONDS),
        )
        self.scheduler = Scheduler(ws)
        self.seconds = 0.0
        self.incoming = ws.root / "data" / "wine" / "incoming.csv"

    def play(self, seconds: float) -> None:
        for _ in range(round(seconds / SERVED_EVERY)):
            before = self.incoming.stat().st_mtime_ns
            self.traffic.tick()
            self.seconds += SERVED_EVERY
            if self.seconds % JOBS_EVERY == 0:
                check_engine.run_dataset(self.ws, "wine")
                for model in self.traffic.frames:
                    drift_job.run_drift(self.ws, model)
            if self.incoming.stat().st_mtime_ns != before:  # the file trigger
                queue_run(self.ws, "wine_train", "file", "scheduler")
            self.scheduler.run_once()


def latest_run(ws: Workspace, pipeline: str) -> Any:
    return pipelines.latest_runs(ws.store)[pipeline]


def pending(ws: Workspace) -> list[Any]:
    return registry.list_requests(ws.store, model="wine_quality", status="pending")


def check(ws: Workspace, name: str) -> str:
    return next(r.result for r in checks.latest_results(ws.store) if r.name == name)


def screen_text(app: LookoutApp) -> str:
    return "\n".join(
        "".join(s.text for s in strip)
        for strip in app.screen._compositor.render_strips()  # noqa: SLF001
    )


def row_of(table: KeyedTable, key: str) -> str:
    """The row's text, every line of it (line 0 of the table is its header)."""
    return " ".join(table.render_line(line + 1).text for line in table.lines_of(key))


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


@pytest.mark.slow
async def test_the_tour_holds_after_fifteen_minutes_and_its_keys_work(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = tmp_path / "demo"
    shutil.copytree(built, root)
    ws = open_workspace(root)
    live = Live(ws)
    live.play(15 * 60)

    # 1. Overview, as the tour describes it, fifteen minutes in.
    run = latest_run(ws, "wine_train")
    assert run.status == "failed"
    assert next(s for s in run.stages if s.status == "failed").name == "validate"
    # green: succeeded, or a rerun that found nothing new to train
    assert glyph(latest_run(ws, "diabetes_train").status) == "✓"
    assert check(ws, "magnesium_present") == "fail"
    assert {d.model: d.level for d in drift.latest_each(ws.store)}["wine_quality"] == "drift"
    assert registry.aliases(ws.store, "wine_quality")["production"] == 1
    (request,) = pending(ws)
    assert request.requested_by == "pipeline:wine_train" and request.version == 3
    assert request.gates_passed  # approving it needs no override

    app = LookoutApp(ws, start_scheduler=False)  # acting as whoever runs the test
    user = app.user
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        overview = app.screen
        assert "✗ failed" in row_of(
            overview.query_one("#table-pipelines", KeyedTable), "wine_train"
        )
        assert "✗ fail" in row_of(
            overview.query_one("#table-checks", KeyedTable), "wine.magnesium_present"
        )
        assert "✗ drift" in row_of(overview.query_one("#table-drift", KeyedTable), "wine_quality")
        models = overview.query_one("#table-models", KeyedTable)
        assert "v1" in row_of(models, "model:wine_quality")
        assert f"→ request {request.id}" in row_of(models, f"request:{request.id}")

        # 2. Triage: tab to Events, e for the whole timeline, a acknowledges with a note.
        await pilot.press("shift+tab")
        await settle(pilot)
        assert app.focused is overview.query_one("#table-events")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)
        acked = app.screen.query_one("#events", KeyedTable).selected_key
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, NoteModal)
        await type_text(pilot, "looking")
        await pilot.press("enter")
        await settle(pilot)
        assert next(e for e in events.list_events(ws.store) if str(e.id) == acked).acked_by == user
        await pilot.press("escape")
        await settle(pilot)

        # 3. Why v1? The model screen's history shows v2 promoted, then rolled back.
        app.jump("model wine_quality")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen)
        history = screen.query_one("#history", KeyedTable)
        rows = [row_of(history, key) for key in history.keys]
        assert any("v2 → v1" in r and "rollback" in r and "mislabels class 2" in r for r in rows)
        assert any("v1 → v2" in r and "promotion" in r for r in rows)
        await pilot.press("m", "down")  # mark v3, compare it with v2
        await settle(pilot)
        assert str(screen.query_one("#compare").border_title) == "compare v3 (marked) ↔ v2"

        # 4. Approve the candidate: a, the gates, type the version and a reason.
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("tab")
        await type_text(pilot, "3")
        await pilot.press("tab")
        await type_text(pilot, "tour approval")
        await pilot.press("enter")
        await settle(pilot)
        assert registry.aliases(ws.store, "wine_quality")["production"] == 3
        pointer = ws.config.artifacts / "serving" / "wine_quality" / "production"
        assert json.loads(pointer.read_text())["version"] == 3
        assert "approve" in {e.action for e in audit.entries(ws.store, limit=5)}

        # 5. Roll back: b puts the previous production version back; :audit, v verifies.
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("tab")
        await type_text(pilot, "1")
        await pilot.press("tab")
        await type_text(pilot, "tour rollback")
        await pilot.press("enter")
        await settle(pilot)
        assert registry.aliases(ws.store, "wine_quality")["production"] == 1
        app.jump("audit")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        await pilot.press("v")
        await settle(pilot)
        assert "✓ verified" in screen_text(app)

    # 6. Watch it move: the first file, ten minutes in, was broken again; the next, twenty
    # minutes in, is good: the check goes green and a new candidate is trained.
    live.play(6 * 60)
    assert check(ws, "magnesium_present") == "pass"
    assert latest_run(ws, "wine_train").status == "succeeded"
    (newer,) = pending(ws)
    assert newer.version > 3
    ws.close()
