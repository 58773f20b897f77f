"""The overview's live panes: each module has a `fetch(store)` that reads (in a thread)
and a `rows(data)` that turns what it read into keyed table rows (on the UI thread).

Nothing here imports Textual, so the first fetch can start while Textual loads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lookout.storage.db import Store

if TYPE_CHECKING:
    from lookout.console.format import Cells, Times


@dataclass(frozen=True)
class PaneSpec:
    """How one pane reads, notices change, and shows its data."""

    name: str
    title: str
    columns: Sequence[tuple[str, str]]
    empty: str
    key: Callable[[Store], tuple[object, ...]]
    fetch: Callable[[Store], Any]
    rows: Callable[[Any, Times], list[tuple[str, Cells]]]  # (data, how to show times)
    summary: Callable[[Any], str] = lambda data: ""
    flex: tuple[str, ...] = ()  # columns of free text that give way first when room is short
    # time column -> its header as ages (or times to come) and as UTC times (after `t`)
    times: dict[str, tuple[str, str]] = field(default_factory=dict)


def overview_specs() -> list[PaneSpec]:
    """The four panes and the events strip, in screen order."""
    from lookout.console.panes import checks, drift, events, models, pipelines

    return [pipelines.SPEC, checks.SPEC, models.SPEC, drift.SPEC, events.SPEC]


class Prefetch(threading.Thread):
    """The overview's first data, read while the console is still starting up."""

    def __init__(self, store: Store) -> None:
        super().__init__(name="lookout-prefetch", daemon=True)
        self.store = store
        self.results: dict[str, tuple[object, Any, float]] = {}  # name -> (key, data, s)
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for spec in overview_specs():
                key = spec.key(self.store)
                t0 = time.perf_counter()
                data = spec.fetch(self.store)
                self.results[spec.name] = (key, data, time.perf_counter() - t0)
        except Exception as exc:  # the regular poll will report it
            self.error = exc

    @property
    def ready(self) -> bool:
        return not self.is_alive() and self.error is None
