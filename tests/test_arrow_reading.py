"""Arrow columns become the Frame's NumPy arrays by reading Arrow's buffers, not through
pyarrow's `to_numpy`, `pa.array` or `pa.scalar`, which import pandas when it is installed
(0.2 s of every `lookout log`). Values, nulls and offsets come out as the Frame's rules say,
and reading any format in a fresh process leaves pandas unimported."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lookout.scheduler.frame import column_from_arrow, read_table, scan_table

N = float("nan")


def floats(values: list) -> list[float]:
    return [N if v is None else float(v) for v in values]


def same(got: np.ndarray, want: list[float]) -> None:
    assert np.array_equal(got, np.array(want, dtype=float), equal_nan=True)


@pytest.mark.parametrize(
    "arr",
    [
        pa.array([1.5, None, -2.0, 4.25, None, 7.0], pa.float64()),
        pa.array([1.5, None, -2.0, 4.25, None, 7.0], pa.float32()),
        pa.array([3, None, -9, 2**40, None, 0], pa.int64()),
        pa.array([3, None, -9, 100, None, 0], pa.int8()),
        pa.array([3, 5, 9, 250, 0, 1], pa.uint8()),
        pa.array([True, None, False, True, None, False], pa.bool_()),
    ],
    ids=lambda a: str(a.type),
)
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_numbers_and_nulls_at_any_offset(arr, offset) -> None:
    """A slice starts part-way into Arrow's buffers and its validity bitmap (a scan's
    batches are slices); nulls are NaN."""
    part = arr.slice(offset)
    values, kind = column_from_arrow("c", part)
    same(values, floats(part.to_pylist()))
    want = "bool" if arr.type == pa.bool_() else "integer" if "int" in str(arr.type) else "number"
    assert kind == want


def test_integers_float64_cannot_hold_exactly_are_their_digits() -> None:
    """Beyond 2**53 float64 would round IDs into one another: such a column is text, digit
    for digit, nulls as missing; a column forced to text (`infer` false) is text too."""
    big = pa.array([2**60 + 1, None, -(2**62) - 3], pa.int64())
    values, kind = column_from_arrow("id", big)
    assert kind == "string" and values.tolist() == [str(2**60 + 1), "", str(-(2**62) - 3)]
    values, kind = column_from_arrow("id", pa.array([7, 42], pa.uint64()), infer=False)
    assert kind == "string" and values.tolist() == ["7", "42"]
    values, kind = column_from_arrow("n", pa.array([2**53, -(2**53)], pa.int64()))
    assert kind == "integer" and values.tolist() == [2.0**53, -(2.0**53)]


def test_a_column_without_nulls_is_arrows_memory_not_a_copy() -> None:
    arr = pa.array([0.5, 1.5, 2.5, 3.5])
    values, _ = column_from_arrow("c", arr.slice(1))
    assert values.tolist() == [1.5, 2.5, 3.5]
    assert values.ctypes.data == arr.buffers()[1].address + 8
    assert not values.flags.writeable  # nobody writes into a file's data by accident


def write_ipc(path: Path, table: pa.Table, rows: int) -> None:
    """An Arrow IPC file of record batches of `rows` rows, which a scan joins into its own."""
    with pa.ipc.new_file(path, table.schema) as out:
        for batch in table.to_batches(max_chunksize=rows):
            out.write_batch(batch)


def test_a_scan_joins_a_files_batches_into_its_own_as_a_whole_read_gives(tmp_path: Path) -> None:
    """A scan's batches are put together from the file's (a CSV's blocks, an IPC file's
    batches): numbers without nulls are copied into place as they come, anything else kept
    as pieces. Every kind of column comes out as a whole read gives it, with nulls that
    first show up part-way through a batch."""
    rng = np.random.default_rng(3)
    n = 7_500
    late = np.zeros(n, dtype=bool)
    late[[3_100, 5_300, 5_301]] = True  # inside the second batch, and a later piece of the third
    path = tmp_path / "mixed.arrow"
    table = pa.table(
        {
            "f64": rng.normal(size=n),
            "i64": rng.integers(-5, 5, n),
            "f32": rng.normal(size=n).astype(np.float32),
            "late": pa.array(rng.normal(size=n), mask=late),
            "first": pa.array(rng.integers(0, 9, n), mask=rng.random(n) < 0.3),
            "flag": rng.random(n) < 0.5,
            "word": [f"w{i % 7}" for i in range(n)],
            "when": pa.array(rng.integers(0, 2**40, n), pa.timestamp("ms")),
        }
    )
    write_ipc(path, table, 1_000)
    whole = read_table(path)
    got = list(scan_table(path, batch_rows=2_600))
    assert [f.rows for f in got] == [2_600, 2_600, 2_300]
    for name in whole.names:
        joined = np.concatenate([f.columns[name] for f in got])
        assert [f.kinds[name] for f in got] == [whole.kinds[name]] * 3, name
        if joined.dtype.kind == "f":
            assert np.array_equal(joined, whole.columns[name], equal_nan=True), name
        else:
            assert joined.tolist() == whole.columns[name].tolist(), name
    assert np.isnan(got[1].columns["late"][500]) and np.isnan(got[2].columns["late"][100])


def test_a_scan_fills_again_the_arrays_of_batches_let_go_and_never_one_still_held(
    tmp_path: Path,
) -> None:
    """Memory used again is memory already touched (fresh pages cost this project's
    machines ~2 ms a megabyte): the arrays of a batch the caller let go are filled with a
    later one, and a batch the caller keeps is never written over."""
    values = np.arange(12_000.0)
    path = tmp_path / "long.arrow"
    write_ipc(path, pa.table({"a": values, "b": -values}), 1_000)
    kept, addresses = [], []
    for i, batch in enumerate(scan_table(path, batch_rows=2_000)):
        addresses.append(batch.columns["a"].ctypes.data)
        assert np.array_equal(batch.columns["b"], -values[i * 2_000 : (i + 1) * 2_000])
        if i in (0, 2):
            kept.append(batch)
        del batch
    assert len(set(addresses[3:])) < len(addresses[3:])  # let go, then filled again
    assert not {addresses[0], addresses[2]} & set(addresses[3:])  # kept: never filled again
    assert np.array_equal(kept[0].columns["a"], values[:2_000])
    assert np.array_equal(kept[1].columns["a"], values[4_000:6_000])


WHEN = [dt.datetime(2026, 1, 2, 3, 4, 5, 500_000), None, dt.datetime(1970, 1, 1)]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_times_in_any_unit_are_epoch_seconds_with_nulls(unit, tz) -> None:
    """Nanoseconds too (pandas writes them to Parquet), which float64 cannot hold as an
    integer: seconds as a float, as for every unit. A zone does not move the instant."""
    when = [w.replace(microsecond=0) if unit == "s" and w else w for w in WHEN]
    stamps = pa.array(when, pa.timestamp(unit))
    if tz:
        stamps = stamps.cast(pa.timestamp(unit, tz))  # the same instants (naive ones are UTC)
    for col in (stamps, pa.chunked_array([stamps[:1], stamps[1:0], stamps[1:]])):
        values, kind = column_from_arrow("t", col)
        assert kind == "datetime"
        same(values, [w.replace(tzinfo=dt.UTC).timestamp() if w else None for w in when])


def test_dates_are_epoch_seconds_with_nulls() -> None:
    for typ in (pa.date32(), pa.date64()):
        days, kind = column_from_arrow("d", pa.array([dt.date(1970, 1, 2), None], typ))
        assert kind == "datetime"
        same(days, [86400.0, None])


def test_a_parquet_file_pandas_wrote_with_nanosecond_times_reads(tmp_path: Path) -> None:
    """It failed with Arrow's "Integer value ... not in range" as an unexpected error."""
    path = tmp_path / "ns.parquet"
    stamps = np.array(["2026-01-02T03:04:05.25", "NaT"], dtype="datetime64[ns]")
    pq.write_table(pa.table({"t": pa.array(stamps), "x": [1.0, 2.0]}), path)
    assert pq.read_schema(path).field("t").type == pa.timestamp("ns")
    frame = read_table(path)
    assert frame.kinds["t"] == "datetime"
    same(frame.columns["t"], [dt.datetime(2026, 1, 2, 3, 4, 5, 250_000, dt.UTC).timestamp(), None])


