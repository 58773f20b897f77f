"""The console's on-call parts: `/` on the timeline searches, and the palette writes the
hand-off report."""

from __future__ import annotations

from pathlib import Path

import pytest
from lookout.console.commands.screenshots import settle
from lookout.console.screens.pipeline import PipelineScreen
from lookout.console.screens.timeline import TimelineScreen
from lookout.console.widgets import KeyedTable
from lookout.scheduler.workspace import Workspace

from tests.test_console import make, type_text


async def test_slash_on_the_timeline_searches_and_escape_comes_back(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("timeline")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        events_table = screen.query_one("#events", KeyedTable)
        shown = events_table.row_count

        await pilot.press("slash")
        await type_text(pilot, "fraud validate")
        await pilot.press("enter")
        await settle(pilot)
        results = screen.query_one("#results", KeyedTable)
        assert screen.searching and results.display and not events_table.display
        assert app.focused is results
        assert results.row_count == 2  # the run's failure event and its validate stage log
        title = str(screen.query_one("#timeline-title").render())
        assert "“fraud validate” · 2 found" in title

        # Enter on the stage log opens its pipeline.
        while screen._hits[results.selected_key].kind != "log":  # noqa: SLF001
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PipelineScreen)
        assert app.screen.pipeline_name == "fraud-train"

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.searching
        await pilot.press("escape")
        await settle(pilot)
        assert not screen.searching and events_table.display
        assert events_table.row_count == shown and app.focused is events_table


async def test_a_search_that_finds_nothing_says_so(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("timeline")
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "zebra")
        await pilot.press("enter")
        await settle(pilot)
        assert "0 found" in str(app.screen.query_one("#timeline-title").render())


async def test_the_palette_writes_the_handoff_report(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "hand-off")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    [written] = tmp_path.glob("lookout-report-*.html")
    html = written.read_text()
    assert html.startswith("<!doctype html>") and "Hand-off report: acme-ml" in html
