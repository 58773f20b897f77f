"""The console meets a real terminal: hostile strings in data never reach it as escapes
or markup, the process exits when its terminal goes away, small terminals get a message."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyte
import pytest
from lookout.console.app import LookoutApp
from lookout.console.commands.screenshots import settle
from lookout.console.screens.model import ModelScreen
from lookout.console.screens.pipeline import PipelineScreen
from lookout.console.showcase import NOW, seed
from textual.color import Color

from tests.test_console import person

USER = "alice"
# markup, CSI (clear screen, leave alt screen), C1 CSI, OSC 0 title, OSC 8 link, OSC 52 clipboard
HOSTILE = (
    "[bold]evil[/bold] [link=http://markup.example]click[/link]"
    "\x1b[2J\x1b[?1049l\x9b31m\x1b]0;pwned\x07\x1b]8;;http://osc.example\x1b\\x\x1b]8;;\x1b\\"
    "\x1b]52;c;ZXZpbA==\x07\x07\x00end"
)
NAMES = {"churn": "[bold]churn" + HOSTILE, "tag": "tag" + HOSTILE, "log": "log" + HOSTILE}
LOOKOUT = str(Path(sys.executable).parent / "lookout")


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ws = seed(tmp_path / "ws", USER, NAMES)
    yield ws
    ws.close()


async def until(pilot: Any, condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds (a screen's first data arrived)."""
    for _ in range(50):
        await settle(pilot)
        if condition():
            return
    raise AssertionError("the screen never got its data")


def screen_segments(app: LookoutApp) -> list[Any]:
    return [seg for strip in app.screen._compositor.render_strips() for seg in strip]


def assert_clean(app: LookoutApp) -> str:
    """No control character from data in what is drawn, and no hyperlink; returns the text."""
    segments = screen_segments(app)
    for seg in segments:
        assert not any(c in seg.text for c in "\x1b\x9b\x07\x00\x9d"), repr(seg.text)
        assert seg.style is None or not seg.style.link, seg
    return "".join(seg.text for seg in segments)


async def test_hostile_names_tags_and_logs_render_as_plain_text(hostile: Any) -> None:
    app = LookoutApp(hostile, clock=lambda: NOW, start_scheduler=False, changes=person(hostile))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        text = assert_clean(app)
        assert "[bold]churn[bold]evil" in text  # markup shown, not obeyed
        model = ModelScreen(NAMES["churn"])
        app.push_screen(model)
        await until(pilot, lambda: model.detail is not None)
        text = assert_clean(app)
        assert "owner=tag[bold]evil" in text
        pipeline = PipelineScreen("fraud-train")
        app.push_screen(pipeline)
        await until(pilot, lambda: pipeline.detail is not None)
        text = assert_clean(app)
        assert "[link=http://markup.example]" in text
        assert "osc.example" not in text and "pwned" not in text
        svg = app.export_screenshot()
        assert "osc.example" not in svg and "\x1b" not in svg


