"""The app as its screens, modals and actions see it, and the row type of its table of
screens.

`app.py` imports every screen, so no screen (nor a modal or action flow a screen
uses) may import `app.py` back; import-linter holds that in `make lint`. They reach
the app through `Console` instead, a Protocol that `LookoutApp` satisfies (mypy checks
that where app.py names it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lookout.console.format import Times
from lookout.console.panes import Prefetch
from lookout.scheduler.door import Changes
from lookout.scheduler.workspace import Workspace
from rich.text import Text
from textual.message import Message
from textual.screen import Screen


@dataclass(frozen=True)
class Target:
    """A screen that `:` jump, the command palette and the help screen can open by name.

    `:model churn` finds the row whose word or alias is `model` and calls its `open`
    with the rest, `churn`. The table itself is `screens/registry.py`.
    """

    word: str  # what `:` takes, and what help and the jump prompt show
    aliases: tuple[str, ...]  # shorter words `:` also takes
    argument: str  # what must follow the word, shown as in `model NAME`; "" for none
    # builds the screen from the argument (None when the argument names nothing); None
    # for the overview, which is always at the bottom: jumping there pops back to it
    open: Callable[[str], Screen[Any] | None] | None
    title: str = ""  # its name in the command palette, for rows that need no argument
    help: str = ""  # and the palette's line about it

    @property
    def usage(self) -> str:
        return f"{self.word} {self.argument}".rstrip()


class Console(Protocol):
    """What screens, modals and actions use of `LookoutApp`."""

    ws: Workspace
    user: str
    changes: Changes
    clock: Callable[[], float]
    prefetch: Prefetch | None
    times: Times  # how lists show times: ages, or absolute UTC after `t`

    @property
    def targets(self) -> Sequence[Target]:
        """The screens `:` can open (screens/registry.py), for the palette."""

    def may(self, action: str) -> bool: ...
    def report(self, what: str, error: BaseException | str | None = None) -> None: ...
    def jump(self, target: str | None) -> None: ...
    def request_refresh(
        self, fetch_all: bool = False, screen: Screen[Any] | None = None
    ) -> None: ...
    def forget(self, screen: Screen[Any]) -> None: ...
    def seed(self, screen: Screen[Any], name: str, key: object) -> None: ...
    def first_data(self) -> None: ...
    def header_text(self) -> Text: ...
    def scheduler_alive(self) -> bool: ...
    def perform(self, what: str, call: Callable[[], Any]) -> object: ...
    def hold_keys(self) -> None: ...
    def release_keys(self) -> None: ...

    # Textual's own, in the shape the action flows call them
    def push_screen(self, screen: Screen[Any], callback: Callable[[Any], None]) -> object: ...
    def call_from_thread(self, callback: Callable[..., Any], *args: Any) -> Any: ...
    def run_worker(self, work: Callable[[], None], *, thread: bool, group: str) -> object: ...
    def post_message(self, message: Message) -> bool: ...