@pytest.mark.parametrize("offset", [0, 2])
def test_text_with_missing_words_and_nulls(offset) -> None:
    words = pa.array(["north", None, " NA ", "south", "", "north", "null", "east"]).slice(offset)
    values, kind = column_from_arrow("w", words)
    assert kind == "string"
    want = ["north", "", "", "south", "", "north", "", "east"][offset:]
    assert values.tolist() == want
    encoded, _ = column_from_arrow("w", words.dictionary_encode())
    assert encoded.tolist() == want


def test_text_that_holds_numbers_or_truth_values_is_inferred_as_before() -> None:
    numbers, kind = column_from_arrow("n", pa.array(["1", None, "2.5", "NaN", " 4 "]))
    assert kind == "number"
    same(numbers, [1.0, None, 2.5, None, 4.0])
    truth, kind = column_from_arrow("b", pa.array(["yes", "n", None, "TRUE"]).slice(1))
    assert kind == "bool"
    same(truth, [0.0, None, 1.0])
    nothing, kind = column_from_arrow("z", pa.array([None, "na", ""], pa.string()))
    assert kind == "number"
    same(nothing, [None, None, None])


def test_a_column_of_nulls_only_and_an_empty_column() -> None:
    values, kind = column_from_arrow("z", pa.nulls(3))
    same(values, [None, None, None])
    assert kind == "number"
    empty, _ = column_from_arrow("e", pa.array([], pa.float64()))
    assert empty.shape == (0,)
    text, kind = column_from_arrow("s", pa.array([], pa.string()))
    assert text.shape == (0,) and kind == "number"  # no values: as a column of gaps


