"""Checks over record batches give the in-memory results: any split of the same data, any
check type, and a file scanned in batches whose kinds change part-way."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lookout.scheduler.checks import engine
from lookout.scheduler.checks.base import Context
from lookout.scheduler.frame import Frame, read_csv

CHECKS = [
    {"name": "schema", "type": "schema", "columns": {"x": "number", "s": "string"}, "strict": True},
    {
        "name": "nn",
        "type": "not_null",
        "column": None,
        "columns": ["x", "s"],
        "max_null_share": 0.1,
    },
    {"name": "range", "type": "range", "column": "x", "min": -1.0, "max": 1.0, "inclusive": True},
    {"name": "range_t", "type": "range", "column": "t", "min": 0.0, "max": 1e9, "inclusive": False},
    {"name": "allowed", "type": "allowed_values", "column": "s", "values": ["a", "b"]},
    {"name": "allowed_n", "type": "allowed_values", "column": "k", "values": [1, 2, 3]},
    {"name": "unique", "type": "unique", "column": "k", "columns": None},
    {"name": "unique2", "type": "unique", "column": None, "columns": ["k", "s"]},
    {"name": "rows", "type": "row_count", "min": 3, "max": None},
    {"name": "fresh", "type": "freshness", "column": "t", "max_age": 1e9},
    {"name": "mean", "type": "mean", "column": "x", "min": -0.5, "max": 0.5, "sigmas": None},
    {"name": "std", "type": "std", "column": "x", "min": 0.1, "max": 2.0, "sigmas": None},
    {"name": "gone", "type": "range", "column": "nope", "min": 0.0, "max": None, "inclusive": True},
    {"name": "text", "type": "mean", "column": "s", "min": 0.0, "max": None, "sigmas": None},
]
CHECKS = [{"severity": "fail", "description": "", **c} for c in CHECKS]

floats = st.one_of(
    st.floats(-3, 3),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0]),
)


@st.composite
def frames(draw) -> Frame:
    n = draw(st.integers(0, 60))
    x = draw(st.lists(floats, min_size=n, max_size=n))
    k = draw(st.lists(st.sampled_from([1.0, 2.0, 3.0, 4.0, math.nan]), min_size=n, max_size=n))
    s = draw(st.lists(st.sampled_from(["a", "b", "c", ""]), min_size=n, max_size=n))
    t = draw(st.lists(st.sampled_from([1e8, 5e8, 2e9, math.nan]), min_size=n, max_size=n))
    return Frame(
        {
            "x": np.array(x, dtype=float),
            "k": np.array(k),
            "s": np.array(s, dtype=str),
            "t": np.array(t),
        },
        {"x": "number", "k": "integer", "s": "string", "t": "datetime"},
    )


def _pass(ws, frame: Frame, cuts: list[int]) -> list:
    ctx = Context(ws, "d", 2e9, None, streaming=bool(cuts))
    checks = engine.Pass(CHECKS, ctx)
    start = 0
    for end in [*sorted(cuts), frame.rows]:
        checks.update(frame.take(slice(start, max(start, end))))
        start = max(start, end)
    return checks.finish(frame.kinds)


def _same(a, b) -> None:
    if a.kind in ("mean", "std") and a.result != "error" and b.result != "error":
        assert float(a.observed) == pytest.approx(float(b.observed), rel=1e-5, abs=1e-12)
        a, b = replace(a, observed=None, result="x"), replace(b, observed=None, result="x")
    assert a == b


@settings(max_examples=150, deadline=None)
@given(frame=frames(), cuts=st.lists(st.integers(0, 60), max_size=5))
def test_any_split_of_the_batches_gives_the_in_memory_results(frame, cuts):
    # none of these checks looks for a reference, so they need no workspace
    whole = _pass(None, frame, [])
    split = _pass(None, frame, [c for c in cuts if c <= frame.rows])
    for a, b in zip(whole, split, strict=True):
        _same(a, b)


def test_mean_and_std_merge_across_batches_and_keep_infinities(make_workspace) -> None:
    ws = make_workspace("")
    rng = np.random.default_rng(0)
    x = rng.normal(0.2, 0.7, 10_000)
    frame = Frame({"x": x}, {"x": "number"})
    checks = [c for c in CHECKS if c["name"] in ("mean", "std")]
    for cuts in ([], [10, 5000, 9999]):
        ctx = Context(ws, "d", 2e9, None, streaming=True)
        p = engine.Pass(checks, ctx)
        start = 0
        for end in [*cuts, len(x)]:
            p.update(frame.take(slice(start, end)))
            start = end
        mean, std = p.finish(frame.kinds)
        assert float(mean.observed) == pytest.approx(x.mean(), rel=1e-5)
        assert float(std.observed) == pytest.approx(x.std(), rel=1e-5)
    x[7000] = math.inf
    p = engine.Pass(checks, Context(ws, "d", 2e9, None, streaming=True))
    p.update(Frame({"x": x[:5000]}, {"x": "number"}))
    p.update(Frame({"x": x[5000:]}, {"x": "number"}))
    mean, std = p.finish({"x": "number"})
    assert mean.message == "the mean of x is inf (the column holds inf)"
    assert std.message == "the std of x is nan (the column holds inf)"


def test_unique_spills_to_disk_and_counts_the_same(make_workspace, monkeypatch) -> None:
    from lookout.scheduler.checks import unique

    ws = make_workspace("")
    rng = np.random.default_rng(1)
    k = rng.integers(0, 30_000, 50_000).astype(float)
    s = rng.choice(np.array(["p", "q"]), 50_000)
    frame = Frame({"k": k, "s": s}, {"k": "integer", "s": "string"})
    checks = [c for c in CHECKS if c["name"] in ("unique", "unique2")]
    whole = engine.Pass(checks, Context(ws, "d", 2e9, None))
    whole.update(frame)
    expected = whole.finish(frame.kinds)
    monkeypatch.setattr(unique, "SPILL_BYTES", 100_000)
    spilled = engine.Pass(checks, Context(ws, "d", 2e9, None, streaming=True))
    for start in range(0, 50_000, 7000):
        spilled.update(frame.take(slice(start, start + 7000)))
    got = spilled.finish(frame.kinds)
    for a, b in zip(expected, got, strict=True):
        assert (a.result, a.failing_rows, a.rows_examined) == (
            b.result,
            b.failing_rows,
            b.rows_examined,
        )
        assert len(b.examples) == len(a.examples)


FILE_CHECKS = """
[datasets.d]
source = "d.csv"

