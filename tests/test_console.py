"""The console driven from the keyboard: promotion flows, acknowledge, filter, palette, jump,
live refresh that keeps the cursor, and read-only / viewer consoles without mutating keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lookout.console.app import LookoutApp
from lookout.console.commands.screenshots import settle
from lookout.console.modals.confirm import ConfirmModal
from lookout.console.modals.note import NoteModal
from lookout.console.screens import registry as screen_registry
from lookout.console.screens.model import ModelScreen
from lookout.console.screens.pipeline import PipelineScreen
from lookout.console.screens.timeline import TimelineScreen
from lookout.console.showcase import NOW
from lookout.console.widgets import KeyedTable
from lookout.scheduler.door import Actor, Local
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, checks, events, registry, scheduling
from lookout.storage.records import CheckResult
from textual.widgets import Button, Checkbox, Input

USER = "alice"
MUTATING_ACTIONS = {"approve", "reject", "trigger", "promote", "rollback", "acknowledge"}


def person(ws: Workspace, name: str = USER) -> Local:
    """The in-process door acting as `name` (in a personal workspace whoever runs the
    process may act as anyone; the shared mode's tests use real accounts)."""
    return Local(ws, Actor(name, None))


def make(ws: Workspace, user: str = USER, **kw: Any) -> LookoutApp:
    kw.setdefault("changes", person(ws, user))
    return LookoutApp(ws, clock=lambda: NOW, start_scheduler=False, **kw)


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


async def confirm(pilot: Any, typed: str, reason: str) -> ConfirmModal:
    """Fill the confirmation modal the way a person does."""
    app = pilot.app
    modal = app.screen
    assert isinstance(modal, ConfirmModal)
    assert app.focused is not None and app.focused.id == "cancel"  # the safe default
    await pilot.click("#typed")
    await type_text(pilot, typed)
    await pilot.click("#reason")
    await type_text(pilot, reason)
    await pilot.pause()
    return modal


def visible_actions(app: LookoutApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


async def test_overview_shows_every_pane_and_who_is_acting(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rows = {t.id: t.row_count for t in app.screen.query(KeyedTable)}
        assert rows == {
            "table-pipelines": 3,
            "table-checks": 8,
            "table-models": 4,  # three models and one pending request
            "table-drift": 3,
            "table-events": 10,  # nine open or acknowledged, one resolved
        }
        failing_first = app.screen.query_one("#table-checks", KeyedTable)
        assert failing_first.selected_key == "transactions.amount_not_null"
        header = app.header_text().plain
        assert "alice" in header and "(admin)" in header and "○ down" in header


async def test_promote_needs_the_typed_version_and_a_reason(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model demand")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        assert app.screen.query_one("#versions", KeyedTable).selected_key == "3"
        await pilot.press("P")
        await settle(pilot)
        modal = await confirm(pilot, "2", "better on weekends")
        button = modal.query_one("#confirm", Button)
        assert button.disabled  # wrong version typed
        modal.query_one("#typed", Input).value = ""
        await pilot.click("#typed")
        await type_text(pilot, "3")
        await pilot.pause()
        assert not button.disabled
        await pilot.click("#confirm")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        requests = registry.list_requests(ws.store, model="demand")
        assert [(r.version, r.requested_by, r.reason) for r in requests] == [
            (3, USER, "better on weekends")
        ]


async def test_cancel_is_the_default_and_changes_nothing(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model demand")
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("enter")  # on Cancel
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        assert registry.list_requests(ws.store, model="demand") == []


async def test_approve_from_the_overview_moves_production(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-models", KeyedTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("request:1"))
        await pilot.press("a")
        await settle(pilot)
        modal = await confirm(pilot, "4", "drift is seasonal, checked with the team")
        boxes = modal.query(Checkbox)
        if boxes:  # a gate failed: the approver must say so explicitly
            boxes.first().value = True
        await pilot.click("#confirm")
        await settle(pilot)
        assert registry.aliases(ws.store, "churn")["production"] == 4
        (req,) = registry.list_requests(ws.store, model="churn")
        assert req.status == "approved"
        assert audit.entries(ws.store, limit=1)[0].actor == USER
        assert table.row_count == 3  # the request row went away on the next poll


async def test_reject_from_the_model_screen(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model churn")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await confirm(pilot, "4", "not before the drift is understood")
        await pilot.click("#confirm")
        await settle(pilot)
        (req,) = registry.list_requests(ws.store, model="churn")
        assert req.status == "rejected"
        assert registry.aliases(ws.store, "churn")["production"] == 3


async def test_rollback_puts_the_previous_production_back(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model demand")
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        modal = await confirm(pilot, "3", "v2 misses the holiday peak")
        assert "v2 → v3" in modal.plan.title
        await pilot.click("#confirm")
        await settle(pilot)
        assert registry.aliases(ws.store, "demand")["production"] == 3
        assert registry.transitions(ws.store, "demand", "production")[0].kind == "rollback"


async def test_acknowledge_an_event_with_a_note(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)
        key = app.screen.query_one("#events", KeyedTable).selected_key
        assert key is not None
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, NoteModal)
        await type_text(pilot, "paged db team")
        await pilot.press("enter")
        await settle(pilot)
        event = next(e for e in events.list_events(ws.store) if e.id == int(key))
        assert (event.acked_by, event.ack_note) == (USER, "paged db team")
        # the acknowledged event left the top: unacknowledged stay first
        assert app.screen.query_one("#events", KeyedTable).get_row_index(key) > 0


async def test_events_read_open_acked_or_resolved_and_the_counts_follow(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one("#pane-events")
        table = app.screen.query_one("#table-events", KeyedTable)
        assert str(pane.border_subtitle) == "8 open · 1 acknowledged"
        table.focus()
        await settle(pilot)
        key = table.selected_key
        assert key is not None
        await pilot.press("a")  # the Events pane acknowledges
        await settle(pilot)
        await type_text(pilot, "on it")
        await pilot.press("enter")
        await settle(pilot)
        assert str(pane.border_subtitle) == "7 open · 2 acknowledged"
        row = "".join(s.text for s in table.render_line(table.get_row_index(key) + 1))
        assert f"✓ acked by {USER}" in row

        # a check that passes again resolves its event: greyed, at the bottom
        checks.record_results(
            ws.store, [CheckResult("transactions", "amount_range", "range", "fail", "pass")]
        )
        await settle(pilot)
        app.request_refresh()
        await settle(pilot)
        last = table.keys[-1]
        event = next(e for e in events.list_events(ws.store) if str(e.id) == last)
        assert event.kind == "check_failed" and event.resolved_at is not None
        cells = dict(table._rows)[last]  # noqa: SLF001
        assert cells[1].plain == "○ resolved" and all(c.style == "dim" for c in cells)
        assert str(pane.border_subtitle).startswith("6 open")


async def test_filter_narrows_a_list_and_escape_restores_it(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-checks", KeyedTable)
        table.focus()
        await pilot.press("slash")
        await type_text(pilot, "amount")
        await pilot.pause()
        assert table.row_count == 2
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is table and table.row_count == 2
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert table.row_count == 8


async def test_palette_opens_screens_and_runs_actions(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "pipeline fraud")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PipelineScreen)
        assert app.screen.pipeline_name == "fraud-train"
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "run now")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert scheduling.pending_requests(ws.store) == 1


async def test_the_palette_offers_each_screen_once(ws: Workspace) -> None:
    from lookout.console.screens.base import ScreenCommands

    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        provider = ScreenCommands(app.screen)
        names = [name for name, _help, _call in provider._commands()]  # noqa: SLF001
        assert len(names) == len(set(names)), names
        assert {"Timeline", "Approvals", "Audit log", "Overview"} <= set(names)


async def test_a_narrow_terminal_keeps_quit_and_help_in_the_key_hints(ws: Workspace) -> None:
    from lookout.console.widgets import KeyHints

    app = make(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        hints = str(app.screen.query_one(KeyHints).render())
        assert "Run pipeline" in hints and "q Quit" in hints and "? Help" in hints
        assert len(hints) <= 80


async def test_the_key_bar_follows_focus(ws: Workspace) -> None:
    """The focused pane's keys come first; keys of other panes are not offered, and the
    bottom screen offers no way back."""
    from lookout.console.widgets import KeyHints

    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyHints)
        hints = str(bar.render())
        assert hints.startswith(" R Run pipeline") and "Approve" not in hints
        assert "Back" not in hints
        app.screen.query_one("#table-models").focus()
        await settle(pilot)
        assert str(bar.render()).startswith(" a Approve  x Reject")
        app.screen.query_one("#table-events").focus()
        await settle(pilot)
        hints = str(bar.render())
        assert hints.startswith(" a Acknowledge")
        assert "Approve" not in hints and "Run pipeline" not in hints
        await pilot.press("slash")
        await settle(pilot)
        assert "esc Back" in str(bar.render())  # esc now closes the filter


@pytest.mark.parametrize(
    ("command", "screen", "attr", "value"),
    [
        ("model churn", "ModelScreen", "model_name", "churn"),
        ("pipeline fraud-train", "PipelineScreen", "pipeline_name", "fraud-train"),
        ("check transactions.freshness", "CheckScreen", "check_name", "freshness"),
        ("drift churn", "DriftScreen", "model", "churn"),
        ("timeline", "TimelineScreen", None, None),
        ("audit", "AuditScreen", None, None),
    ],
)
async def test_colon_jumps_to_a_screen(
    ws: Workspace, command: str, screen: str, attr: str | None, value: str | None
) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await type_text(pilot, command)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == screen
        if attr:
            assert getattr(app.screen, attr) == value
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "OverviewScreen"


def test_each_jump_word_and_alias_names_one_screen() -> None:
    words = [w for row in screen_registry.TARGETS for w in (row.word, *row.aliases)]
    assert len(words) == len(set(words)), words
    found = screen_registry.find(":M churn")
    assert found is not None and found[0].word == "model" and found[1] == "churn"
    assert screen_registry.find("model") is None  # its NAME is missing
    assert screen_registry.find("frobnicate") is None


async def test_a_jump_to_nothing_says_so(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("frobnicate")
        await settle(pilot)
        assert type(app.screen).__name__ == "OverviewScreen"
        assert any("nothing to jump to" in n.message for n in app._notifications)


@pytest.mark.parametrize("mode", ["readonly", "viewer"])
async def test_no_mutating_bindings_for_read_only_or_viewers(ws: Workspace, mode: str) -> None:
    app = make(ws, readonly=True) if mode == "readonly" else make(ws, user="bob")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not visible_actions(app) & MUTATING_ACTIONS
        await pilot.press("a")  # approve: not bound here at all
        await settle(pilot)
        assert type(app.screen).__name__ == "OverviewScreen"
        for target, keys in (("model churn", "Pbax"), ("timeline", "a"), ("pipeline x", "tyc")):
            app.jump(target)
            await settle(pilot)
            assert not visible_actions(app) & MUTATING_ACTIONS, target
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
                assert not isinstance(app.screen, ConfirmModal | NoteModal)
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "approve")
        await settle(pilot)
        assert "Approve" not in str(app.screen.query_one("CommandList").render_lines)
    assert registry.list_requests(ws.store, status="pending")[0].status == "pending"


async def test_new_data_appears_and_the_cursor_stays_on_its_row(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-checks", KeyedTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("customers.tenure_mean"))
        before = len(app.timings)
        # another process records a new failing check: it sorts above the cursor row
        checks.record_results(
            ws.store,
            [CheckResult("sales", "price_range", "range", "fail", "fail", "9%", "≤ 1%")],
        )
        app.request_refresh()
        await settle(pilot)
        assert table.row_count == 9
        assert table.selected_key == "customers.tenure_mean"
        refetched = {name for name, _, _ in app.timings[before:]}
        assert refetched == {"checks", "events"}  # the other panes did not change


async def test_pause_and_an_open_modal_stop_live_updates(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        assert "paused" in app.header_text().plain
        before = len(app.timings)
        events.record(ws.store, "run_failed", "x", "boom", "error")
        app._tick()  # the refresh timer fires
        await settle(pilot)
        assert len(app.timings) == before
        await pilot.press("p")  # resume: catches up at once
        await settle(pilot)
        assert "events" in {name for name, _, _ in app.timings[before:]}
        await pilot.press("question_mark")
        await settle(pilot)
        before = len(app.timings)
        events.record(ws.store, "run_failed", "y", "boom", "error")
        app._tick()
        await settle(pilot)
        assert len(app.timings) == before  # nothing repaints under the help screen


async def test_errors_flash_and_go_to_the_log_file(ws: Workspace, tmp_path: Path) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model fraud")  # production v2 was never preceded: nothing to roll back to
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert any("no earlier production version" in n.message for n in app._notifications)
    log = (tmp_path / "state" / "lookout" / "console.log").read_text()
    assert "no earlier production version" in log


async def test_a_user_keymap_remaps_keys_by_binding_id(ws: Workspace, tmp_path: Path) -> None:
    keymap = tmp_path / "config" / "lookout" / "keymap.toml"
    keymap.parent.mkdir(parents=True)
    keymap.write_text('"overview.timeline" = "f2"\n')
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)


async def test_a_console_runs_the_scheduler_when_none_is_up_and_stops_it_on_exit(
    make_workspace: Any,
) -> None:
    ws = make_workspace()
    app = LookoutApp(ws, changes=person(ws))  # the real clock: the lease must be live now
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.scheduler is not None
        lease = scheduling.get_lease(ws.store)
        assert lease is not None and lease.holder == app.scheduler.holder
        assert lease.alive(time.time())
    lease = scheduling.get_lease(ws.store)
    assert lease is not None and not lease.alive(time.time())  # given up on the way out


def test_opening_the_console_without_a_terminal_says_so(ws: Workspace, cli: Any) -> None:
    result = cli("-w", str(ws.root))
    assert result.code == 2
    assert "needs a terminal" in result.err and "lookout status" in result.err


def test_a_bad_refresh_interval_is_refused(ws: Workspace, cli: Any) -> None:
    result = cli("-w", str(ws.root), "--refresh", "0")
    assert result.code == 2 and "--refresh" in result.err


async def test_lists_show_ages_and_t_switches_to_utc_times(ws: Workspace) -> None:
    now = [NOW]
    app = LookoutApp(
        ws, clock=lambda: now[0], start_scheduler=False, changes=person(ws), refresh=0.05
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-events", KeyedTable)

        def shown() -> str:
            return "\n".join(table.render_line(y).text for y in range(table.size.height))

        assert shown().lstrip().startswith("Age")
        assert "10m" in next(line for line in shown().splitlines() if "approval_pending" in line)
        await pilot.press("t")
        await settle(pilot)
        assert shown().lstrip().startswith("At (UTC)") and "03-02 08:50" in shown()
        await pilot.press("t")
        now[0] = NOW + 120  # two minutes on: the ages follow without any new data
        for _ in range(20):
            await settle(pilot)
            if "12m" in shown():
                break
        assert "12m" in next(line for line in shown().splitlines() if "approval_pending" in line)


async def test_mark_and_compare_never_compares_a_version_with_itself(ws: Workspace) -> None:
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.jump("model churn")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen)
        box = screen.query_one("#compare")
        assert str(box.border_title) == "compare v3 (production) ↔ v4"  # v4 selected
        await pilot.press("m")  # mark v4
        await settle(pilot)
        assert str(box.border_title) == "compare v4 (marked) with…"
        assert "Move to another version" in str(screen.query_one("#compare-text").render())
        await pilot.press("down", "down")  # to v2
        await settle(pilot)
        assert str(box.border_title) == "compare v4 (marked) ↔ v2"
        assert str(box.border_subtitle) == "m on v4 unmarks"
        await pilot.press("m")  # marking v2 instead
        await settle(pilot)
        assert str(box.border_title) == "compare v2 (marked) with…"
        await pilot.press("m")  # and unmarking it
        await settle(pilot)
        assert str(box.border_title) == "compare v3 (production) ↔ v2"


async def test_help_and_palette_list_each_command_once_with_its_id(ws: Workspace) -> None:
    from lookout.console.keys import commands
    from lookout.console.screens.base import ScreenCommands

    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        listed = commands(app, app.screen, panes=True)
        ids = [c.id for c in listed]
        assert all(ids) and len(ids) == len(set(ids))
        quit_ = next(c for c in listed if c.id == "app.quit")
        assert "q" in quit_.keys and len(quit_.keys) == 2  # q, and Textual's ctrl+q, one row
        assert {"overview.acknowledge", "app.palette", "app.jump", "app.times"} <= set(ids)
        names = [name for name, _help, _call in ScreenCommands(app.screen)._commands()]  # noqa: SLF001
        assert len(names) == len(set(names)), names
        # Textual's own commands are not ours to offer
        system = [c.title for c in app.get_system_commands(app.screen)]
        assert system == []
        await pilot.press("question_mark")
        await settle(pilot)
        import io

        from rich.console import Console as RichConsole

        out = RichConsole(file=io.StringIO(), width=90)
        out.print(app.screen._content())  # noqa: SLF001 - all of it, not just what is in view
        text = out.file.getvalue()  # type: ignore[attr-defined]
        for glyph in "✓✗‼▲▶…·⊘●○":
            assert f"  {glyph}  " in text, glyph
        assert "⏎" not in text and "🔎" not in text


async def test_a_late_heartbeat_reads_late_before_the_lease_says_down(ws: Workspace) -> None:
    """A busy scheduler that misses a beat or two is `late`, not `down`: the header no
    longer flickers between up and down under load."""
    scheduling.acquire_lease(ws.store, "busy", "hostA", 1, 30.0)
    beat = scheduling.get_lease(ws.store)
    assert beat is not None
    now = [beat.heartbeat_at + 1]
    app = LookoutApp(ws, clock=lambda: now[0], start_scheduler=False, changes=person(ws))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "● up hostA" in app.header_text().plain
        now[0] = beat.heartbeat_at + 12  # two 5 s heartbeats missed, the 30 s lease holds
        assert "▲ late hostA" in app.header_text().plain and app.scheduler_alive()
        now[0] = beat.heartbeat_at + 31
        assert "○ down" in app.header_text().plain and not app.scheduler_alive()


async def test_sixteen_colours_keep_warn_yellow_and_fail_red(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.color import ColorSystem
    from textual.color import Color

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("COLORTERM", raising=False)
    app = make(ws, terminal_colours=True)
    assert app.console.color_system == "standard"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#table-checks", KeyedTable)
        drawn: dict[str, int] = {}
        for y in range(1, table.size.height):
            strip = table.render_line(y)
            for flt in app.get_line_filters():
                strip = strip.apply_filter(flt, Color(0, 0, 0))
            for seg in strip:
                word = seg.text.strip()
                if word in ("▲ warn", "✗ fail") and seg.style and seg.style.color:
                    drawn[word] = seg.style.color.downgrade(ColorSystem.STANDARD).number or 0
        assert drawn["✗ fail"] in (1, 9)  # red
        assert drawn["▲ warn"] in (3, 11)  # yellow, as the terminal draws it: not red


async def test_no_color_marks_the_focused_pane_title(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        focused = app.screen.query_one("#pane-pipelines")
        other = app.screen.query_one("#pane-checks")
        assert focused.styles.border_title_style.reverse
        assert not other.styles.border_title_style.reverse