NO_PANDAS = """
import sys
from lookout.console import cli
from lookout.scheduler.frame import read_table, scan_table
workspace, *paths = sys.argv[1:]
for path in paths:
    read_table(path)
    for frame in scan_table(path, batch_rows=2):
        pass
    assert cli.main(["log", "m", path, "--workspace", workspace]) == 0
print("pandas" in sys.modules)
"""


def test_reading_any_format_and_logging_leave_pandas_unimported(tmp_path: Path) -> None:
    """pandas is in this environment (MLflow needs it), so importing it would show here;
    without it, the test still reads and logs every format."""
    table = pa.table(
        {
            "x": pa.array([1.5, None, 3.0]),
            "n": pa.array([1, 2, None]),
            "b": pa.array([True, None, False]),
            "t": pa.array([dt.datetime(2026, 1, 1), None, dt.datetime(2026, 1, 2)]),
            "w": pa.array(["a", None, "NA"]),
            "d": pa.array(["x", "y", "x"]).dictionary_encode(),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    arrow = pa.OSFile(str(tmp_path / "t.arrow"), "wb")
    with arrow, pa.ipc.new_file(arrow, table.schema) as writer:
        writer.write_table(table)
    csv = "x,n,b,t,w,d\n1.5,1,true,2026-01-01,a,x\n,2,,,,y\n3,,no,2026-01-02,NA,x\n"
    (tmp_path / "t.csv").write_text(csv)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lookout.toml").write_text('[models.m]\ntask = "regression"\ntarget = "y"\n')
    paths = [str(tmp_path / f) for f in ("t.parquet", "t.arrow", "t.csv")]
    out = subprocess.run(
        [sys.executable, "-c", NO_PANDAS, str(ws), *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
    for path in paths:  # and the values are what they were
        frame = read_table(path)
        same(frame["x"], [1.5, None, 3.0])
        assert frame["w"].tolist() == ["a", "", ""]
        assert sum(f.rows for f in scan_table(path, batch_rows=2)) == 3
    assert not math.isnan(read_table(paths[0])["t"][0])


POOL = """
import sys
import pyarrow as pa
from lookout.scheduler.frame import read_table
read_table(sys.argv[1])
print(pa.default_memory_pool().backend_name)
"""


@pytest.mark.parametrize("chosen", [None, "system"])
def test_reading_chooses_jemalloc_unless_the_user_chose_a_pool(tmp_path: Path, chosen) -> None:
    """mimalloc, Arrow's default, gave a scan's freed batches back to the system between
    batches (`choose_memory_pool`); a pool named in ARROW_DEFAULT_MEMORY_POOL is kept."""
    import os

    path = tmp_path / "t.csv"
    path.write_text("x\n1\n")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    out = subprocess.run(
        [sys.executable, "-c", POOL, str(path)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    jemalloc = "jemalloc" in pa.supported_memory_backends()  # else Arrow's default stays
    default = "jemalloc" if jemalloc else pa.default_memory_pool().backend_name
    assert out.stdout.split() == [chosen or default]
