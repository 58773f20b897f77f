"""How `lookout.toml` is validated: value checkers and the tables they combine into.

A checker is `(path, value) -> value`: it returns the value (typed, defaults
filled in) or raises `Invalid` with the key path and what was expected. The
config (`lookout.scheduler.config`) and every extension point that brings its
own keys (check types, drift methods, connectors) build on these, so each
mistake reads the same way wherever its key is declared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lookout.scheduler import schedules
from lookout.scheduler.schedules import MAX_SECONDS, ScheduleError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CALL_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)\s*$", re.IGNORECASE)
SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


class Invalid(Exception):
    """A value that does not fit; `path` is the key path, `message` what was expected."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


# -- value checkers ---------------------------------------------------------------

Checker = Callable[[str, Any], Any]


SHOWN = 80  # characters of a value an error message echoes: a 10 MB string is not a message
INT64_MAX = 2**63 - 1  # the largest integer SQLite stores


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def shown(value: Any) -> str:
    """A value as an error message echoes it: quoted, cut to SHOWN characters, with what
    cannot be shown (a NUL, an escape) written as its escape code."""
    if isinstance(value, str):
        text = _cut(value)
        if not text.isprintable():
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        return f'"{text}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return _cut(str(value))


def shown_path(path: str) -> str:
    """A key path as an error message echoes it (keys are chosen by whoever wrote the file)."""
    return path if len(path) <= 2 * SHOWN else path[: 2 * SHOWN - 1] + "…"


def string(path: str, v: Any) -> str:
    if not isinstance(v, str):
        raise Invalid(path, f"expected a string, got {shown(v)}")
    return v


def nonempty(path: str, v: Any) -> str:
    s = string(path, v)
    if not s.strip():
        raise Invalid(path, "expected a non-empty string")
    return s


def path_text(path: str, v: Any) -> str:
    """A file or folder path: a NUL character cannot name a file."""
    s = nonempty(path, v)
    if "\x00" in s:
        raise Invalid(path, f"expected a path, got {shown(s)} (it holds a NUL character)")
    return s


