"""Keys typed ahead, as a laggy SSH link delivers them in one burst, land where they were
aimed: a key that moves focus or opens a dialog takes effect before the next key goes out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lookout.console.showcase import seed
from lookout.storage import registry
from lookout.storage.identity import current_user

from tests.test_console_terminal import Terminal


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        TERM="xterm-256color",
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )


def line_with(term: Terminal, text: str) -> str:
    return next((line for line in term.screen.display if text in line), "")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_a_whole_burst_fills_the_dialog_field_by_field_and_approves(
    tmp_path: Path, env: dict[str, str], size: tuple[int, int]
) -> None:
    ws = seed(tmp_path / "ws", current_user())  # the console's user may approve
    term = Terminal(ws.root, env, *size)
    try:
        term.wait_for("Pipelines")
        term.type("A")
        term.wait_for("1 waiting")
        term.wait_quiet()
        # a: open the approval (it plans in a thread first); tab from Cancel to the version
        # field; 4; enter moves to the reason; the reason; tab to the override box; space
        # ticks it; tab to Approve; enter.
        term.type("a\t4\rburst reason\t \t")
        term.wait_for("ready: enter")
        assert "4" in line_with(term, "Type 4 to confirm").split("confirm", 1)[1]
        assert "burst reason" in line_with(term, "Reason (audited)")
        assert "burst reason" not in line_with(term, "Type 4 to confirm")
        term.type("\r")
        term.wait_for("No promotion requests waiting")
        (req,) = registry.list_requests(ws.store, model="churn")
        assert req.status == "approved"
        assert [(a.reason, a.override) for a in req.approvals] == [("burst reason", True)]
    finally:
        term.type("q")
        if not term.exited(10):
            term.kill()
        ws.close()


@pytest.mark.slow
def test_keys_after_a_tab_go_to_the_next_field(tmp_path: Path, env: dict[str, str]) -> None:
    """The report's case: `3`, tab, `abc` once put "3abc" in the version field."""
    ws = seed(tmp_path / "ws", current_user())
    term = Terminal(ws.root, env, 80, 24)
    try:
        term.wait_for("Pipelines")
        term.type(":model demand\r")
        term.wait_for("Model demand")
        term.wait_quiet()
        term.type("b")  # production went v3 -> v2; rolling back asks for 3
        term.wait_for("Type 3 to confirm")
        term.wait_quiet()
        term.type("\t3\tabc")
        term.wait_for("ready: enter")
        assert "abc" in line_with(term, "Reason (audited)")
        assert "3abc" not in "\n".join(term.screen.display)
    finally:
        term.type("q")
        if not term.exited(10):
            term.kill()
        ws.close()


@pytest.mark.slow
def test_a_filter_typed_in_one_burst_filters(tmp_path: Path, env: dict[str, str]) -> None:
    """`/` opens the filter box; the letters right behind it go into the box, not to the
    table (where `w` would have turned on wide rows)."""
    ws = seed(tmp_path / "ws", current_user())
    term = Terminal(ws.root, env, 120, 40)
    try:
        term.wait_for("Pipelines")
        term.wait_quiet()
        term.type("\t/trans\r")  # to Data checks, then filter it
        term.wait_for("Data checks /trans 3 of 8")
    finally:
        term.type("q")
        if not term.exited(10):
            term.kill()
        ws.close()
