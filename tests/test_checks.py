"""Data checks: every check type on passing, failing and unevaluable data, and what on-call sees."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lookout.scheduler import drift
from lookout.scheduler.checks.base import Context
from lookout.scheduler.checks.columns import empty_strings
from lookout.scheduler.checks.engine import blocking, run_checks, run_dataset
from lookout.scheduler.checks.not_null import CHECK as NOT_NULL
from lookout.scheduler.checks.range import CHECK as RANGE
from lookout.scheduler.checks.unique import CHECK as UNIQUE
from lookout.scheduler.config import ConfigError, parse
from lookout.scheduler.frame import Frame, frame_from_columns
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import checks as stored
from lookout.storage import events, registry
from lookout.storage.db import now
from lookout.storage.records import CheckResult

MakeWs = Callable[..., Workspace]

PIPELINE = """
[models.m]
task = "regression"
target = "y"

[pipelines.p]
dataset = "d"
model = "m"
estimator = "sklearn.linear_model:Ridge"
"""


def setup(make_workspace: MakeWs, checks: str, extra: str = "", name: str = "ws") -> Workspace:
    return make_workspace(f'[datasets.d]\nsource = "data.csv"\n{checks}\n{extra}', name=name)


def check(kind: str, name: str = "c", **keys: object) -> str:
    """One [[datasets.d.checks]] table in TOML."""
    lines = [f'name = "{name}"', f'type = "{kind}"']
    for key, value in keys.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list):
            items = ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in value)
            lines.append(f"{key} = [{items}]")
        elif isinstance(value, dict):
            items = ", ".join(f'{k} = "{v}"' for k, v in value.items())
            lines.append(f"{key} = {{ {items} }}")
        else:
            lines.append(f"{key} = {value}")
    return "[[datasets.d.checks]]\n" + "\n".join(lines) + "\n"


def results(
    ws: Workspace, frame: Frame, modified_at: float | None = None
) -> dict[str, CheckResult]:
    return {r.name: r for r in run_checks(ws, "d", frame, modified_at=modified_at)}


def one(make_workspace: MakeWs, definition: str, frame: Frame) -> CheckResult:
    return results(setup(make_workspace, definition), frame)["c"]


def nums(**cols: list[float]) -> Frame:
    return frame_from_columns({k: np.array(v, dtype=float) for k, v in cols.items()})


EMPTY = nums(x=[])


# -- schema -------------------------------------------------------------------------


def test_schema_passes_when_columns_have_their_kinds(make_workspace: MakeWs) -> None:
    frame = frame_from_columns({"a": np.array([1, 2]), "b": np.array(["x", "y"])})
    r = one(make_workspace, check("schema", columns={"a": "number", "b": "string"}), frame)
    assert r.result == "pass"


def test_schema_fails_on_missing_and_mistyped_columns(make_workspace: MakeWs) -> None:
    frame = frame_from_columns({"a": np.array(["1x", "2y"]), "extra": np.array([1.5, 2])})
    definition = check("schema", columns={"a": "number", "b": "string"})
    r = one(make_workspace, definition, frame)
    assert r.result == "fail"
    assert r.examples == ("a: string, expected number", "b: missing")


def test_strict_schema_refuses_unexpected_columns(make_workspace: MakeWs) -> None:
    frame = nums(a=[1.5], extra=[2.5])
    assert one(make_workspace, check("schema", columns={"a": "number"}), frame).result == "pass"
    ws = setup(make_workspace, check("schema", columns={"a": "number"}, strict=True), name="s")
    r = results(ws, frame)["c"]
    assert r.result == "fail" and "extra: unexpected" in r.examples


# -- not_null -----------------------------------------------------------------------


def test_not_null_counts_nan_and_empty_strings(make_workspace: MakeWs) -> None:
    frame = frame_from_columns(
        {"x": np.array([1.0, np.nan, 3.0, np.nan]), "s": np.array(["a", "", "c", "d"])}
    )
    ws = setup(
        make_workspace,
        check("not_null", "x", column="x")
        + check("not_null", "s", column="s")
        + check("not_null", "both", columns=["x", "s"], max_null_share=0.5),
    )
    out = results(ws, frame)
    assert out["x"].result == "fail" and out["x"].failing_rows == 2
    assert out["x"].examples == ("row 2", "row 4")
    assert out["s"].result == "fail" and out["s"].failing_rows == 1
    assert out["both"].result == "pass"  # worst column is x at 0.5, the limit
    assert out["both"].failing_rows == 2 and "in x" in (out["both"].observed or "")


def test_empty_strings_are_told_apart_from_strings_starting_with_nul(
    make_workspace: MakeWs,
) -> None:
    values = np.array(["", "\x00y", "abc", ""])
    ws = setup(make_workspace, check("not_null", column="s"))
    r = results(ws, frame_from_columns({"s": values}))["c"]
    assert r.failing_rows == 2 and r.examples == ("row 1", "row 4")
    strided = values[::-1][::2]  # ["", "\x00y"], not contiguous
    assert empty_strings(strided).tolist() == [True, False]


def test_not_null_passes_inf_and_errors_on_missing_column_and_empty(
    make_workspace: MakeWs,
) -> None:
    ws = setup(make_workspace, check("not_null", column="x"))
    assert results(ws, nums(x=[math.inf, 1.0]))["c"].result == "pass"
    assert results(ws, nums(x=[math.inf, -math.inf]))["c"].result == "pass"  # sum is NaN
    missing = results(ws, nums(y=[1.0]))["c"]
    assert missing.result == "error" and 'column "x" not found' in missing.message
    empty = results(ws, EMPTY)["c"]
    assert empty.result == "error" and "no rows" in empty.message


# -- range --------------------------------------------------------------------------


def test_range_passes_and_ignores_missing(make_workspace: MakeWs) -> None:
    r = one(make_workspace, check("range", column="x", min=0, max=10), nums(x=[0, 5, np.nan, 10]))
    assert r.result == "pass" and r.rows_examined == 4
    assert r.observed == "min 0, max 10; 0 outside" and r.threshold == "[0, 10]"


def test_range_fails_with_examples_and_counts_inf(make_workspace: MakeWs) -> None:
    r = one(make_workspace, check("range", column="x", min=0), nums(x=[-1, 3, math.inf, -2, -1]))
    assert r.result == "fail"
    assert r.failing_rows == 4
    assert r.examples == ("-1", "inf", "-2")  # distinct, in order of appearance


def test_range_shows_ids_in_full_and_times_as_dates(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("range", "id", column="id", max=1e6) + check("range", "t", column="t", max=1e9),
    )
    frame = frame_from_columns(
        {
            "id": np.array([1234567, 5]),
            "t": np.array(["2020-01-01T00:00:00", "2001-01-01"], dtype="datetime64[s]"),
        }
    )
    out = results(ws, frame)
    assert out["id"].examples == ("1234567",)
    assert out["t"].examples == ("2020-01-01T00:00:00Z",)
    assert out["t"].observed == "min 2001-01-01T00:00:00Z, max 2020-01-01T00:00:00Z; 1 outside"


def test_range_exclusive_bounds(make_workspace: MakeWs) -> None:
    definition = check("range", column="x", min=0, max=1, inclusive=False)
    r = one(make_workspace, definition, nums(x=[0.5, 1.0]))
    assert r.result == "fail" and r.failing_rows == 1 and r.threshold == "(0, 1)"


def test_range_errors_on_strings_all_missing_and_empty(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("range", column="x", max=1))
    words = results(ws, frame_from_columns({"x": np.array(["a", "b"])}))["c"]
    assert words.result == "error" and "holds string values" in words.message
    assert results(ws, nums(x=[np.nan, np.nan]))["c"].result == "error"
    assert results(ws, EMPTY)["c"].result == "error"


# -- allowed_values -----------------------------------------------------------------


def test_allowed_values_on_strings(make_workspace: MakeWs) -> None:
    definition = check("allowed_values", column="s", values=["red", "green"])
    ws = setup(make_workspace, definition)
    ok = results(ws, frame_from_columns({"s": np.array(["red", "", "green"])}))["c"]
    assert ok.result == "pass"  # missing values are not_null's business
    bad = results(ws, frame_from_columns({"s": np.array(["red", "blue", "pink", "blue"])}))["c"]
    assert bad.result == "fail" and bad.failing_rows == 3 and bad.examples == ("blue", "pink")


def test_allowed_values_on_numbers_and_long_lists(make_workspace: MakeWs) -> None:
    many = list(range(40))
    ws = setup(
        make_workspace,
        check("allowed_values", "few", column="x", values=[1, 2.5])
        + check("allowed_values", "many", column="x", values=many),
    )
    out = results(ws, nums(x=[1, 2.5, 3, np.nan]))
    assert out["few"].result == "fail" and out["few"].examples == ("3",)
    assert out["many"].result == "fail" and out["many"].examples == ("2.5",)


def test_allowed_values_errors(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("allowed_values", column="s", values=["a"]))
    assert results(ws, frame_from_columns({"s": np.array(["", ""])}))["c"].result == "error"
    assert results(ws, nums(t=[1.0]))["c"].result == "error"
    assert results(ws, EMPTY)["c"].result == "error"


# -- unique -------------------------------------------------------------------------


def test_unique_single_column(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("unique", column="id"))
    assert results(ws, nums(id=[1, 2, 3, np.nan, np.nan]))["c"].result == "pass"
    r = results(ws, nums(id=[1, 2, 2, 3, 3, 3]))["c"]
    assert r.result == "fail" and r.failing_rows == 3 and r.examples == ("2", "3")


def test_unique_composite_key(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("unique", columns=["k", "s"]))
    frame = frame_from_columns(
        {"k": np.array([1.0, 1.0, 2.0, 1.0]), "s": np.array(["a", "b", "a", "a"])}
    )
    r = results(ws, frame)["c"]
    assert r.result == "fail" and r.failing_rows == 1 and r.examples == ("1, a",)
    frame = frame_from_columns({"k": np.array([1.0, 1.0]), "s": np.array(["a", "b"])})
    assert results(ws, frame)["c"].result == "pass"


def test_unique_errors(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("unique", columns=["k", "s"]))
    assert "not found" in results(ws, nums(k=[1.0]))["c"].message
    assert results(ws, EMPTY)["c"].result == "error"


# -- row_count ----------------------------------------------------------------------


def test_row_count(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("row_count", min=2, max=3))
    assert results(ws, nums(x=[1, 2]))["c"].result == "pass"
    r = results(ws, EMPTY)["c"]
    assert r.result == "fail" and r.observed == "0 rows" and r.threshold == "[2, 3]"
    assert results(ws, nums(x=[1, 2, 3, 4]))["c"].result == "fail"


# -- freshness ----------------------------------------------------------------------


def test_freshness_from_a_timestamp_column(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("freshness", column="t", max_age="1h"))
    t = now()
    fresh = frame_from_columns(
        {"t": np.array(["2020-01-01T00:00:00", "2020-01-02T00:00:00"], dtype="datetime64[s]")}
    )
    assert fresh.kinds["t"] == "datetime"
    assert results(ws, fresh)["c"].result == "fail"
    assert results(ws, nums(t=[t - 7200, t - 60, np.nan]))["c"].result == "pass"
    r = results(ws, nums(t=[t - 7200, math.inf]))["c"]
    assert r.result == "fail" and "2h old" in (r.observed or "")


def test_missing_datetimes_are_missing_not_ancient(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("not_null", "nn", column="t") + check("range", "r", column="t", min=0),
    )
    frame = frame_from_columns({"t": np.array(["2020-01-01", "NaT"], dtype="datetime64[s]")})
    out = results(ws, frame)
    assert out["nn"].result == "fail" and out["nn"].failing_rows == 1
    assert out["r"].result == "pass"


def test_freshness_from_file_time(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("freshness", max_age="10m"))
    frame = nums(x=[1.0])
    assert results(ws, frame, modified_at=now() - 60)["c"].result == "pass"
    assert results(ws, frame, modified_at=now() - 3600)["c"].result == "fail"
    unknown = results(ws, frame)["c"]
    assert unknown.result == "error" and "modification time" in unknown.message


def test_freshness_errors(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("freshness", column="t", max_age="1h"))
    assert results(ws, frame_from_columns({"t": np.array(["x"])}))["c"].result == "error"
    assert results(ws, nums(t=[np.nan, math.inf]))["c"].result == "error"
    assert results(ws, EMPTY)["c"].result == "error"


# -- mean / std ---------------------------------------------------------------------


def test_mean_and_std_bounds(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("mean", "mean", column="x", min=1, max=3) + check("std", "std", column="x", max=0.5),
    )
    out = results(ws, nums(x=[1, 2, 3, np.nan]))
    assert out["mean"].result == "pass" and out["mean"].observed == "2"
    assert out["std"].result == "fail" and out["std"].observed == "0.816497"


def test_mean_errors_on_inf_and_strings(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("mean", column="x", max=3))
    inf = results(ws, nums(x=[1, math.inf]))["c"]
    assert inf.result == "error" and "inf" in inf.message
    assert results(ws, frame_from_columns({"x": np.array(["a"])}))["c"].result == "error"
    assert results(ws, nums(x=[np.nan]))["c"].result == "error"


def _production(ws: Workspace, profile: dict[str, object]) -> None:
    registry.ensure_model(ws.store, "m", "regression", "rmse")
    v = registry.register_version(ws.store, "m", profile=profile)
    with ws.store.write() as conn:
        registry.move_alias(conn, "m", "production", v.version, kind="promotion", actor="t")


def test_sigmas_against_the_production_reference(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("mean", "mean", column="x", sigmas=2) + check("std", "std", column="x", sigmas=1),
        PIPELINE,
    )
    none = results(ws, nums(x=[1.0, 2.0]))
    assert none["mean"].result == "error" and "no production version" in none["mean"].message
    _production(ws, {"features": {"x": {"mean": 10.0, "std": 1.0}}})
    near = results(ws, nums(x=[9.0, 11.0]))  # mean 10, std 1
    assert near["mean"].result == "pass" and near["std"].result == "pass"
    assert "2σ of m v1: [8, 12]" in (near["mean"].threshold or "")
    far = results(ws, nums(x=[0.0, 30.0]))  # mean 15, std 15
    assert far["mean"].result == "fail" and far["std"].result == "fail"


def test_sigmas_without_a_pipeline_or_profile_is_an_error(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("mean", column="x", sigmas=2))
    r = results(ws, nums(x=[1.0]))["c"]
    assert r.result == "error" and "no reference" in r.message


# -- custom -------------------------------------------------------------------------

CUSTOM = """
def balanced(frame, column, share="0.5"):
    mean = float(frame[column].mean())
    return mean <= float(share), round(mean, 3)

