"""What every screen shares: status glyphs, safe text, and a table updated by row key.

Status is always a glyph and a word (colour only adds to it), so the console
reads the same with NO_COLOR or 16 colours. Every piece of data becomes a
`rich.text.Text` built from sanitized plain text, never markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable, Input

from storage.text import sanitize

# status word -> (glyph, style)
STATUS: dict[str, tuple[str, str]] = {
    "succeeded": ("✓", "green"),
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
    """Absolute UTC time, so the screen does not change while nothing happens."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%m-%d %H:%M")


def clock_time(ts: float | None) -> str:
    """Hours and minutes (UTC), for times that are near: the next scheduled run."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M")


def when_long(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


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


def bar(score: float | None, threshold: float, width: int = 10) -> Text:
    """A score as a bar filled relative to twice its threshold; `|` marks the threshold."""
    if score is None or threshold <= 0:
        return Text("·" * width, style="dim")
    filled = max(0, min(width, round(score / (2 * threshold) * width)))
    cells = ["█"] * filled + ["░"] * (width - filled)
    mid = width // 2
    if cells[mid] == "░":
        cells[mid] = "│"
    style = "red" if score >= threshold else "yellow" if score >= threshold / 2 else "green"
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


class KeyedTable(DataTable[Text | str]):
    """A DataTable synced by stable row keys: rows are added, updated cell by cell and
    removed, never cleared, and the cursor stays on the row it was on."""

    DEFAULT_CSS = "KeyedTable { height: 1fr; }"

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._columns = list(columns)
        self._rows: list[tuple[str, Cells]] = []
        self._shown: dict[str, Cells] = {}
        self.filter_text = ""

    def on_mount(self) -> None:
        for key, label in self._columns:
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)

    def sync(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Make the table show `rows` in this order, touching only what changed."""
        self._rows = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply()

    def _visible(self) -> list[tuple[str, Cells]]:
        needle = self.filter_text.casefold().strip()
        if not needle:
            return self._rows
        return [
            (k, cells)
            for k, cells in self._rows
            if needle in " ".join(str(c) for c in cells).casefold()
        ]

    def _apply(self) -> None:
        visible = self._visible()
        wanted = dict(visible)
        current = self.selected_key
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
        changed_width = False
        for key, cells in visible:
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                changed_width = True
            elif old != cells:
                for (col, _), new, was in zip(self._columns, cells, old, strict=True):
                    if new != was:
                        self.update_cell(key, col, new, update_width=True)
            self._shown[key] = cells
        if [k for k, _ in visible] != self._display_order():
            first = self._columns[0][0]
            order = {id(self.get_cell(k, first)): i for i, (k, _) in enumerate(visible)}
            self.sort(key=lambda values: order.get(id(values[0]), 0))
        if changed_width:
            self.refresh()
        if current is not None and current in self._shown:
            index = self.get_row_index(current)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)

    def _display_order(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]


class QuietInput(Input):
    """An Input whose cursor does not blink, so an open prompt costs no bytes at rest."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cursor_blink = False
