"""The messages the console's workers post to the app, which handles them on the UI
thread (`on_fetched`, `on_failed`, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lookout.storage.records import Lease
from textual.message import Message
from textual.screen import Screen


@dataclass
class Fetched(Message):
    """Fresh data for the sources of a screen that changed, read in a thread worker."""

    screen: Screen[Any]
    items: list[tuple[str, Any, float]]  # (source name, data, seconds the query took)


@dataclass
class LeaseSeen(Message):
    """The scheduler's lease as the last poll read it (None: no scheduler ever ran)."""

    lease: Lease | None
    critical: tuple[str, ...] = ()  # open critical events' messages (what serves disagrees)


@dataclass
class PollDone(Message):
    """A poll finished, with or without news: the app may arm the next one."""


@dataclass
class ActionDone(Message):
    """A mutating action returned; `ok` False means it was refused, not that it raised."""

    text: str
    ok: bool
    what: str


@dataclass
class Failed(Message):
    """A worker failed; shown as a flash message and written to the log file."""

    what: str
    error: BaseException | str
