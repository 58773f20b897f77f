"""Data-check benchmark: the standard suite on 1M rows × 50 columns, Lookout vs pandera.

Goal (issue 4): Lookout's suite in ≤ 2 s after loading, and ≥ 5× faster than
the same checks written in pandera on the same data in the same run. The suite:
schema; not-null and range on every column (range on the non-string ones);
allowed values on the categorical ones; uniqueness on one key; row count.
Lookout's time includes recording the results and events in the store.

    .venv/bin/python -m bench.checks [--rows N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from lookout.scheduler.checks.engine import run_checks
from lookout.scheduler.frame import Frame
from lookout.scheduler.workspace import open_workspace

NUMERIC = 40
CATEGORIES = ["north", "south", "east", "west", "centre"]
CATEGORICAL = 8


def make_frame(rows: int, seed: int = 0) -> Frame:
    """An id key, a timestamp, 40 numeric and 8 categorical columns (50 in all)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {
        "id": np.arange(rows, dtype=float),
        "ts": 1.7e9 + rng.uniform(0, 86400 * 30, rows),
    }
    kinds = {"id": "integer", "ts": "datetime"}
    for i in range(NUMERIC):
        if i % 2:
            columns[f"n{i}"] = rng.normal(0, 1, rows)
            kinds[f"n{i}"] = "number"
        else:
            columns[f"n{i}"] = rng.integers(0, 100, rows).astype(float)
            kinds[f"n{i}"] = "integer"
    cats = np.array(CATEGORIES)
    for i in range(CATEGORICAL):
        columns[f"c{i}"] = cats[rng.integers(0, len(cats), rows)]
        kinds[f"c{i}"] = "string"
    return Frame(columns, kinds)


def bounds(name: str) -> tuple[float, float]:
    if name == "id":
        return 0, 1e12
    if name == "ts":
        return 1.6e9, 1.9e9
    return (-10, 10) if int(name[1:]) % 2 else (0, 100)


def suite_toml(frame: Frame) -> str:
    """The standard suite as `lookout.toml` check tables."""
    lines = ['[datasets.bench]\nsource = "unused.csv"\n']

    def add(body: str) -> None:
        lines.append(f"[[datasets.bench.checks]]\n{body}\n")

    kinds = ", ".join(f'{n} = "{k}"' for n, k in frame.kinds.items())
    add(f'name = "schema"\ntype = "schema"\ncolumns = {{ {kinds} }}')
    for name, kind in frame.kinds.items():
        add(f'name = "{name}_not_null"\ntype = "not_null"\ncolumn = "{name}"')
        if kind == "string":
            values = ", ".join(f'"{c}"' for c in CATEGORIES)
            add(
                f'name = "{name}_allowed"\ntype = "allowed_values"\ncolumn = "{name}"\nvalues = [{values}]'
            )
        else:
            lo, hi = bounds(name)
            add(f'name = "{name}_range"\ntype = "range"\ncolumn = "{name}"\nmin = {lo}\nmax = {hi}')
    add('name = "id_unique"\ntype = "unique"\ncolumn = "id"')
    add(f'name = "rows"\ntype = "row_count"\nmin = 1\nmax = {10 * frame.rows}')
    return "\n".join(lines)


def pandera_suite(frame: Frame) -> tuple[Callable[[], object], object]:
    """The same checks in pandera, and the pandas DataFrame they validate."""
    import pandas as pd
    import pandera.pandas as pa

    columns = {}
    for name, kind in frame.kinds.items():
        if kind == "string":
            columns[name] = pa.Column(str, pa.Check.isin(CATEGORIES), nullable=False)
        else:
            lo, hi = bounds(name)
            columns[name] = pa.Column(
                float, pa.Check.in_range(lo, hi), nullable=False, unique=name == "id"
            )
    schema = pa.DataFrameSchema(
        columns, checks=[pa.Check(lambda df: 1 <= len(df) <= 10 * frame.rows)]
    )
    df = pd.DataFrame(frame.columns)
    return (lambda: schema.validate(df, lazy=True)), df


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    frame = make_frame(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "lookout.toml").write_text(suite_toml(frame))
        ws = open_workspace(root)
        n_checks = len(ws.config.datasets["bench"]["checks"])
        first = run_checks(ws, "bench", frame)  # warm-up, and a correctness guard
        bad = [r for r in first if r.result != "pass"]
        assert not bad, f"suite should pass on clean data: {bad[:3]}"
        ours, our_times = median_time(lambda: run_checks(ws, "bench", frame), args.runs)
        ws.close()

    validate, _df = pandera_suite(frame)
    validate()  # warm-up
    theirs, their_times = median_time(validate, max(3, args.runs // 2))

    print(f"data: {frame.rows:,} rows × {len(frame.names)} columns; {n_checks} checks")
    print(f"lookout  median {ours:.3f} s  runs {', '.join(f'{t:.3f}' for t in our_times)}")
    print(f"pandera  median {theirs:.3f} s  runs {', '.join(f'{t:.3f}' for t in their_times)}")
    print(
        f"ratio    {theirs / ours:.1f}× faster (goal ≥ 5×); budget ≤ 2 s: "
        f"{'met' if ours <= 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
