"""Turning records into display text: status glyphs, safe untrusted text, times, bars.

Status is always a glyph and a word (colour only adds to it), so the console reads
the same with NO_COLOR or 16 colours. Every piece of data becomes a `rich.text.Text`
built from sanitized plain text, never markup. No Textual here: the first fetch runs
while Textual is still importing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lookout.storage.text import sanitize
from rich.text import Text

if TYPE_CHECKING:
    from lookout.scheduler.connectors.base import SyncStatus

# status word -> (glyph, style)
STATUS: dict[str, tuple[str, str]] = {
    "succeeded": ("✓", "green"),
    "unchanged": ("✓", "green"),  # a run with nothing new to train: it did its job
    "pass": ("✓", "green"),
    "ok": ("✓", "green"),
    "approved": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "fail": ("✗", "bold red"),
    "drift": ("✗", "bold red"),
    "rejected": ("✗", "red"),
    "error": ("‼", "bold magenta"),
    "warn": ("▲", "yellow"),
    "running": ("▶", "cyan"),
    "queued": ("…", "cyan"),
    "pending": ("·", "dim"),
    "skipped": ("-", "dim"),
    "cancelled": ("⊘", "dim"),
    "superseded": ("⊘", "dim"),
    "interrupted": ("!", "magenta"),
    # the task states of a mirrored Airflow stage that Lookout's own stages never have
    "scheduled": ("…", "dim"),
    "upstream_failed": ("↑", "yellow"),
    "up_for_retry": ("↻", "yellow"),
    "up_for_reschedule": ("↻", "cyan"),
    "restarting": ("↻", "magenta"),
    "deferred": ("‖", "cyan"),
    "removed": ("×", "dim"),
    "awaiting_input": ("✎", "yellow"),
    "info": ("·", ""),
    "alive": ("●", "green"),
    "down": ("○", "red"),
}


def glyph(status: str) -> str:
    return STATUS.get(status, ("?", ""))[0]


def status_text(status: str, width: int = 0) -> Text:
    """`✗ failed`: glyph and word, styled, padded to `width`."""
    g, style = STATUS.get(status, ("?", ""))
    word = sanitize(status, 20, single_line=True)
    return Text(f"{g} {word}".ljust(width), style=style)


def safe(value: object, limit: int | None = 80, style: str = "") -> Text:
    """Untrusted data as displayable text: sanitized, one line, never markup."""
    if value is None:
        return Text("-", style="dim")
    return Text(sanitize(value, limit, single_line=True), style=style)


def safe_block(value: object, style: str = "") -> Text:
    """Multi-line untrusted text (logs) with escapes and controls removed."""
    return Text(sanitize("" if value is None else value), style=style)


def when(ts: float | None) -> str:
    """Absolute UTC time to the minute (`03-02 07:53`): what `t` shows in lists."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%m-%d %H:%M")


def clock_time(ts: float | None) -> str:
    """Hours and minutes (UTC), for times that are near: the next scheduled run."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M")


def when_long(ts: float | None) -> str:
    """Absolute UTC time to the second, for detail views."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def span(seconds: float) -> str:
    """A coarse length of time: `<1m`, `3m`, `2h`, `4d`."""
    if seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


@dataclass(frozen=True)
class Times:
    """How lists show times: ages counted to the start of the current minute (so a list
    changes at most once a minute, and only where an age ticks over), or, after `t`,
    absolute UTC times. Detail views always say the absolute time too."""

    now: float  # the start of the current minute
    relative: bool = True

    @classmethod
    def at(cls, clock: float, relative: bool = True) -> Times:
        return cls(clock // 60 * 60, relative)

    def ago(self, ts: float | None) -> str:
        """`3m` (an age) or `03-02 07:53` (UTC)."""
        if ts is None:
            return "-"
        return span(max(0.0, self.now - ts)) if self.relative else when(ts)

    def until(self, ts: float | None) -> str:
        """`in 3m` (a time to come), `due` once it passed, or `07:53` (UTC)."""
        if ts is None:
            return "-"
        if not self.relative:
            return clock_time(ts)
        return f"in {span(ts - self.now)}" if ts > self.now else "due"

    def label(self, absolute: str, relative: str = "Age") -> str:
        """A time column's header: `Age`, or (after `t`) `At (UTC)`."""
        return relative if self.relative else absolute


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def freshness(title: str, sync: SyncStatus, at: float | None = None) -> str:
    """How fresh a connector's mirror is: 'Airflow synced 30s ago', or 'Airflow stale: last
    synced 12m ago' when its last try failed (or none worked yet)."""
    age = sync.age(at)
    ago = "never" if age is None else f"{duration(age)} ago"
    if sync.stale or age is None:
        return f"{title} stale: last synced {ago}"
    return f"{title} synced {ago}"


def number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return sanitize(value, 20, single_line=True)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


def delta(new: object, old: object) -> Text:
    """`+0.014` / `-0.2`; plain `-` when either side is missing."""
    if not isinstance(new, int | float) or not isinstance(old, int | float):
        return Text("-", style="dim")
    d = float(new) - float(old)
    sign = "+" if d > 0 else "±" if d == 0 else "−"
    return Text(f"{sign}{abs(d):.3g}")


def bar(strength: float | None, width: int = 10) -> Text:
    """How drifted a feature is (1.0 = its drift threshold, see `FeatureDrift.strength`)
    as a bar filled up to twice the threshold; `│` marks the threshold."""
    if strength is None:
        return Text("·" * width, style="dim")
    filled = max(0, min(width, round(strength / 2 * width)))
    cells = ["█"] * filled + ["░"] * (width - filled)
    mid = width // 2
    if cells[mid] == "░":
        cells[mid] = "│"
    style = "red" if strength >= 1 else "yellow" if strength >= 0.5 else "green"
    return Text("".join(cells), style=style)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], top: float | None = None) -> str:
    """Unicode block sparkline, oldest first; missing values are gaps."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    high = top if top else max(nums) or 1.0
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARKS[max(0, min(7, int(v / high * 7.999)))])
    return "".join(out)


Cells = tuple[Text | str, ...]
