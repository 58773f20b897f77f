"""The keyed table every list uses: keys, cursor and repaint behaviour a user relies on."""

from __future__ import annotations

from typing import Any

from lookout.console.widgets import KeyedTable
from rich.text import Text
from textual.app import App, ComposeResult

ROWS = [(f"k{i}", (f"row {i}", Text(f"value {i}", style="green"))) for i in range(50)]


class OneTable(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        yield KeyedTable([("name", "Name"), ("value", "Value")], id="t")

    def on_keyed_table_highlighted(self, event: KeyedTable.Highlighted) -> None:
        self.seen.append(("highlighted", event.key))

    def on_keyed_table_selected(self, event: KeyedTable.Selected) -> None:
        self.seen.append(("selected", event.key))


def lines(table: KeyedTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_keys_move_the_cursor_and_enter_selects() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.focus()
        table.sync(ROWS)
        await pilot.pause()
        assert lines(table)[:2] == [" Name    Value", " row 0   value 0"]
        await pilot.press("down", "down")
        assert table.selected_key == "k2"
        await pilot.press("end")
        assert table.selected_key == "k49"
        assert "row 49" in lines(table)[-1]  # scrolled so the cursor is in view
        await pilot.press("home", "pagedown")
        assert table.cursor_row > 5
        await pilot.press("enter")
        await pilot.pause()
        assert app.seen[-1] == ("selected", table.selected_key)
        assert ("highlighted", "k0") in app.seen


async def test_the_cursor_stays_on_its_row_when_rows_move_or_vanish() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        table.move_cursor(row=3)
        table.sync(list(reversed(ROWS)))  # new order: the cursor follows k3
        await pilot.pause()
        assert table.selected_key == "k3" and table.cursor_row == 46
        table.sync([r for r in ROWS if r[0] != "k3"])  # its row is gone: a neighbour
        assert table.selected_key is not None and table.row_count == 49
        table.set_filter("value 7")
        assert table.row_count == 1 and table.selected_key == "k7"
        table.set_filter("")
        assert table.row_count == 49 and table.selected_key == "k7"


async def test_one_changed_cell_repaints_one_line() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        table._dirty_regions.clear()  # noqa: SLF001 - what the next frame will repaint
        changed: list[Any] = list(ROWS)
        changed[4] = ("k4", ("row 4", Text("value 4!", style="red")))
        table.sync(changed)
        assert [(r.y, r.height) for r in table._dirty_regions] == [(5, 1)]  # noqa: SLF001
        await pilot.pause()
        assert lines(table)[5] == " row 4   value 4!"


async def test_a_click_highlights_and_a_second_click_selects() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        await pilot.click(KeyedTable, offset=(3, 3))  # the header is line 0
        assert table.selected_key == "k2"
        await pilot.click(KeyedTable, offset=(3, 3))
        await pilot.pause()
        assert app.seen[-1] == ("selected", "k2")


class NarrowTable(App[None]):
    """A table of short columns and one of free text, 40 cells wide."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(
            [("name", "Name"), ("state", "State"), ("message", "Message")],
            flex=("message",),
            id="t",
        )


LONG = "the check failed on 15 of 178 rows in the newest file"


async def test_columns_fit_the_width_and_free_text_gives_way_first() -> None:
    app = NarrowTable()
    async with app.run_test(size=(40, 4)) as pilot:  # a header and three rows: no spare line
        table = app.query_one(KeyedTable)
        rows = [(f"k{i}", (f"wine_train_{i}", "✗ failed", LONG)) for i in range(3)]
        table.sync(rows)
        await pilot.pause()
        first = lines(table)[1]
        assert first.startswith(" wine_train_0  ✗ failed  the check")  # names whole
        assert first.endswith("…") and len(first) <= 38  # the message cut, not wrapped
        await pilot.press("w")  # wide rows: every cell whole, scrolling sideways
        await pilot.pause()
        assert table.wide and table.virtual_size.width > 60
        assert "…" not in lines(table)[1]  # whole, running past the edge


async def test_free_text_wraps_while_there_are_lines_to_spare() -> None:
    app = NarrowTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([("a", ("a", "ok", LONG)), ("b", ("b", "ok", "short"))])
        await pilot.pause()
        shown = lines(table)
        assert "the check" in shown[1] and "rows" in "".join(shown[2:4])  # a's three lines
        assert shown[4].startswith(" b ")  # b after them
        table.move_cursor(row=1)
        assert table.selected_key == "b"


async def test_a_cut_row_joins_its_rest_with_single_spaces() -> None:
    app = NarrowTable()
    async with app.run_test(size=(40, 3)) as pilot:  # a header and two lines for one row
        table = app.query_one(KeyedTable)
        table.sync([("a", ("a", "ok", LONG))])
        await pilot.pause()
        first, second = lines(table)[1:3]
        assert "the check" in first
        assert second.endswith("…") and "  " not in second.strip()


async def test_a_filter_is_shown_with_its_count() -> None:
    app = OneTable()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        table.set_filter("row 1")
        await pilot.pause()
        assert lines(table)[0].endswith("/row 1 11 of 50")  # row 1, row 10..19
        table.set_filter("")
        await pilot.pause()
        assert "of 50" not in lines(table)[0]
