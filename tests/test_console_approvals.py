"""The approvals list: every pending promotion request in one queue, approved or rejected
from there with the typed confirmation, decided ones kept below; hidden keys for those who
may not decide, four-eyes said up front, hostile text shown inert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lookout.console.app import LookoutApp
from lookout.console.commands.screenshots import settle
from lookout.console.screens.approvals import ApprovalsScreen
from lookout.console.screens.model import ModelScreen
from lookout.console.showcase import seed
from lookout.console.widgets import KeyedTable
from lookout.scheduler.workspace import Workspace
from lookout.storage import registry
from lookout.storage.records import Gate
from textual.widgets import Button, Checkbox

from tests.test_console import USER, confirm, make, type_text, visible_actions
from tests.test_console_terminal import HOSTILE, NAMES, assert_clean


def request(ws: Workspace, model: str, version: int, by: str) -> int:
    """Another pending request, as `lookout promote` would leave it."""
    with ws.store.write() as conn:
        gates = [Gate("metric", True, "better than production")]
        return registry.create_request(conn, model, version, "production", by, "why", gates, 1).id


def lines(app: LookoutApp) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


def line_with(app: LookoutApp, text: str) -> str:
    return next(line for line in lines(app) if text in line)


async def open_approvals(pilot: Any) -> ApprovalsScreen:
    await settle(pilot)
    pilot.app.jump("approvals")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ApprovalsScreen)
    return screen


def table(screen: ApprovalsScreen, name: str) -> KeyedTable:
    return screen.query_one(f"#{name}", KeyedTable)


async def test_it_lists_every_pending_request_oldest_first(ws: Workspace) -> None:
    request(ws, "demand", 3, "bob")
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        assert table(screen, "pending").row_count == 2
        assert table(screen, "decided").row_count == 0
        text = "\n".join(lines(app))
        assert "Approvals · 2 waiting, oldest first" in text
        assert "Decided recently: none yet" in text
        churn = line_with(app, "churn")
        for cell in ("production v3 → v4", "✗ failed: drift", "f1 +0.014", "0/1", "scheduler"):
            assert cell in churn, cell
        assert "10m" in churn  # its age: seeded ten minutes before the console's clock
        demand = line_with(app, "demand")
        assert "✓ passed" in demand and "rmse +1.2" in demand and "bob" in demand
        assert text.index("churn") < text.index("demand")


async def test_approve_from_the_list_moves_the_request_to_decided(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        await pilot.press("a")
        await settle(pilot)
        modal = await confirm(pilot, "4", "drift is seasonal, checked with the team")
        modal.query_one(Checkbox).value = True  # the drift gate failed: override it openly
        await pilot.click("#confirm")
        await settle(pilot)
        assert app.screen is screen
        assert registry.aliases(ws.store, "churn")["production"] == 4
        assert table(screen, "pending").row_count == 0
        assert table(screen, "decided").row_count == 1
        assert "No promotion requests waiting for approval." in "\n".join(lines(app))
        decided = line_with(app, "drift is seasonal")
        for cell in ("✓ approved", USER, "▲ gates overridden"):
            assert cell in decided, cell


async def test_reject_needs_a_reason(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        await pilot.press("x")
        await settle(pilot)
        modal = await confirm(pilot, "4", "")
        button = modal.query_one("#confirm", Button)
        assert button.disabled  # the version is typed, but no reason given
        await pilot.click("#reason")
        await type_text(pilot, "not before the drift is understood")
        await pilot.pause()
        assert not button.disabled
        await pilot.click("#confirm")
        await settle(pilot)
        (req,) = registry.list_requests(ws.store, model="churn")
        assert (req.status, req.decided_by) == ("rejected", USER)
        assert registry.aliases(ws.store, "churn")["production"] == 3
        assert table(screen, "pending").row_count == 0
        assert "✗ rejected" in line_with(app, "not before the drift is understood")


@pytest.mark.parametrize("mode", ["readonly", "viewer"])
async def test_no_approve_or_reject_for_read_only_or_viewers(ws: Workspace, mode: str) -> None:
    app = make(ws, readonly=True) if mode == "readonly" else make(ws, user="bob")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        actions = visible_actions(app)
        assert "open" in actions and not actions & {"approve", "reject"}
        assert "Approve" not in line_with(app, "Open model")  # the key hints
        for key in "ax":
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
    assert registry.list_requests(ws.store)[0].status == "pending"


async def test_four_eyes_is_said_before_the_modal(ws: Workspace) -> None:
    mine = request(ws, "demand", 3, USER)
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        assert f"⊘ you requested {mine}: four-eyes" in "\n".join(lines(app))
        assert "⊘ yours" in line_with(app, "demand")
        await pilot.press("down")  # oldest first: the seeded churn request, then ours
        assert table(screen, "pending").selected_key == str(mine)
        await pilot.press("a")
        await settle(pilot)
        assert app.screen is screen  # refused here, not at the modal
        assert any("four-eyes" in n.message for n in app._notifications)
    assert registry.get_request(ws.store.conn, mine).status == "pending"  # type: ignore[union-attr]


async def test_reached_from_the_overview_jump_and_palette_and_opens_the_model(
    ws: Workspace,
) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalsScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model_name == "churn"
        app.jump("overview")
        await pilot.press("colon")
        await type_text(pilot, "requests")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalsScreen)
        app.jump("overview")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "approvals")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalsScreen)


async def test_hostile_text_renders_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ws = seed(tmp_path / "ws", USER, NAMES)  # the pending request's model has a hostile name
    try:
        request(ws, "demand", 3, "[b]eve" + HOSTILE)
        decided = request(ws, "fraud", 1, "scheduler")
        with ws.store.write() as conn:
            registry.add_approval(conn, decided, "[i]mal" + HOSTILE, "reject", "[u]why" + HOSTILE)
            registry.set_request_status(conn, decided, "rejected", "[i]mal" + HOSTILE)
        app = make(ws)
        async with app.run_test(size=(200, 40)) as pilot:
            screen = await open_approvals(pilot)
            assert table(screen, "pending").row_count == 2
            text = assert_clean(app)
            for shown in ("[bold]churn[bold]evil", "[b]eve[bold]evi", "[i]mal", "[u]why"):
                assert shown in text, shown  # markup shown as text, not obeyed
            assert "osc.example" not in text and "pwned" not in text
    finally:
        ws.close()


async def test_enter_in_the_filter_box_keeps_the_filter(ws: Workspace) -> None:
    request(ws, "demand", 3, "bob")
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_approvals(pilot)
        await pilot.press("slash")
        await type_text(pilot, "demand")
        await pilot.press("enter")  # keeps the filter; does not open a model
        await settle(pilot)
        assert app.screen is screen
        assert table(screen, "pending").row_count == 1
        await pilot.press("enter")  # now on the table: opens the one left
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model_name == "demand"