def detailed(frame):
    return {"passed": False, "observed": "2 bad", "failing_rows": 2, "examples": ["\\x1b[31mx"]}

def broken(frame):
    raise ValueError("cannot compute\\nsecond line")

def odd(frame):
    return 42

def not_a_table():
    return 42
"""


@pytest.fixture
def custom_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"lookout_custom_{os.getpid()}_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_custom_checks(make_workspace: MakeWs, custom_module: str) -> None:
    m = custom_module
    ws = setup(
        make_workspace,
        check("custom", "bal", call=f"{m}:balanced", args={"column": "x", "share": "0.6"})
        + check("custom", "detail", call=f"{m}:detailed")
        + check("custom", "broken", call=f"{m}:broken")
        + check("custom", "odd", call=f"{m}:odd")
        + check("custom", "absent", call="no_such_module_xyz:fn"),
    )
    out = results(ws, nums(x=[0.0, 1.0, 1.0]))
    assert out["bal"].result == "fail" and out["bal"].observed == "0.667"
    assert out["detail"].result == "fail" and out["detail"].failing_rows == 2
    assert out["detail"].examples == ("x",)  # escape sequence stripped when stored
    assert out["broken"].result == "error"
    assert out["broken"].message == f"{m}:broken raised ValueError: cannot compute"
    assert out["odd"].result == "error" and "expected (passed, observed)" in out["odd"].message
    assert out["absent"].result == "error" and "cannot import" in out["absent"].message
    assert results(ws, nums(x=[0.0, 1.0]))["bal"].result == "pass"


# -- drift --------------------------------------------------------------------------


def test_drift_without_reference_is_an_error(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("drift", columns=["x"]), PIPELINE)
    r = results(ws, nums(x=[1.0, 2.0]))["c"]
    assert r.result == "error" and "no production version" in r.message


def test_drift_against_the_production_profile(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("drift", "all", method="psi") + check("drift", "x_only", columns=["x"]),
        PIPELINE,
    )
    rng = np.random.default_rng(0)
    reference = frame_from_columns(
        {"x": rng.normal(0, 1, 5000), "s": rng.choice(np.array(["a", "b", "c"]), 5000)}
    )
    _production(ws, drift.build_profile(reference, ["x", "s"]))
    same = frame_from_columns(
        {"x": rng.normal(0, 1, 3000), "s": rng.choice(np.array(["a", "b", "c"]), 3000)}
    )
    out = results(ws, same)
    assert out["all"].result == "pass" and out["x_only"].result == "pass"
    assert out["all"].observed == "0 of features drifted (0 of 2)"
    shifted = frame_from_columns(
        {"x": rng.normal(3, 1, 3000), "s": rng.choice(np.array(["a", "b", "c"]), 3000)}
    )
    out = results(ws, shifted)
    assert out["all"].result == "pass"  # one of two drifted: a share of 0.5 is allowed
    assert out["all"].examples[0].startswith("x: psi ")
    assert out["x_only"].result == "fail" and out["x_only"].threshold == "share ≤ 0.5 vs m v1"
    words = frame_from_columns({"x": np.array(["p", "q"]), "s": np.array(["a", "b"])})
    broken = results(ws, words)["x_only"]
    assert broken.result == "error" and "x" in broken.message
    assert results(ws, nums(s=[1.0]))["x_only"].result == "error"  # x missing


# -- severity, blocking, events -----------------------------------------------------


def test_severity_and_blocking(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("range", "soft", column="x", max=1, severity="warn")
        + check("range", "hard", column="x", max=1)
        + check("range", "broken", column="missing", max=1)
        + check("range", "broken_soft", column="missing", max=1, severity="warn")
        + check("row_count", "ok", min=1),
    )
    out = results(ws, nums(x=[5.0]))
    assert [out[n].result for n in ("soft", "hard", "broken", "broken_soft", "ok")] == [
        "warn",
        "fail",
        "error",
        "error",
        "pass",
    ]
    assert sorted(r.name for r in blocking(list(out.values()))) == ["broken", "hard"]


def test_a_failing_check_pages_once_until_it_passes(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("range", column="x", max=1))

    def open_events() -> list[str]:
        return [
            e.subject
            for e in events.list_events(ws.store, kind="check_failed")
            if e.resolved_at is None
        ]

    for _ in range(3):
        results(ws, nums(x=[5.0]))
    assert open_events() == ["d.c"]
    assert len(events.list_events(ws.store, kind="check_failed")) == 1
    results(ws, nums(x=[0.5]))
    assert open_events() == []
    results(ws, nums(x=[5.0]))
    assert open_events() == ["d.c"]
    assert len(events.list_events(ws.store, kind="check_failed")) == 2
    assert [r.result for r in stored.history(ws.store, "d", "c")] == [
        "fail",
        "pass",
        "fail",
        "fail",
        "fail",
    ]


def test_an_unevaluable_check_pages_with_its_reason(make_workspace: MakeWs) -> None:
    ws = setup(make_workspace, check("range", column="x", max=1))
    results(ws, nums(y=[5.0]))
    (event,) = events.list_events(ws.store, kind="check_failed")
    assert event.message.startswith('check c on d: could not be evaluated: column "x" not found')


def test_examples_are_sanitized_and_limited(make_workspace: MakeWs) -> None:
    values = np.array(["ok"] + [f"\x1b]0;evil\x07bad{i}" + "y" * 200 for i in range(30)])
    r = one(
        make_workspace,
        check("allowed_values", column="s", values=["ok"]),
        frame_from_columns({"s": values}),
    )
    assert r.failing_rows == 30 and len(r.examples) == 20
    assert all("\x1b" not in e and len(e) <= 80 for e in r.examples)
    assert r.examples[0].startswith("bad0")


# -- loading a dataset --------------------------------------------------------------


def test_run_dataset_records_a_snapshot(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace,
        check("range", column="x", max=10) + check("freshness", "freshness", max_age="1h"),
    )
    (ws.root / "data.csv").write_text("x,s\n1,a\n2,b\n")
    out = {r.name: r for r in run_dataset(ws, "d", run_id=None)}
    assert out["c"].result == "pass" and out["freshness"].result == "pass"
    snap = stored.latest_snapshot(ws.store, "d")
    assert snap is not None and snap.rows == 2 and snap.columns == {"x": "integer", "s": "string"}
    assert out["c"].snapshot_id == snap.id
    assert [r.name for r in stored.results_for_snapshot(ws.store, snap.id)] == ["c", "freshness"]


def test_unreadable_data_gives_errors_not_a_crash(make_workspace: MakeWs) -> None:
    ws = setup(
        make_workspace, check("range", column="x", max=10) + check("row_count", "rows", min=1)
    )
    out = run_dataset(ws, "d")
    assert [r.result for r in out] == ["error", "error"]
    assert "no file matches" in out[0].message
    (ws.root / "data.csv").write_text("x,y\n1\n")
    out = run_dataset(ws, "d")
    assert out[0].result == "error" and "line 2 has 1 fields" in out[0].message


def test_a_source_function_returning_no_table_gives_errors(
    make_workspace: MakeWs, custom_module: str
) -> None:
    ws = make_workspace(
        f'[datasets.d]\nsource = "{custom_module}:not_a_table"\n' + check("row_count", min=1)
    )
    out = run_dataset(ws, "d")
    assert out[0].result == "error"
    assert out[0].message.endswith(":not_a_table: returned int, expected a Frame or a mapping")


# -- config -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ('name = "c"\ntype = "nope"', "checks[0](c).type: expected one of schema"),
        ('name = "c"\ntype = "range"\ncolumn = "x"', 'checks[0](c): a range check needs "min"'),
        ('name = "c"\ntype = "range"\ncolumn = "x"\nmin = 2\nmax = 1', "min (2) is greater"),
        ('name = "c"\ntype = "range"\nmax = 1', "checks[0](c).column: missing required key"),
        (
            'name = "c"\ntype = "range"\ncolumn = "x"\nmin = 1\nmax = 1\ninclusive = false',
            "no value fits",
        ),
        ('name = "c"\ntype = "not_null"', 'needs "column" or "columns"'),
        ('name = "c"\ntype = "unique"\ncolumn = "a"\ncolumns = ["b"]', "not both"),
        ('name = "c"\ntype = "allowed_values"\ncolumn = "a"\nvalues = []', "values: expected at"),
        ('name = "c"\ntype = "schema"\ncolumns = {}', "checks[0](c).columns: expected at least"),
        ('name = "c"\ntype = "schema"\ncolumns = {a = "text"}', "columns.a: expected one of"),
        ('name = "c"\ntype = "freshness"\nmax_age = "soon"', "max_age: expected a duration like"),
        ('name = "c"\ntype = "mean"\ncolumn = "x"', 'needs "min"/"max" or "sigmas"'),
        ('name = "c"\ntype = "drift"\ncolumns = []', "checks[0](c).columns: expected at least"),
        ('name = "c"\ntype = "custom"\ncall = "nocolon"', 'call: expected "module:function"'),
        ('name = "c"\ntype = "row_count"\nmin = 1\nseverity = "page"', "severity: expected one"),
        ('name = "c"\ntype = "row_count"\nmin = 1\nmiin = 2', "miin: unknown key"),
        ('name = "c"\ntype = "not_null"\ncolumn = "x"\nmax_null_share = 2', "max_null_share"),
    ],
)
def test_malformed_check_definitions_are_rejected_at_load(definition: str, expected: str) -> None:
    text = f'[datasets.d]\nsource = "data.csv"\n[[datasets.d.checks]]\n{definition}\n'
    with pytest.raises(ConfigError) as info:
        parse(text, Path("lookout.toml"))
    message = str(info.value)
    assert "\n" not in message and message.startswith("lookout.toml: datasets.d.checks[0]")
    assert expected in message


# -- the command line ---------------------------------------------------------------


def test_cli_lists_latest_results_failing_first(make_workspace: MakeWs, cli) -> None:
    ws = setup(
        make_workspace,
        check("range", "a_ok", column="x", max=10)
        + check("range", "b_warn", column="x", max=1, severity="warn")
        + check("range", "c_fail", column="x", max=1),
    )
    root = str(ws.root)
    r = cli("checks", "--json", "--workspace", root)
    assert r.code == 0
    assert [c["result"] for c in r.json()["checks"]] == [None, None, None]  # never run yet
    results(ws, nums(x=[5.0]))
    r = cli("checks", "--json", "--workspace", root)
    assert r.code == 1
    rows = r.json()["checks"]
    assert [(c["name"], c["result"]) for c in rows] == [
        ("c_fail", "fail"),
        ("b_warn", "warn"),
        ("a_ok", "pass"),
    ]
    for key in ("dataset", "name", "severity", "result", "observed", "threshold", "at"):
        assert key in rows[0]
    assert rows[0]["at"].endswith("Z") and rows[0]["examples"] == ["5"]
    text = cli("checks", "--workspace", root)
    assert text.code == 1 and text.out.splitlines()[1].split()[:4] == [
        "d",
        "c_fail",
        "fail",
        "fail",
    ]


def test_cli_warnings_alone_exit_zero(make_workspace: MakeWs, cli) -> None:
    ws = setup(make_workspace, check("range", column="x", max=1, severity="warn"))
    results(ws, nums(x=[5.0]))
    assert cli("checks", "--json", "--workspace", str(ws.root)).code == 0


def test_cli_run_evaluates_now(make_workspace: MakeWs, cli) -> None:
    ws = setup(make_workspace, check("range", column="x", max=10))
    (ws.root / "data.csv").write_text("x\n1\n2\n")
    root = str(ws.root)
    r = cli("checks", "--run", "d", "--json", "--workspace", root)
    assert r.code == 0 and [c["result"] for c in r.json()["checks"]] == ["pass"]
    (ws.root / "data.csv").write_text("x\n1\n20\n")
    r = cli("checks", "--run", "d", "--json", "--workspace", root)
    assert r.code == 1 and r.json()["checks"][0]["failing_rows"] == 1
    assert cli("checks", "--json", "--workspace", root).json()["checks"][0]["result"] == "fail"
    unknown = cli("checks", "--run", "nope", "--workspace", root)
    assert (
        unknown.code == 2
        and unknown.err.count("\n") == 1
        and 'no dataset named "nope"' in unknown.err
    )
    ro = cli("--readonly", "checks", "--run", "d", "--workspace", root)
    assert ro.code == 2 and "read-only" in ro.err
    listed = cli("--readonly", "checks", "--json", "--workspace", root)
    assert listed.code == 1 and listed.json()["checks"][0]["name"] == "c"


# -- agreement with a plain-Python reading of each rule -----------------------------

VALUES = st.lists(
    st.one_of(
        st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 1)),
        st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
    ),
    min_size=1,
    max_size=30,
)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    root = tmp_path_factory.mktemp("props")
    (root / "lookout.toml").write_text('[datasets.d]\nsource = "data.csv"\n')
    ws = open_workspace(root)
    yield Context(ws, "d", now(), None)
    ws.close()


@settings(max_examples=40, deadline=None)
@given(
    VALUES,
    st.one_of(st.none(), st.floats(-3, 3)),
    st.one_of(st.none(), st.floats(-3, 3)),
    st.booleans(),
)
def test_range_agrees_with_a_row_by_row_reading(
    context: Context, xs: list[float], lo: float | None, hi: float | None, inclusive: bool
) -> None:
    assume(lo is not None or hi is not None)
    assume(any(not math.isnan(x) for x in xs))

    def outside(x: float) -> bool:
        if math.isnan(x):
            return False
        if math.isinf(x):
            return True
        below = lo is not None and (x < lo if inclusive else x <= lo)
        above = hi is not None and (x > hi if inclusive else x >= hi)
        return below or above

    c = {"column": "x", "min": lo, "max": hi, "inclusive": inclusive}
    out = RANGE.evaluate(nums(x=xs), c, context)
    assert out.failing_rows == sum(outside(x) for x in xs)
    assert out.passed == (out.failing_rows == 0)


@settings(max_examples=40, deadline=None)
@given(VALUES, VALUES)
def test_unique_and_not_null_agree_with_a_row_by_row_reading(
    context: Context, xs: list[float], ys: list[float]
) -> None:
    ys = (ys * len(xs))[: len(xs)]
    frame = nums(x=xs, y=ys)
    keys = [(x + 0.0, y + 0.0) for x, y in zip(xs, ys, strict=True)]
    present = [k for k in keys if not any(math.isnan(v) for v in k)]
    assume(present)
    single = [x + 0.0 for x in xs if not math.isnan(x)]
    unique_one = {"column": "x", "columns": None}
    if single:
        assert UNIQUE.evaluate(frame, unique_one, context).failing_rows == len(single) - len(
            set(single)
        )
    composite = {"column": None, "columns": ["x", "y"]}
    assert UNIQUE.evaluate(frame, composite, context).failing_rows == len(present) - len(
        set(present)
    )
    nulls = NOT_NULL.evaluate(
        frame, {"column": None, "columns": ["x", "y"], "max_null_share": 0.0}, context
    )
    assert nulls.failing_rows == len(keys) - len(present)