[[datasets.d.checks]]
name = "schema"
type = "schema"
columns = { x = "number", k = "string", s = "string", t = "datetime" }

[[datasets.d.checks]]
name = "nn"
type = "not_null"
columns = ["x", "s"]
max_null_share = 0.05

[[datasets.d.checks]]
name = "range"
type = "range"
column = "x"
min = -1
max = 1

[[datasets.d.checks]]
name = "allowed"
type = "allowed_values"
column = "k"
values = ["1", "2", "3"]

[[datasets.d.checks]]
name = "unique"
type = "unique"
columns = ["k", "s", "t"]

[[datasets.d.checks]]
name = "rows"
type = "row_count"
min = 10

[[datasets.d.checks]]
name = "fresh"
type = "freshness"
column = "t"
max_age = "3650d"

[[datasets.d.checks]]
name = "mean"
type = "mean"
column = "x"
min = -0.1
max = 0.1

[[datasets.d.checks]]
name = "std"
type = "std"
column = "x"
max = 0.5
"""


def test_a_file_scanned_in_batches_gives_the_in_memory_results(make_workspace, monkeypatch) -> None:
    ws = make_workspace(FILE_CHECKS)
    rng = np.random.default_rng(2)
    n = 5000
    lines = ["x,k,s,t"]
    for i in range(n):
        x = "" if i % 97 == 0 else f"{rng.normal(0, 0.6):.5f}"
        # k holds whole numbers, then (after the first batches) a word: read as text
        k = "many" if i == 4000 else str(int(rng.integers(1, 5)))
        lines.append(f"{x},{k},{rng.choice(['a', 'b', 'c'])},2001-09-0{1 + i % 8}T00:00:00Z")
    (ws.root / "d.csv").write_text("\n".join(lines) + "\n")
    in_memory = engine.run_checks(ws, "d", read_csv(ws.root / "d.csv"))
    from lookout.scheduler import frame as frame_module

    monkeypatch.setattr(engine, "BATCH_ROWS", 700)
    monkeypatch.setattr(frame_module, "_SCAN_BLOCK", 16_384)  # Arrow decides k's type early
    scans: list[dict] = []
    real_scan = frame_module.scan_table

    def scan(path, fmt="auto", batch_rows=0, force=None, batch_bytes=None):
        scans.append(dict(force or {}))
        return real_scan(path, fmt, batch_rows, force, batch_bytes)

    monkeypatch.setattr("lookout.scheduler.loading.scan_table", scan)
    streamed = engine.run_dataset(ws, "d")
    assert scans == [{}, {"k": "string"}]  # k turned to text part-way: read again
    assert [r.name for r in streamed] == [r.name for r in in_memory]
    for a, b in zip(in_memory, streamed, strict=True):
        ignore = {"id": None, "snapshot_id": None, "at": 0.0}
        _same(replace(a, **ignore), replace(b, **ignore))


ID_CHECKS = """
[datasets.d]
source = "d.csv"