async def test_glyph_and_word_carry_status_without_colour(
    hostile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LookoutApp(hostile, clock=lambda: NOW, start_scheduler=False, changes=person(hostile))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = assert_clean(app)
        for status in ("✗ failed", "▶ running", "✓ succeeded", "✗ fail", "‼ error", "▲ warn"):
            assert status in text, status
        # no colour at all reaches the terminal (grey on grey would hide "✗ failed"),
        # and the row under the cursor stands out in reverse video
        table = app.screen.query_one("#table-pipelines")
        filters = app.get_line_filters()
        cursor = table.render_line(1)
        for flt in filters:
            cursor = cursor.apply_filter(flt, Color(0, 0, 0))
        assert all(s.style is None or s.style.reverse for s in cursor if s.text.strip())
        for strip in app.screen._compositor.render_strips():  # noqa: SLF001
            for flt in filters:
                strip = strip.apply_filter(flt, Color(0, 0, 0))
            for seg in strip:
                if seg.style is not None and seg.text.strip():
                    assert seg.style.color is None or seg.style.color.is_default, seg


async def test_a_too_small_terminal_names_the_size_it_needs(hostile: Any) -> None:
    app = LookoutApp(hostile, clock=lambda: NOW, start_scheduler=False, changes=person(hostile))
    async with app.run_test(size=(50, 12)) as pilot:
        await settle(pilot)
        text = assert_clean(app)
        assert "at least 60×16" in text and "50×12" in text
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        text = assert_clean(app)
        assert "at least" not in text and "Pipelines" in text


class Terminal:
    """`lookout` in a real pseudo-terminal, its output kept raw and on an emulated screen."""

    def __init__(
        self,
        workspace: Path,
        env: dict[str, str],
        cols: int = 120,
        rows: int = 40,
        args: tuple[str, ...] = ("--no-scheduler",),
    ):
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.open = True
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the console
            os.execve(LOOKOUT, [LOOKOUT, "-w", str(workspace), *args], env)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def pump(self, until: float) -> None:
        while time.monotonic() < until:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in "\n".join(self.screen.display):
                return
            self.pump(min(deadline, time.monotonic() + 0.2))
        raise AssertionError(f"{text!r} never appeared:\n" + "\n".join(self.screen.display))

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 30) -> None:
        """Read until the console has written nothing for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            size = len(self.raw)
            self.pump(time.monotonic() + quiet)
            if len(self.raw) == size:
                return
        raise AssertionError("the console never stopped writing")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exited(self, timeout: float = 15) -> bool:
        """Whether the process ended within `timeout` (reaping it); keeps reading its output
        meanwhile, as a terminal would, unless the terminal is gone."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                return True
            if self.open:
                self.pump(time.monotonic() + 0.05)
            else:
                pause.wait(0.05)
        return False

    def hang_up(self) -> None:
        """The SSH connection dropped: the pty's master side is gone."""
        os.close(self.fd)
        self.open = False

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        TERM="xterm-256color",
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )


@pytest.mark.slow
def test_no_escape_sequence_from_data_reaches_the_terminal(
    hostile: Any, terminal_env: dict[str, str]
) -> None:
    term = Terminal(hostile.root, terminal_env)
    try:
        term.wait_for("Pipelines")
        term.wait_for("evil")
        assert "[bold]churn[bold]evil" in "\n".join(term.screen.display)
        term.type(":")
        term.wait_for(":model NAME")
        term.type("pipeline fraud-train\r")
        term.wait_for("Pipeline fraud-train")
        term.wait_for("[link=http://markup.example]")
        raw = bytes(term.raw)
        for forbidden in (b"\x1b]8;", b"\x1b]52", b"ZXZpbA==", b"osc.example", b"pwned"):
            assert forbidden not in raw, forbidden
    finally:
        term.type("q")
        if not term.exited(10):
            term.kill()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sighup", "close"])
def test_the_console_exits_when_its_terminal_goes_away(
    hostile: Any, terminal_env: dict[str, str], how: str
) -> None:
    term = Terminal(hostile.root, terminal_env)
    try:
        term.wait_for("Pipelines")
        if how == "sighup":
            os.kill(term.pid, signal.SIGHUP)
        else:
            term.hang_up()
        assert term.exited(15), "the console outlived its terminal"
    finally:
        term.kill()


@pytest.mark.slow
def test_a_check_that_starts_failing_repaints_its_panes_not_the_screen(
    tmp_path: Path, terminal_env: dict[str, str]
) -> None:
    """Over SSH every repainted cell costs bytes: a check flipping to fail moves rows in
    the checks pane and adds an event, and that is all that may be sent again."""
    from lookout.storage import checks
    from lookout.storage.records import CheckResult

    ws = seed(tmp_path / "ws", USER)
    term = Terminal(ws.root, terminal_env)
    try:
        term.wait_for("sales.units_positive")
        term.wait_quiet()
        before = len(term.raw)
        flip = CheckResult("sales", "row_count", "row_count", "fail", "fail", "3", "≥ 100")
        checks.record_results(ws.store, [flip])
        term.wait_for("4 failing of 8")
        term.wait_quiet()
        sent = len(term.raw) - before
        # The rows that moved in the checks pane, the new event and two border counts
        # take ~5.3 KB; repainting both panes whole (before) took ~8.6 KB.
        assert sent < 7000, sent
    finally:
        term.type("q")
        if not term.exited(10):
            term.kill()
        ws.close()