def boolean(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise Invalid(path, f"expected true or false, got {shown(v)}")
    return v


def integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(path: str, v: Any) -> int:
        bounds = ""
        if minimum is not None:
            bounds = f" ≥ {minimum}"
        if maximum is not None:
            bounds += f" and ≤ {maximum}" if bounds else f" ≤ {maximum}"
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid(path, f"expected an integer{bounds}, got {shown(v)}")
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise Invalid(path, f"expected an integer{bounds}, got {shown(v)}")
        if abs(v) > INT64_MAX:
            raise Invalid(path, f"expected an integer{bounds} of at most 64 bits, got {shown(v)}")
        return v

    return check


def number(minimum: float | None = None, maximum: float | None = None) -> Checker:
    def check(path: str, v: Any) -> float:
        bounds = ""
        if minimum is not None:
            bounds = f" ≥ {minimum:g}"
        if maximum is not None:
            bounds += f" and ≤ {maximum:g}" if bounds else f" ≤ {maximum:g}"
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise Invalid(path, f"expected a number{bounds}, got {shown(v)}")
        try:
            f = float(v)
        except OverflowError:  # an integer literal beyond any float
            f = math.inf
        if not math.isfinite(f):
            raise Invalid(path, f"expected a finite number{bounds}, got {shown(v)}")
        if (minimum is not None and f < minimum) or (maximum is not None and f > maximum):
            raise Invalid(path, f"expected a number{bounds}, got {f:g}")
        return f

    return check


def choice(*options: str) -> Checker:
    def check(path: str, v: Any) -> str:
        if v not in options:
            listed = ", ".join(f'"{o}"' for o in options)
            raise Invalid(path, f"expected one of {listed}, got {shown(v)}")
        return str(v)

    return check


def duration(path: str, v: Any) -> float:
    """'30s', '10m', '2h', '1d', '500ms' or a number of seconds; > 0 and at most ten years
    (longer ones overflow a clock or a timeout)."""
    seconds: float | None = None
    if isinstance(v, int | float) and not isinstance(v, bool):
        # an integer beyond a float is not finite either (float() would raise)
        seconds = None if v != v else float(v) if abs(v) <= INT64_MAX else math.inf
    elif isinstance(v, str):
        seconds = schedules.duration_seconds(v)
    if seconds is None or seconds <= 0:
        raise Invalid(path, f'expected a duration like "30s", "10m" or "2h", got {shown(v)}')
    if seconds > MAX_SECONDS:
        raise Invalid(path, f"expected a duration of at most 3650d, got {shown(v)}")
    return seconds


def size(path: str, v: Any) -> int:
    """'200MB', '1.5GB', '512KB' or a number of bytes; 0 or more (1 KB = 1000 bytes)."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT64_MAX:
        return v
    if isinstance(v, str):
        m = SIZE_RE.match(v)
        if m:
            count = float(m.group(1)) * SIZE_UNITS[m.group(2).upper()]
            if count <= INT64_MAX:  # 400 digits read as a float are infinite
                return int(count)
    raise Invalid(path, f'expected a size like "200MB" or "2GB", got {shown(v)}')


def schedule(path: str, v: Any) -> str:
    """An interval ('10m': every ten minutes), a five-field crontab line or @hourly, @daily,
    @weekly, @monthly, @yearly; parsed now (`lookout.scheduler.schedules`), so a value out
    of range fails when the config loads."""
    s = string(path, v).strip()
    try:
        schedules.parse(s)
    except ScheduleError as exc:
        raise Invalid(path, str(exc)) from None
    return s


def zone(path: str, v: Any) -> str:
    """An IANA time zone name, e.g. "Europe/Berlin" or "UTC"."""
    s = nonempty(path, v)
    try:
        schedules.timezone(s)
    except (KeyError, ValueError, OSError):  # unknown, malformed, a directory of zones
        raise Invalid(
            path, f'expected an IANA time zone like "Europe/Berlin", got {shown(s)}'
        ) from None
    return s


def name(path: str, v: Any) -> str:
    s = string(path, v)
    if not NAME_RE.match(s):
        raise Invalid(path, f'expected a name of letters, digits, "_", "-" or ".", got {shown(s)}')
    return s


def call(path: str, v: Any) -> str:
    s = string(path, v)
    if not CALL_RE.match(s):
        raise Invalid(path, f'expected "module:function", got {shown(s)}')
    return s


def url(path: str, v: Any) -> str:
    s = string(path, v)
    if not re.match(r"^https?://[^\s/]+", s):
        raise Invalid(path, f"expected an http:// or https:// URL, got {shown(s)}")
    return s


def list_of(item: Checker) -> Checker:
    def check(path: str, v: Any) -> list[Any]:
        if not isinstance(v, list):
            raise Invalid(path, f"expected an array, got {shown(v)}")
        return [item(f"{path}[{i}]", x) for i, x in enumerate(v)]

    return check


def scalar(path: str, v: Any) -> Any:
    if isinstance(v, dict | list):
        raise Invalid(path, f"expected a string, number or boolean, got {shown(v)}")
    return v


def free_table(path: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise Invalid(path, f"expected a table, got {shown(v)}")
    return dict(v)


# -- tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    check: Checker
    required: bool = False
    default: Any = None


def table(spec: dict[str, Key]) -> Checker:
    """A table with known keys; unknown keys are mistakes (usually typos)."""

    def check(path: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise Invalid(path, f"expected a table, got {shown(v)}")
        for key in v:
            if key not in spec:
                known = ", ".join(sorted(spec))
                raise Invalid(join(path, key), f"unknown key (known keys: {known})")
        out: dict[str, Any] = {}
        for key, k in spec.items():
            if key in v:
                out[key] = k.check(join(path, key), v[key])
            elif k.required:
                raise Invalid(join(path, key), "missing required key")
            elif k.default is dict:
                out[key] = k.check(join(path, key), {})  # a section's own defaults
            else:
                out[key] = k.default() if callable(k.default) else k.default
        return out

    return check


def named_tables(item: Checker) -> Checker:
    """A table whose keys are user-chosen names, each holding a table."""

    def check(path: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise Invalid(path, f"expected a table, got {shown(v)}")
        out = {}
        for key, value in v.items():
            name(join(path, key), key)
            out[key] = item(join(path, key), value)
        return out

    return check


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