[[datasets.d.checks]]
name = "unique"
type = "unique"
column = "id"

[[datasets.d.checks]]
name = "schema"
type = "schema"
columns = { id = "string" }
"""


def test_64_bit_ids_far_down_a_csv_stay_distinct(make_workspace, monkeypatch) -> None:
    """Small IDs first, then IDs beyond 2**53 that float64 rounds into one another: a scan
    declares the head's whole numbers float64, and must still see distinct IDs (read as
    text, as a whole-file read reads them), or `unique` fails on data that is unique."""
    from lookout.scheduler import frame as frame_module

    ws = make_workspace(ID_CHECKS)
    ids = [str(i) for i in range(3000)] + [str(2**53 + i) for i in range(1, 2000)]
    assert len({float(i) for i in ids}) < len(ids)  # as float64 they would collide
    (ws.root / "d.csv").write_text("id\n" + "\n".join(ids) + "\n")
    monkeypatch.setattr(engine, "BATCH_ROWS", 700)
    monkeypatch.setattr(frame_module, "_SCAN_BLOCK", 4096)  # the head holds small IDs only
    monkeypatch.setattr(frame_module, "_CSV_BLOCK", 4096)
    in_memory = engine.run_checks(ws, "d", read_csv(ws.root / "d.csv"))
    streamed = engine.run_dataset(ws, "d")
    for results in (in_memory, streamed):
        assert [(r.name, r.result, r.message) for r in results] == [
            ("unique", "pass", ""),
            ("schema", "pass", ""),
        ]
    monkeypatch.setattr(frame_module, "DECLARE_FROM", 0)  # a large file: the head's types
    whole = read_csv(ws.root / "d.csv")
    assert whole.kinds["id"] == "string" and whole.columns["id"].tolist() == ids


def test_a_parquet_scan_holds_batches_not_row_groups(tmp_path) -> None:
    """No layer of the scan keeps a batch once it was handed on: between batches Arrow
    holds the batch and the reader's state for the row group (about a byte a value), less
    than half of a row group decoded (its allocations, counted exactly), however many row
    groups the file has."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from lookout.scheduler.frame import scan_table

    rng = np.random.default_rng(0)

    def held_between_batches(group_rows: int, groups: int) -> int:
        path = tmp_path / f"wide-{groups}.parquet"
        schema = pa.schema([(f"f{i}", pa.float64()) for i in range(8)])
        with pq.ParquetWriter(path, schema) as out:
            for _ in range(groups):
                # few distinct values: a group takes little room in the file
                values = {f"f{i}": rng.integers(0, 50, group_rows).astype(float) for i in range(8)}
                out.write_table(pa.table(values), row_group_size=group_rows)
        held, sizes = [], []
        for frame in scan_table(path, batch_rows=70_000):
            sizes.append(frame.rows)
            held.append(pa.total_allocated_bytes())
            del frame
        assert set(sizes[:-1]) == {70_000} and sum(sizes) == group_rows * groups
        return max(held)

    two, four = held_between_batches(1_000_000, 2), held_between_batches(1_000_000, 4)
    assert four <= two * 1.1
    assert four < 1_000_000 * 8 * 8 / 2  # a row group is 64 MB decoded


def test_reading_ahead_holds_two_batches_and_passes_errors_on() -> None:
    """The next batch is read while the caller works on this one, never the one after; an
    error reading is raised to the caller where it would have been; stopping early stops
    the reading."""
    import threading

    from lookout.scheduler.frame import read_ahead

    made: list[int] = []

    def batches(fail_at: int | None = None):
        for i in range(6):
            if i == fail_at:
                raise ValueError(f"batch {i} is unreadable")
            made.append(i)
            yield Frame({"x": np.full(3, float(i))}, {"x": "number"})

    seen = []
    for frame in read_ahead(batches()):
        seen.append(int(frame.columns["x"][0]))
        assert len(made) <= seen[-1] + 2  # this one and the next, no further
    assert seen == list(range(6))

    made.clear()
    got = []
    with pytest.raises(ValueError, match="batch 3 is unreadable"):
        for frame in read_ahead(batches(fail_at=3)):
            got.append(int(frame.columns["x"][0]))
    assert got == [0, 1, 2]

    made.clear()
    for frame in read_ahead(batches()):
        if frame.columns["x"][0] == 1:
            break
    assert made == [0, 1, 2]
    assert not [t for t in threading.enumerate() if t.name == "lookout-read-ahead"]
