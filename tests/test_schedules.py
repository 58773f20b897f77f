"""Schedules fire when cron(8) would, and a schedule that cannot fire fails when the config loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lookout.scheduler import schedules
from lookout.scheduler.config import ConfigError, parse
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import pipelines

from tests.test_pipeline import config, make

PATH = Path("/ws/lookout.toml")
SATURDAY = dt.datetime(2026, 1, 3, 12, 0, tzinfo=dt.UTC)  # 2026-01-04 is a Sunday
WEEK = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def fires(schedule: str, count: int = 7, tz: dt.tzinfo = dt.UTC) -> list[dt.datetime]:
    """The next `count` fire times after SATURDAY."""
    trigger = schedules.trigger(schedule, tz)
    out: list[dt.datetime] = []
    previous = None
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, previous or SATURDAY)
        assert nxt is not None
        out.append(nxt)
        previous = nxt
    return out


def days(schedule: str, count: int = 7) -> list[str]:
    return [f"{t:%A}" for t in fires(schedule, count)]


@pytest.mark.parametrize("number", range(8))
def test_every_weekday_number_means_what_crontab_says(number: int) -> None:
    """0 and 7 are Sunday, 1 is Monday (APScheduler's own from_crontab said Tuesday)."""
    want = WEEK[number % 7]
    assert set(days(f"0 9 * * {number}", 3)) == {want}
    assert fires(f"0 9 * * {number}", 1)[0].hour == 9
    assert set(days(f"0 9 * * {want[:3].lower()}", 3)) == {want}
    assert set(days(f"0 9 * * {want[:3].upper()}", 3)) == {want}


def test_ranges_steps_and_lists_of_weekdays() -> None:
    assert days("0 9 * * 1-5", 5) == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert days("0 9 * * mon-fri", 6)[-1] == "Monday"
    assert days("0 9 * * 5-7", 4) == ["Sunday", "Friday", "Saturday", "Sunday"]
    assert days("0 9 * * */2", 5) == ["Sunday", "Tuesday", "Thursday", "Saturday", "Sunday"]
    assert days("0 9 * * 1,3,sat", 4) == ["Monday", "Wednesday", "Saturday", "Monday"]
    assert days("0 9 * * 0-6/3", 4) == ["Sunday", "Wednesday", "Saturday", "Sunday"]


def test_day_of_month_and_day_of_week_both_set_fire_on_either() -> None:
    """cron(8): "0 0 13 * 5" is every 13th and every Friday, not only Friday the 13th."""
    got = [t.date().isoformat() for t in fires("0 0 13 * 5", 5)]
    assert got == ["2026-01-09", "2026-01-13", "2026-01-16", "2026-01-23", "2026-01-30"]
    # a day field starting with * restricts nothing: both must match
    assert [(t.month, t.day) for t in fires("0 0 */10 * 2", 2)] == [(3, 31), (4, 21)]


@pytest.mark.parametrize(
    ("alias", "first", "second"),
    [
        ("@hourly", "2026-01-03T12:00", "2026-01-03T13:00"),
        ("@daily", "2026-01-04T00:00", "2026-01-05T00:00"),
        ("@midnight", "2026-01-04T00:00", "2026-01-05T00:00"),
        ("@weekly", "2026-01-04T00:00", "2026-01-11T00:00"),
        ("@monthly", "2026-02-01T00:00", "2026-03-01T00:00"),
        ("@yearly", "2027-01-01T00:00", "2028-01-01T00:00"),
    ],
)
def test_at_aliases(alias: str, first: str, second: str) -> None:
    got = [t.strftime("%Y-%m-%dT%H:%M") for t in fires(alias, 2)]
    assert got == [first, second]


def test_cron_schedules_fire_in_the_configured_time_zone() -> None:
    berlin = schedules.timezone("Europe/Berlin")
    winter, summer = (
        fires("0 9 * * 1", 1, berlin)[0],
        schedules.trigger("0 9 * * 1", berlin).get_next_fire_time(
            None, dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
        ),
    )
    assert winter.astimezone(dt.UTC).hour == 8 and f"{winter:%A %H:%M}" == "Monday 09:00"
    assert summer is not None and summer.astimezone(dt.UTC).hour == 7
    assert schedules.shown_at(winter.timestamp(), "Europe/Berlin") == "2026-01-05T09:00:00+01:00"
    assert schedules.shown_at(winter.timestamp(), "UTC") == "2026-01-05T08:00:00Z"


PIPELINE = """
[datasets.d]
source = "data/*.csv"
[models.m]
task = "classification"
target = "y"
[pipelines.p]
dataset = "d"
model = "m"
estimator = "sklearn.tree.DecisionTreeClassifier"
"""

BAD_SCHEDULES = [
    ("99 * * * *", 'minute "99": expected 0-59'),
    ("0 24 * * *", 'hour "24": expected 0-23'),
    ("0 0 0 * *", 'day of month "0": expected 1-31'),
    ("0 0 1 13 *", 'month "13": expected 1-12 or jan-dec'),
    ("0 9 * * 8", 'day of week "8": expected 0-7 or sun-sat'),
    ("0 9 * * fri-mon", 'day of week "fri-mon": a range goes from low to high'),
    ("*/0 * * * *", 'minute "*/0": expected a step of 1 or more after /'),
    ("0 0 30 2 *", '"0 0 30 2 *" never fires: no month has that day'),
    ("@reboot", "expected one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly"),
    ("0 9 * *", 'expected an interval like "10m" or a cron expression like "*/15 * * * *"'),
    ("99999999999999999999d", "expected an interval above 0 and at most 3650d"),
    ("0s", "expected an interval above 0 and at most 3650d"),
]


@pytest.mark.parametrize(("schedule", "message"), BAD_SCHEDULES, ids=[b[0] for b in BAD_SCHEDULES])
def test_a_schedule_that_cannot_fire_fails_when_the_config_loads(
    schedule: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse(PIPELINE + f'schedule = "{schedule}"\n', PATH)
    assert str(info.value).startswith(f"{PATH}: pipelines.p.schedule: {message}")
    with pytest.raises(ConfigError, match=r"datasets\.d\.check_schedule: "):
        parse(
            PIPELINE.replace(
                'source = "data/*.csv"', f'check_schedule = "{schedule}"\nsource = "x"'
            ),
            PATH,
        )


def test_durations_and_time_zones_are_checked_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match=r"pipelines\.p\.stage_timeout: expected a duration of"):
        parse(PIPELINE + 'stage_timeout = "99999999999999999999d"\n', PATH)
    with pytest.raises(ConfigError, match=r"scheduler\.timezone: expected an IANA time zone"):
        parse('[scheduler]\ntimezone = "Mars/Olympus"\n', PATH)
    with pytest.raises(ConfigError, match=r"scheduler\.timezone: expected an IANA time zone"):
        parse('[scheduler]\ntimezone = "../../etc/passwd"\n', PATH)
    assert parse('[scheduler]\ntimezone = "America/New_York"\n', PATH).scheduler["timezone"] == (
        "America/New_York"
    )
    assert parse("", PATH).scheduler["timezone"] == "UTC"


def test_an_overlong_interval_is_one_line_on_the_command_line_not_a_traceback(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make(make_workspace, config())
    (ws.root / "lookout.toml").write_text(config('schedule = "99999999999999999999d"\n'))
    for args in (("status",), ("scheduler", "--once")):
        res = cli(*args, "--workspace", str(ws.root))
        assert res.code == 2 and res.out == "" and res.err.count("\n") == 1, res.err
        assert "pipelines.p.schedule: expected an interval above 0 and at most 3650d" in res.err
        assert "Traceback" not in res.err


def test_next_runs_are_kept_and_shown_in_the_time_zone(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    head = '[scheduler]\ntimezone = "Asia/Tokyo"\n'
    ws = make(make_workspace, config('schedule = "30 9 * * 1"\n', head=head))
    assert Scheduler(ws).run_once()
    stored = pipelines.get_pipeline(ws.store, "p")
    assert stored is not None and stored.next_run_at is not None
    at = dt.datetime.fromtimestamp(stored.next_run_at, schedules.timezone("Asia/Tokyo"))
    assert f"{at:%A %H:%M}" == "Monday 09:30"
    res = cli("status", "--workspace", str(ws.root), "--json")
    status = res.json()
    assert status["scheduler"]["timezone"] == "Asia/Tokyo"
    p = status["pipelines"][0]
    assert p["next_run"].endswith("T00:30:00Z") and p["next_run_local"].endswith("T09:30:00+09:00")
    assert p["next_run_local"] in cli("status", "--workspace", str(ws.root)).out


def test_an_estimator_that_cannot_load_fails_when_the_config_loads(tmp_path: Path) -> None:
    """Found without importing: scikit-learn for installed paths, the workspace's code for
    its own (that runs only in the runner)."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "models.py").write_text(
        "import pathlib\n"
        "pathlib.Path(__file__).with_name('IMPORTED').touch()\n"
        "def forest(**params):\n    return None\n"
        "if True:\n    class Later:\n        pass\n"
    )
    path = tmp_path / "lookout.toml"
    good = [
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.linear_model:LogisticRegression",
        "models:forest",
        "models.Later",
    ]
    for estimator in good:
        parse(PIPELINE.replace("sklearn.tree.DecisionTreeClassifier", estimator), path)
    bad = [
        (
            "sklearn.ensemble.RandomForestClassifer",
            'sklearn.ensemble has no "RandomForestClassifer"',
        ),
        ("sklearn.ensembel.RandomForestClassifier", 'no module named "sklearn.ensembel"'),
        ("xgboostt.XGBClassifier", 'no module named "xgboostt"'),
        ("models:tree", 'models has no "tree"'),
        ("RandomForest", 'expected an import path like "sklearn.svm.SVC", got "RandomForest"'),
    ]
    for estimator, message in bad:
        with pytest.raises(ConfigError) as info:
            parse(PIPELINE.replace("sklearn.tree.DecisionTreeClassifier", estimator), path)
        assert str(info.value) == f"{path}: pipelines.p.estimator: {message}"
    assert not (code / "IMPORTED").exists()
