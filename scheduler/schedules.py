"""Schedules: an interval ("10m") or a crontab line, parsed as cron(8) reads it.

The config parses every schedule when it loads (`lookout.scheduler.validate.schedule`),
so a value out of range, a day that never comes or an interval too long for a clock is
one line naming the key, before anything runs. The scheduler service turns a parsed
schedule into an APScheduler trigger (`trigger`), which cannot fail for one that parsed;
APScheduler is imported only there, so reading a config stays light.

APScheduler 3's own `CronTrigger.from_crontab` numbers the days of the week from Monday
= 0 (agronholm/apscheduler#286): "0 9 * * 1" would fire on Tuesdays. Here every field is
expanded to the values cron(8) gives it (day of week 0 and 7 are Sunday, names, ranges,
steps and lists), and the trigger is built from those values by name. As in cron(8),
when both day of month and day of week are restricted (neither starts with `*`), the
schedule fires on a day that matches either.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# The longest interval: ten years. Anything longer is a typo, and far longer ones
# overflow a datetime (the next fire time) or a thread's timeout.
MAX_SECONDS = 3650 * 86400.0

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] means low + i


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day of month", 1, 31),
    Field("month", 1, 12, MONTHS),
    Field("day of week", 0, 7, DAYS),  # 7 is Sunday again
)


class ScheduleError(ValueError):
    """What is wrong with a schedule, in words that follow its key path."""


@dataclass(frozen=True)
class Cron:
    """A crontab line expanded: the values each field matches (day of week 0 = Sunday)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    either_day: bool  # both day fields restricted: a day matching either one fires


@dataclass(frozen=True)
class Interval:
    seconds: float


Schedule = Cron | Interval


def duration_seconds(text: str) -> float | None:
    """'30s', '10m', '2h', '1d', '500ms' in seconds; None if it is not one."""
    m = DURATION_RE.match(text)
    return float(m.group(1)) * DURATION_UNITS[m.group(2)] if m else None


def parse(text: str) -> Schedule:
    """An interval or a crontab line (or @hourly, @daily, …); ScheduleError says what is wrong."""
    s = text.strip()
    seconds = duration_seconds(s)
    if seconds is not None:
        if not 0 < seconds <= MAX_SECONDS:
            raise ScheduleError(f'expected an interval above 0 and at most 3650d, got "{s}"')
        return Interval(seconds)
    if s.startswith("@"):
        if s.lower() not in ALIASES:
            listed = ", ".join(ALIASES)
            raise ScheduleError(f'expected one of {listed}, got "{s}"')
        s = ALIASES[s.lower()]
    parts = s.split()
    if len(parts) != 5:
        raise ScheduleError(
            f'expected an interval like "10m" or a cron expression like "*/15 * * * *", got "{s}"'
        )
    values = [_field(f, p) for f, p in zip(FIELDS, parts, strict=True)]
    weekdays = tuple(sorted({d % 7 for d in values[4]}))
    cron = Cron(
        tuple(values[0]),
        tuple(values[1]),
        tuple(values[2]),
        tuple(values[3]),
        weekdays,
        either_day=not parts[2].startswith("*") and not parts[4].startswith("*"),
    )
    if not _some_day(cron):
        raise ScheduleError(f'"{s}" never fires: no month has that day')
    return cron


def _field(f: Field, text: str) -> list[int]:
    out: set[int] = set()
    for item in text.split(","):
        out.update(_item(f, item))
    return sorted(out)


def _item(f: Field, item: str) -> range:
    where = f'{f.name} "{item}"'
    span, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(f"{where}: expected a step of 1 or more after /")
        step = int(step_text)
    if span == "*":
        low, high = f.low, f.high
        if f.name == "day of week":
            high = 6  # */2 means Sunday, Tuesday, Thursday, Saturday
    elif "-" in span:
        a, _, b = span.partition("-")
        low, high = _value(f, a, where), _value(f, b, where)
        if low > high:
            raise ScheduleError(f"{where}: a range goes from low to high")
    else:
        low = _value(f, span, where)
        high = f.high if slash else low  # "5/15" means from 5 to the end, every 15
    return range(low, high + 1, step)


def _value(f: Field, text: str, where: str) -> int:
    word = text.lower()
    if word in f.names:
        return f.low + f.names.index(word)
    if not word.isdigit() or not f.low <= int(word) <= f.high:
        named = f" or {f.names[0]}-{f.names[-1]}" if f.names else ""
        raise ScheduleError(f"{where}: expected {f.low}-{f.high}{named}")
    return int(word)


def _some_day(cron: Cron) -> bool:
    """Whether a month in the schedule has one of its days (February has a 29th)."""
    if cron.either_day and cron.weekdays:
        return True
    longest = {m: calendar.monthrange(2024, m)[1] for m in cron.months}
    return any(d <= longest[m] for m in cron.months for d in cron.days)


def timezone(name: str) -> dt.tzinfo:
    """An IANA time zone by name (ZoneInfoNotFoundError, a KeyError, if there is none)."""
    import zoneinfo

    if name.upper() == "UTC":
        return dt.UTC
    return zoneinfo.ZoneInfo(name)


def trigger(text: str, tz: dt.tzinfo = dt.UTC) -> BaseTrigger:
    """The APScheduler trigger of a schedule that parsed; cron fields fire in `tz`."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    parsed = parse(text)
    if isinstance(parsed, Interval):
        return IntervalTrigger(seconds=parsed.seconds, timezone=dt.UTC)

    def listed(values: tuple[int, ...]) -> str:
        return ",".join(map(str, values))

    common = {
        "minute": listed(parsed.minutes),
        "hour": listed(parsed.hours),
        "month": listed(parsed.months),
        "timezone": tz,
    }
    weekdays = ",".join(DAYS[d] for d in parsed.weekdays)
    if not parsed.either_day:
        return CronTrigger(day=listed(parsed.days), day_of_week=weekdays, **common)
    return OrTrigger(
        [
            CronTrigger(day=listed(parsed.days), **common),
            CronTrigger(day_of_week=weekdays, **common),
        ]
    )


def shown_at(ts: float | None, zone: str) -> str | None:
    """A time as the schedules read it: ISO 8601 in UTC with a Z, or in `zone` with its
    offset ("2026-03-02T09:00:00+01:00"), so "0 9 * * *" is seen to fire at nine."""
    if ts is None:
        return None
    tz = timezone(zone)
    at = dt.datetime.fromtimestamp(ts, tz)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if tz is dt.UTC else at.isoformat(timespec="seconds")
