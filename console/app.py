"""The Lookout console: a thin App that owns the live refresh loop and the action plumbing.

Refresh: a one-shot timer fires, a thread worker asks the store whether anything
changed (`PRAGMA data_version`), then compares cheap per-source change keys and
refetches only what changed; the timer is re-armed when that worker finishes, so
polls never overlap. Nothing is polled while a modal is open or while paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from lookout.console.constants import Source, keymap_path, log_path
from lookout.console.format import Times
from lookout.console.messages import ActionDone, Failed, Fetched, LeaseSeen, PollDone
from lookout.console.modals.jump import JumpModal
from lookout.console.palette import Palette
from lookout.console.panes import Prefetch
from lookout.console.protocol import Console, Target
from lookout.console.screens import registry
from lookout.console.screens.base import LookoutScreen
from lookout.console.screens.help import HelpScreen
from lookout.console.screens.overview import OverviewScreen
from lookout.console.typeahead import TypeAheadApp
from lookout.scheduler import door, policy
from lookout.scheduler.door import Changes
from lookout.scheduler.workspace import Workspace
from lookout.storage import events, scheduling
from lookout.storage.records import Lease
from lookout.storage.text import sanitize
from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter, Monochrome, NoColor
from textual.screen import ModalScreen, Screen
from textual.worker import get_current_worker

if TYPE_CHECKING:  # imported when the scheduler starts: it loads numpy and apscheduler
    from lookout.scheduler.service import Scheduler

# console action -> the policy action it asks for (the console's own names read better
# in keymaps: a retry is a new run, cancelling a run is `cancel`)
POLICY_ACTION = {"trigger": "run", "retry": "run", "cancel_run": "cancel"}
NO_COLOR = NoColor()


def _logger() -> logging.Logger:
    """The console's error log, in the user's state directory."""
    log = logging.getLogger("lookout.console")
    path = log_path()
    for handler in list(log.handlers):
        if getattr(handler, "baseFilename", None) != str(path):
            log.removeHandler(handler)
            handler.close()
    if not log.handlers:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


class LookoutApp(TypeAheadApp):
    """The console for one workspace (keys typed ahead land in order: typeahead.py)."""

    CSS_PATH = "lookout.tcss"
    TITLE = "Lookout"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("colon", "jump", "Jump", show=False, id="app.jump"),
        Binding("r", "refresh", "Refresh now", show=False, id="app.refresh"),
        Binding("p", "pause", "Pause live updates", show=False, id="app.pause"),
        Binding("t", "times", "Ages or UTC times", show=False, id="app.times"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Command palette",
            show=False,
            priority=True,
            id="app.palette",
        ),
    ]

    def __init__(
        self,
        ws: Workspace,
        *,
        readonly: bool = False,
        refresh: float | None = None,
        clock: Callable[[], float] = time.time,
        start_scheduler: bool = True,
        changes: Changes | None = None,
        prefetch: Prefetch | None = None,
        terminal_colours: bool = False,
    ) -> None:
        """`terminal_colours`: running in a real terminal, follow its colour depth (tests
        and screenshots draw the same whatever $TERM says)."""
        super().__init__()
        self.prefetch = prefetch
        self.ws = ws
        self.readonly = readonly
        self.refresh_s = float(refresh or ws.config.workspace.get("refresh") or 2.0)
        self.clock = clock
        # a shared workspace's scheduler is its daemon, never a console
        self.want_scheduler = start_scheduler and not readonly and not ws.shared
        # every change goes through the one door; who acts is the OS account behind it
        self.changes = changes or door.changes(ws)
        self.user = self.changes.actor.name
        self.role = "viewer"
        self.paused = False
        self.lease: Lease | None = None
        self.critical: tuple[str, ...] = ()  # what serves disagrees with the record
        self.scheduler: Scheduler | None = None
        self.timings: list[tuple[str, float, float]] = []  # (source, fetch s, render s)
        self._keys: dict[tuple[int, str], object] = {}
        self._versions: dict[int, int] = {}  # thread id -> data_version last seen there
        self._stale: set[int] = set()  # screens whose keys must be checked next poll
        self._timer: Any = None
        self._polling = False
        self._started = False
        self._again: bool | None = None  # None: no poll queued; True/False: fetch_all
        self.times = Times.at(clock())  # how lists show times: ages, or UTC after `t`
        self.set_class(self.no_color, "-no-color")
        if terminal_colours and self.console.color_system in ("standard", "windows"):
            # 16 colours: let the terminal draw its own red and yellow. Textual's default
            # theme turns them into true colours first, and the nearest of 16 to its
            # yellow is red: a warning looked like a failure.
            self.theme = "ansi-dark"

    def get_line_filters(self) -> Sequence[LineFilter]:
        """With NO_COLOR, drop colours instead of turning them grey: Textual's grey for
        red text on a dark background is all but invisible, and "✗ failed" must be read."""
        return [NO_COLOR if isinstance(f, Monochrome) else f for f in super().get_line_filters()]

    # -- start and stop ---------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        """The overview is the bottom screen: nothing lies under it that could ask it
        to repaint the whole terminal."""
        return OverviewScreen()

    def on_mount(self) -> None:
        self._load_keymap()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)

    def _hangup(self) -> None:
        """The terminal went away (SSH dropped): stop our scheduler, then leave at once.

        A graceful Textual shutdown would write to the vanished terminal; when that
        write fails its writer thread dies and the shutdown blocks forever, leaving
        an orphan. Every store write is a committed transaction, so nothing is lost.
        A stage our scheduler is running (training, say) is not waited for: its run
        is marked interrupted and queued again, and the lease is given up.
        """
        sched, self.scheduler = self.scheduler, None
        if sched is not None:  # abandon running stages (marked interrupted), wait for nothing
            with contextlib.suppress(Exception):
                sched.abandon()
        os._exit(0)

    def on_unmount(self) -> None:
        self._stop_scheduler()

    @work(thread=True, group="startup")
    def _startup(self) -> None:
        """Learn the user's role, then start a scheduler here if nobody runs one."""
        role = "viewer"
        try:
            role = policy.role_of(self.ws, self.user)
        except Exception as exc:  # a broken policy must not stop the console opening
            self.post_message(Failed("reading your role", exc))
        self.call_from_thread(self._set_role, role)
        if self.want_scheduler:
            self._maybe_start_scheduler()

    def _set_role(self, role: str) -> None:
        self.role = role
        self.refresh_bindings()
        self._header_changed()

    def _maybe_start_scheduler(self) -> None:
        lease = scheduling.get_lease(self.ws.store)
        if lease is not None and lease.alive(self.clock()):
            return
        from lookout.scheduler.service import Scheduler  # numpy: after the first frame

        try:
            sched = Scheduler(self.ws)
            if sched.start():
                self.scheduler = sched
        except Exception as exc:
            self.post_message(Failed("starting the scheduler", exc))

    def _stop_scheduler(self) -> None:
        sched, self.scheduler = self.scheduler, None
        if sched is not None:
            with contextlib.suppress(Exception):
                sched.stop()

    def _load_keymap(self) -> None:
        """Users remap keys by binding id in keymap.toml: `"app.quit" = "ctrl+q"`."""
        path = keymap_path()
        if not path.exists():
            return
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            keys = data.get("keys", data)
            keymap = {str(k): str(v) for k, v in keys.items() if isinstance(v, str)}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            self.report(f"{path}: not a valid keymap", exc)
            return
        self.set_keymap(keymap)

    # -- permissions ------------------------------------------------------------------

    def may(self, action: str) -> bool:
        """Whether this user, in this mode, may take a mutating action at all."""
        action = POLICY_ACTION.get(action, action)
        if action not in policy.NEEDS:
            return True
        return not self.readonly and policy.allows(self.role, action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.may(action)

    # -- errors -----------------------------------------------------------------------

    def report(self, what: str, error: BaseException | str | None = None) -> None:
        """The one error path: a flash message and a line in the log file."""
        detail = "" if error is None else sanitize(error, 300, single_line=True)
        line = sanitize(what, 200, single_line=True) + (f": {detail}" if detail else "")
        try:
            log = _logger()
            if isinstance(error, BaseException):
                log.error(line, exc_info=error)
            else:
                log.error(line)
        except OSError:
            pass
        self.notify(line, severity="error", markup=False, timeout=8)

    def on_failed(self, message: Failed) -> None:
        self.report(message.what, message.error)

    def flash(self, text: str) -> None:
        """A short confirmation; data in it is sanitized and never markup."""
        self.notify(sanitize(text, 200, single_line=True), markup=False, timeout=4)

    # -- live refresh -----------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self.screen_stack or not self.is_running:
            return
        self._header_changed()
        if self.paused or isinstance(self.screen, ModalScreen):
            self._read_lease()  # the data waits, the scheduler's state in the header does not
            self._arm(self.refresh_s)
            return
        self._retime(Times.at(self.clock(), self.times.relative))
        self._start_poll(fetch_all=False)

    def _start_poll(self, fetch_all: bool) -> None:
        screen = self.screen
        if not isinstance(screen, LookoutScreen):
            self._arm(self.refresh_s)
            return
        self._polling = True
        check = fetch_all or id(screen) in self._stale
        self._stale.discard(id(screen))
        self._poll(screen, dict(screen.sources()), check, fetch_all)

    def request_refresh(self, fetch_all: bool = False, screen: Screen[Any] | None = None) -> None:
        """Poll now (or right after the running poll finishes)."""
        if screen is not None:
            self._stale.add(id(screen))
        if self._polling:
            self._again = bool(self._again) or fetch_all
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if isinstance(self.screen, ModalScreen):
            self._arm(self.refresh_s)
            return
        self._start_poll(fetch_all)

    @work(thread=True, exclusive=True, group="poll")
    def _poll(
        self, screen: Screen[Any], sources: dict[str, Source], check: bool, fetch_all: bool
    ) -> None:
        store = self.ws.store
        worker = get_current_worker()
        try:
            version = store.data_version()
            tid = threading.get_ident()
            changed = self._versions.get(tid) != version
            self._versions[tid] = version
            if not (changed or check):
                return
            lease = scheduling.get_lease(store)
            critical = tuple(e.message for e in events.open_critical(store))
            self.post_message(LeaseSeen(lease, critical))
            items = []
            for name, (key_fn, fetch_fn) in sources.items():
                if worker.is_cancelled:
                    return
                slot = (id(screen), name)
                key = key_fn(store)
                if not fetch_all and self._keys.get(slot) == key:
                    continue
                t0 = time.perf_counter()
                data = fetch_fn(store)
                items.append((name, data, time.perf_counter() - t0))
                self._keys[slot] = key
            if items:  # one message, so the screen repaints once per poll
                self.post_message(Fetched(screen, items))
        except Exception as exc:
            self._keys = {k: v for k, v in self._keys.items() if k[0] != id(screen)}
            self.post_message(Failed("refreshing", exc))
        finally:
            self.post_message(PollDone())

    @work(thread=True, exclusive=True, group="lease")
    def _read_lease(self) -> None:
        try:
            self.post_message(LeaseSeen(scheduling.get_lease(self.ws.store)))
        except Exception as exc:
            self.post_message(Failed("reading the scheduler lease", exc))

    def on_poll_done(self, _: PollDone) -> None:
        self._polling = False
        again, self._again = self._again, None
        if again is not None:
            self._start_poll(again)
        else:
            self._arm(self.refresh_s)

    def first_data(self) -> None:
        """The first frame has data: now learn the role and maybe start a scheduler
        (neither is needed to draw it, and the scheduler loads numpy and apscheduler)."""
        if not self._started:
            self._started = True
            self.call_after_refresh(self._first_frame_shown)

    def _first_frame_shown(self) -> None:
        if not gc.isenabled():  # `lookout` starts with the collector off; see commands/open
            gc.freeze()  # what start-up built lives as long as the console: never rescan it
            gc.enable()
        self._startup()

    def seed(self, screen: Screen[Any], name: str, key: object) -> None:
        """Data for `name` was shown from elsewhere (the prefetch): remember its key."""
        self._keys[(id(screen), name)] = key

    def on_fetched(self, message: Fetched) -> None:
        self.first_data()
        screen = message.screen
        if not screen.is_attached or not isinstance(screen, LookoutScreen):
            return
        with self.batch_update():
            for name, data, seconds in message.items:
                t0 = time.perf_counter()
                try:
                    screen.show(name, data)
                except Exception as exc:
                    self.report(f"showing {name}", exc)
                self.timings.append((name, seconds, time.perf_counter() - t0))
        screen.loaded = True
        del self.timings[:-2000]

    def on_lease_seen(self, message: LeaseSeen) -> None:
        self.lease = message.lease
        self.critical = message.critical
        self._header_changed()

    def forget(self, screen: Screen[Any]) -> None:
        """A screen went away: drop what we remembered about its data."""
        self._keys = {k: v for k, v in self._keys.items() if k[0] != id(screen)}
        self._stale.discard(id(screen))

    @property
    def busy(self) -> bool:
        """A poll or any worker is still going (tests and screenshots wait on this)."""
        return (
            self._polling or self._again is not None or any(not w.is_finished for w in self.workers)
        )

    def scheduler_alive(self) -> bool:
        return self.scheduler_state() != "down"

    def scheduler_state(self) -> str:
        """`up`, `late` (no heartbeat for two intervals, but the lease holds: a busy
        scheduler, not a dead one) or `down` (the lease expired, or none was ever taken)."""
        now = self.clock()
        if self.lease is None or not self.lease.alive(now):
            return "down"
        beat = float(self.ws.config.scheduler.get("heartbeat") or 5.0)
        return "late" if now - self.lease.heartbeat_at > 2 * beat else "up"

    def header_text(self) -> Text:
        """Workspace, user and role, scheduler state, live or paused: all plain text."""
        t = Text()
        t.append(" Lookout ", style="bold reverse")
        t.append(" ")
        t.append(sanitize(self.ws.config.workspace.get("name", "lookout"), 30, single_line=True))
        t.append("  │  ")
        t.append(sanitize(self.user, 30, single_line=True), style="bold")
        t.append(f"  ({self.role}{', read-only' if self.readonly else ''})")
        t.append("  │  scheduler ")
        state = self.scheduler_state()
        if state == "down" or self.lease is None:
            t.append("○ down", style="bold red")
        else:
            t.append(*(("● up", "green") if state == "up" else ("▲ late", "bold yellow")))
            t.append(" " + sanitize(self.lease.host, 24, single_line=True))
        if self.ws.store.stale:
            t.append(" (store as last written)", style="bold yellow")
        if self.critical:
            t.append("  │  ")
            t.append(f"⚠ serving mismatch ({len(self.critical)})", style="bold reverse red")
        t.append("  │  ")
        if self.paused:
            t.append("⏸ paused (p resumes)", style="bold yellow")
        else:
            t.append(f"live {self.refresh_s:g}s")
        return t

    def _header_changed(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LookoutScreen):
                screen.update_header()

    # -- app-wide actions -------------------------------------------------------------

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._header_changed()
        if not self.paused:
            self.request_refresh(fetch_all=False, screen=self.screen)

    def action_times(self) -> None:
        """`t`: lists show ages (`3m`) or absolute UTC times, and back."""
        self._retime(Times.at(self.clock(), not self.times.relative))

    def _retime(self, times: Times) -> None:
        if times != self.times:
            self.times = times
            if isinstance(self.screen, LookoutScreen):
                self.screen.retime()

    def action_refresh(self) -> None:
        self.request_refresh(fetch_all=True)

    @property
    def targets(self) -> Sequence[Target]:
        """The screens `:`, the palette and help can open (screens/registry.py)."""
        return registry.TARGETS

    def get_system_commands(self, screen: Screen[Any]) -> Iterator[SystemCommand]:
        """Textual's own commands (themes, its key panel, screenshots, maximize) stay out of
        the palette: it lists the console's commands, each once (screens/base.py)."""
        yield from ()

    def action_command_palette(self) -> None:
        if self.use_command_palette and not Palette.is_open(cast(App[Any], self)):
            self.push_screen(Palette(id="--command-palette"))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.targets))

    def action_jump(self) -> None:
        screen = self.screen
        shown = screen.palette_targets() if isinstance(screen, LookoutScreen) else []
        self.push_screen(JumpModal(self.targets, [target for _, target in shown]), self.jump)

    def jump(self, target: str | None) -> None:
        """Open a screen named like `model churn`, `pipeline x`, `check ds.name`, `timeline`."""
        if not target:
            return
        found = registry.find(target.strip())
        screen = None
        if found is not None:
            row, argument = found
            if row.open is None:  # the overview, at the bottom of the stack
                while len(self.screen_stack) > 1:
                    self.pop_screen()
                return
            screen = row.open(argument)
        if screen is None:
            usage = ", ".join(t.usage for t in self.targets)
            self.report(f"nothing to jump to for {target!r}; try {usage}")
            return
        self.push_screen(screen)

    # -- mutating actions, run in thread workers --------------------------------------

    @work(thread=True, group="action")
    def perform(self, what: str, call: Callable[[], Any]) -> None:
        """Run an action in a thread; its outcome (or error) becomes a flash message."""
        try:
            outcome = call()
        except Exception as exc:
            self.post_message(Failed(what, exc))
            return
        message = getattr(outcome, "message", None) or f"{what}: done"
        self.post_message(ActionDone(str(message), bool(getattr(outcome, "ok", True)), what))

    def on_action_done(self, message: ActionDone) -> None:
        if message.ok:
            self.flash(message.text)
        else:
            self.report(message.what, message.text)
        self.request_refresh(screen=self.screen)


# Screens, modals and actions reach the app only as a Console (they cannot import this
# module, which imports them); this line has mypy hold LookoutApp to that protocol.
_CONSOLE: type[Console] = LookoutApp
