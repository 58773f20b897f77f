"""Scale benchmark (issue 18): the Arrow data path, logging with profiles, drift windows from
profiles, streaming checks and a store bounded by retention. Prints one table, medians of
several runs, each goal beside its figure, and the 1M / 10M / 100M curve.

    .venv/bin/python -m bench.scale [--runs 3] [--full] [--dir DIR] [--only SECTION ...]

Sections (``--only``): csv, log, drift, checks, store. Peers run in the same process on
the same files: ``pyarrow.csv.read_csv`` alone for reading, scipy's exact tests for drift
verdicts. Peak memory is measured in a child process per run (its peak RSS less its RSS
before the work). Large parts write files of several GB under --dir (default: the
temporary directory) and take minutes; ``--full`` adds the 100M-row points the disk and
time allow only deliberately (100M × 50 rows: 7 GB of Parquet to check and to log, and
40 GB of raw rows the logging stores, each removed after its run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GB = 1e9
MB = 1e6
ROWS: list[tuple[str, str, str, str]] = []  # (what, figure, goal, verdict)


def row(what: str, figure: str, goal: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    ROWS.append((what, figure, goal, verdict))
    print(f"  {what:<58} {figure:<30} {goal:<22} {verdict}", flush=True)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def rss() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss)


def peak_rss() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would count the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def child(*args: str) -> dict[str, Any]:
    """Run one measured piece of work in a fresh process; its JSON answer."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--child", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"child {args} failed: {out.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- data --------------------------------------------------------------------------------


def write_wide(
    path: Path, rows: int, features: int, fmt: str, seed: int = 0, key: bool = False
) -> None:
    """`rows` × `features` floats (half of them whole numbers), in 1M-row pieces; with
    `key`, an "id" column (0, 1, 2, ...) first."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer: Any = None
    step = 1_000_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        cols = {"id": np.arange(start, start + n)} if key else {}
        for i in range(features):
            x = rng.normal(10, 3, n)
            cols[f"f{i:02d}"] = np.round(x, 3) if i % 2 else np.round(x)
        table = pa.table(cols)
        if fmt == "parquet":
            writer = writer or pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table)
        else:
            writer = writer or pcsv.CSVWriter(path, table.schema)
            writer.write_table(table)
    writer.close()


def write_mixed_csv(path: Path, rows: int = 200_000, seed: int = 0) -> None:
    """200k × 21: an id, an ISO timestamp, 15 numbers, 4 categories (38 MB)."""
    rng = np.random.default_rng(seed)
    cols = {"id": np.arange(rows).astype(str)}
    start = np.datetime64("2026-01-01T00:00:00")
    secs = rng.integers(0, 86400 * 30, rows).astype("timedelta64[s]")
    cols["ts"] = np.datetime_as_string(start + secs)
    for i in range(15):
        cols[f"x{i}"] = np.char.mod("%.6f", rng.normal(10, 3, rows))
    cats = np.array(["north", "south", "east", "west", "centre"])
    for i in range(4):
        cols[f"c{i}"] = cats[rng.integers(0, 5, rows)]
    grid = np.column_stack(list(cols.values()))
    with path.open("w") as f:
        f.write(",".join(cols) + "\n")
        f.write("\n".join(",".join(r) for r in grid.tolist()) + "\n")


# -- [1] reading a CSV ---------------------------------------------------------------------


def csv_section(tmp: Path, runs: int) -> None:
    import pyarrow.csv as pcsv
    from lookout.scheduler.frame import read_csv

    path = tmp / "mixed.csv"
    if not path.exists():
        write_mixed_csv(path)
    read_csv(path)
    pcsv.read_csv(path)
    ours, theirs = [], []
    for _ in range(max(runs, 15)):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        pcsv.read_csv(path)
        theirs.append(time.perf_counter() - t)
        t = time.perf_counter()
        read_csv(path)
        ours.append(time.perf_counter() - t)
    ratio = median(ours) / median(theirs)
    print(f"[1] read {path.stat().st_size / MB:.0f} MB CSV, 200k rows × 21 columns")
    row("pyarrow.csv.read_csv alone", f"{median(theirs):.3f} s")
    row("lookout read_csv (into a Frame, today's rules)", f"{median(ours):.3f} s")
    row("ratio", f"{ratio:.2f}×", "≤ 1.2×", ratio <= 1.2)


# -- [2] logging ----------------------------------------------------------------------------

LOG_CONFIG = """
[models.m]
task = "regression"
target = "y"
"""


def workspace(root: Path, config: str) -> Any:
    from lookout.scheduler.workspace import open_workspace

    root.mkdir(parents=True, exist_ok=True)
    (root / "lookout.toml").write_text(config)
    return open_workspace(root)


def child_log(path: str, root: str) -> dict[str, Any]:
    """`lookout log m FILE` as a user runs it: read, check, profile and store, batch by batch."""
    import contextlib
    import io

    import pyarrow.csv  # noqa: F401  # libraries are not the batch: loaded before measuring
    import pyarrow.parquet  # noqa: F401
    from lookout.console import cli
    from lookout.console.commands import log  # noqa: F401

    workspace(Path(root), LOG_CONFIG)
    base = rss()
    out = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli.main(["log", "m", path, "--workspace", root, "--json"])
    seconds = time.perf_counter() - t
    if code:
        raise RuntimeError(f"lookout log exited {code}")
    done = json.loads(out.getvalue())
    return {
        "seconds": seconds,
        "peak_extra": peak_rss() - base,
        "rows": done["rows"],
        "batches": len(done["batches"]),
    }


def log_section(tmp: Path, runs: int, full: bool) -> None:
    features = 50
    batch_bytes = 1_000_000 * features * 8
    print(f"[2] lookout log, rows × {features} features (a batch at most 1M rows or 128 MB)")
    for rows in [1_000_000, 10_000_000] + ([100_000_000] if full else []):
        for fmt, goal in (("parquet", 1_000_000), ("csv", 300_000)):
            if fmt == "csv" and rows > 10_000_000:
                row("log curve: 100M rows from csv", "skipped (a 22 GB file)")
                continue
            path = tmp / f"log-{rows}.{fmt}"
            if not path.exists():
                write_wide(path, rows, features, fmt, seed=1)
            found = []
            for i in range(runs if rows == 1_000_000 else 1):
                store = tmp / f"log-store-{fmt}-{i}"
                shutil.rmtree(store, ignore_errors=True)
                found.append(child("log", str(path), str(store)))
                shutil.rmtree(store, ignore_errors=True)
            secs = median([f["seconds"] for f in found])
            rate = rows / secs
            peak = median([f["peak_extra"] for f in found])
            first = rows == 1_000_000
            row(
                f"log curve: {rows / 1e6:.0f}M rows from {fmt} ({path.stat().st_size / MB:,.0f} MB"
                f" file, {found[0]['batches']} batches): rows/s",
                f"{rate:,.0f} ({secs:.2f} s)",
                f"≥ {goal:,}" if first else "",
                rate >= goal if first else None,
            )
            row(
                f"  peak extra memory ({1_000_000 * features * 8 / MB:.0f} MB a 1M-row batch)",
                f"{peak / MB:,.0f} MB = {peak / batch_bytes:.2f}× batch",
                "≤ 2× batch",
                peak <= 2 * batch_bytes,
            )
    if not full:
        row("log curve: 100M rows", "skipped (--full; 40 GB of raw rows)")


# -- [3] drift windows from profiles -------------------------------------------------------

DRIFT_CONFIG = """
[models.big]
task = "regression"
target = "y"

[models.big.drift]
window_rows = {window}
exact_rows = {exact}
"""
SHIFTED = {0, 3, 6, 9, 12, 15, 18}  # the truth: these features moved by 0.25 std


def drift_batch(b: int, rows: int, features: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1000 + b)
    return {
        f"f{i:02d}": rng.normal(0.25 if i in SHIFTED else 0.0, 1, rows) for i in range(features)
    }


def drift_section(tmp: Path, runs: int, full: bool) -> None:
    from lookout.scheduler import drift
    from lookout.scheduler.batches import log_batch
    from lookout.scheduler.drift_job import run_drift
    from lookout.scheduler.frame import Frame
    from lookout.storage import drift as drift_store
    from lookout.storage import registry

    features, rows, batches = 20, 1_000_000, 100
    names = [f"f{i:02d}" for i in range(features)]
    root = tmp / "drift-ws"
    shutil.rmtree(root, ignore_errors=True)
    ws = workspace(root, DRIFT_CONFIG.format(window=rows, exact=0))
    rng = np.random.default_rng(7)
    ref = Frame({n: rng.normal(0, 1, 200_000) for n in names}, dict.fromkeys(names, "number"))
    registry.ensure_model(ws.store, "big", "regression", "rmse")
    registry.register_version(ws.store, "big", profile=drift.build_profile(ref, names))
    with ws.store.write() as conn:
        registry.move_alias(conn, "big", "production", 1, kind="promotion", actor="bench")
    profile = registry.get_profile(ws.store, "big", 1) or {}
    print(f"[3] drift over windows of logged batches ({rows / 1e6:.0f}M rows × {features} each)")
    log_times: dict[int, float] = {}
    spent = 0.0
    for b in range(batches):
        cols = drift_batch(b, rows, features)
        t = time.perf_counter()
        log_batch(ws.store, "big", cols)
        spent += time.perf_counter() - t
        if b + 1 in (1, 10, 100):
            log_times[b + 1] = spent
    for n, s in log_times.items():
        row(
            f"log curve: {n * rows / 1e6:.0f}M rows logged (1M-row batches)",
            f"{s:.1f} s, {n * rows / s:,.0f} rows/s",
        )
    for window in (1, 10, 100):
        ws.config.models["big"]["drift"]["window_rows"] = window * rows
        times = []
        result = None
        for _ in range(runs):
            t = time.perf_counter()
            result = run_drift(ws, "big")
            times.append(time.perf_counter() - t)
        assert result is not None
        goal = window == 100
        row(
            f"drift curve: window of {window * rows / 1e6:.0f}M rows ({window} batches), profiles",
            f"{median(times):.2f} s, level {result.level}",
            "≤ 1 s" if goal else "",
            median(times) <= 1.0 if goal else None,
        )
        merged = {f.name: f for f in result.features}
        # exact verdicts: the raw rows, compared in full (a few features for the largest)
        check = names if window <= 10 else ["f00", "f01", "f03", "f04"]
        same = 0
        worst_gap = 0.0
        for name in check:
            batches_ = drift_store.load_window(
                ws.store, "big", max_rows=window * rows, columns=[name]
            )
            values = np.concatenate([np.frombuffer(b.columns[name], dtype="<f8") for b in batches_])
            exact = drift.compare_profile(profile, Frame({name: values}, {name: "number"}), [name])[
                0
            ]
            del values, batches_
            truth = "drift" if int(name[1:]) in SHIFTED else "ok"
            m = merged[name]
            same += exact.level == m.level == truth
            worst_gap = max(worst_gap, abs((m.score or 0) - (exact.score or 0)) - (m.bound or 0))
        row(
            f"  same verdicts as exact mode, truth-checked ({len(check)} features)",
            f"{same} of {len(check)}; score gap beyond bound {max(worst_gap, 0):.1e}",
            "all, 0",
            same == len(check) and worst_gap <= 1e-9,
        )
    from lookout.storage.drift import batch_folder

    rows_files = batch_folder(ws.store).iterdir()  # raw rows are files beside the database
    size = ws.config.database.stat().st_size + sum(f.stat().st_size for f in rows_files)
    ws.close()
    shutil.rmtree(root, ignore_errors=True)
    row("store used by the 100 batches (database and raw-rows files)", f"{size / GB:.1f} GB")
    del full


# -- [4] checks on big files ------------------------------------------------------------------


def checks_config(features: int) -> str:
    lines = ['[datasets.wide]\nsource = "wide.parquet"\n']

    def add(body: str) -> None:
        lines.append(f"[[datasets.wide.checks]]\n{body}\n")

    # Parquet says double for every f column: "number" (whole numbers or not)
    kinds = 'id = "integer", ' + ", ".join(f'f{i:02d} = "number"' for i in range(features))
    add(f'name = "schema"\ntype = "schema"\ncolumns = {{ {kinds} }}')
    for i in range(features):
        add(f'name = "f{i:02d}_not_null"\ntype = "not_null"\ncolumn = "f{i:02d}"')
        add(f'name = "f{i:02d}_range"\ntype = "range"\ncolumn = "f{i:02d}"\nmin = -100\nmax = 100')
    add('name = "id_unique"\ntype = "unique"\ncolumn = "id"')
    add('name = "rows"\ntype = "row_count"\nmin = 1')
    return "\n".join(lines)


def child_checks(root: str, mode: str) -> dict[str, Any]:
    """The dataset's checks: streamed (`run_dataset`), or as `run_dataset` did before this
    issue: the whole file read, fingerprinted, then checked in memory."""
    import pyarrow.parquet  # noqa: F401
    from lookout.scheduler.checks.engine import run_checks, run_dataset
    from lookout.scheduler.loading import load_dataset
    from lookout.scheduler.workspace import open_workspace
    from lookout.storage.checks import record_snapshot

    ws = open_workspace(Path(root))
    base = rss()
    t = time.perf_counter()
    if mode == "stream":
        results = run_dataset(ws, "wide")
    else:
        frame = load_dataset(ws.config, "wide").frame
        snap = record_snapshot(
            ws.store, "wide", "wide", frame.rows, frame.kinds, frame.fingerprint()
        )
        results = run_checks(ws, "wide", frame, snapshot_id=snap.id)
    seconds = time.perf_counter() - t
    bad = sorted({r.result for r in results} - {"pass"})
    return {"seconds": seconds, "peak": peak_rss(), "peak_extra": peak_rss() - base, "bad": bad}


def checks_section(tmp: Path, runs: int, full: bool) -> None:
    features = 49  # and the id: 50 columns
    print(f"[4] checks on Parquet files of {features + 1} columns ({2 * features + 3} checks)")
    sizes = [1_000_000, 10_000_000] + ([100_000_000] if full else [])
    for rows in sizes:
        root = tmp / f"checks-{rows}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "lookout.toml").write_text(checks_config(features))
        path = root / "wide.parquet"
        if not path.exists():
            write_wide(path, rows, features, "parquet", seed=2, key=True)
        modes = ["stream", "memory"] if rows == 1_000_000 else ["stream"]
        found: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for _ in range(runs):  # interleaved, so both see the same machine load
            for m in modes:
                found[m].append(child("checks", str(root), m))
        s = found["stream"]
        secs, peak = median([f["seconds"] for f in s]), median([f["peak"] for f in s])
        goal = rows == 10_000_000
        row(
            f"checks curve: {rows / 1e6:.0f}M rows, streamed ({path.stat().st_size / GB:.1f} GB file)",
            f"{secs:.2f} s, peak RSS {peak / GB:.2f} GB",
            "≤ 8 s, ≤ 1.5 GB" if goal else "",
            (secs <= 8 and peak <= 1.5 * GB) if goal else None,
        )
        if "memory" in found:
            old = median([f["seconds"] for f in found["memory"]])
            oldpeak = median([f["peak"] for f in found["memory"]])
            row(
                "  the same, whole file in memory (the path before)",
                f"{old:.2f} s, peak RSS {oldpeak / GB:.2f} GB",
                "streamed no worse",
                secs <= old * 1.1,
            )
        if s[0]["bad"]:
            row("  unexpected results", ", ".join(s[0]["bad"]))
    if not full:
        row("checks curve: 100M rows", "skipped (--full; 7 GB of Parquet)")


# -- [5] a store bounded by retention ----------------------------------------------------------

STORE_CONFIG = """
[models.m00]
task = "regression"
target = "y"

[datasets.d]
source = "d.csv"
"""


def store_section(tmp: Path, scale: float) -> None:
    """60 days × 10M rows a day × 50 features, at `scale` of the rows (the rest as at full
    size: batches, profiles, check and drift results, events), with default retention."""
    from lookout.scheduler.batches import log_batch
    from lookout.storage import checks, events, retention
    from lookout.storage import drift as drift_store
    from lookout.storage.records import CheckResult, FeatureDrift

    root = tmp / "store-ws"
    shutil.rmtree(root, ignore_errors=True)
    ws = workspace(root, STORE_CONFIG)
    policy = ws.config.retention
    days, per_day, features = 60, 24, 50
    batch_rows = int(10_000_000 / per_day * scale)
    t0 = time.time() - days * 86400
    clock = [t0]
    saved = drift_store.now
    drift_store.now = lambda: clock[0]  # logged "at" the simulated time
    rng = np.random.default_rng(3)
    raw_bytes_per_row = features * 8
    start = time.perf_counter()
    try:
        for day in range(days):
            for hour in range(per_day):
                clock[0] = t0 + day * 86400 + hour * 3600
                cols = {f"f{i:02d}": rng.normal(0, 1, batch_rows) for i in range(features)}
                log_batch(ws.store, "m00", cols)
                results = [
                    CheckResult("d", f"c{i:03d}", "range", "fail", "pass", at=clock[0])
                    for i in range(100)
                ]
                checks.record_results(ws.store, results)
                with ws.store.write() as conn:
                    for minute in range(0, 60, 10):
                        clock[0] = t0 + day * 86400 + hour * 3600 + minute * 60
                        feats = [
                            FeatureDrift(f"f{i:02d}", "wasserstein", 0.01, 0.1, "ok")
                            for i in range(features)
                        ]
                        drift_store.record_result(conn, "m00", 1, "ok", 0.0, batch_rows, {}, feats)
                    events.raise_event(conn, "note", "m00", "hourly", at=clock[0])
            retention.prune(ws.store, policy, at=t0 + (day + 1) * 86400)
    finally:
        drift_store.now = saved
    ws.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stats = retention.store_stats(ws.store)
    raw_rows = ws.store.conn.execute(
        "SELECT coalesce(sum(rows), 0) FROM inference_batches"
    ).fetchone()[0]
    raw_kept = raw_rows * raw_bytes_per_row
    projected = stats["bytes"] - raw_kept + raw_kept / scale
    oldest_raw = stats["oldest"]["raw_rows"]
    raw_days = (t0 + days * 86400 - oldest_raw) / 86400 if oldest_raw else 0
    print(f"[5] store after {days} days × 10M rows/day × {features} features, default retention")
    row(
        f"simulated at {scale:g} of the rows ({per_day} batches a day)",
        f"{stats['bytes'] / GB:.2f} GB, built in {time.perf_counter() - start:.0f} s",
    )
    row(
        "projected at full size (raw rows × 1/scale)",
        f"{projected / GB:.1f} GB",
        "≤ 40 GB",
        projected <= 40 * GB,
    )
    row("raw rows kept", f"{raw_days:.1f} days", "≤ 7 days", raw_days <= 7.0 + 1 / per_day)
    first_frame(root)
    ws.close()
    shutil.rmtree(root, ignore_errors=True)


def first_frame(root: Path) -> None:
    """The console's first useful frame on the store, through a real pseudo-terminal."""
    try:
        from bench.console import LOOKOUT, ttybench
    except ImportError as exc:
        row("console first frame", f"not measured ({exc})")
        return
    env = dict(os.environ, XDG_STATE_HOME=str(root / "state"), XDG_CONFIG_HOME=str(root / "cfg"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [LOOKOUT, "-w", str(root), "--no-scheduler"]
    ttybench(cmd, "m00", 1, env)
    times = [ttybench(cmd, "m00", 1, env)["ready_s"] for _ in range(3)]
    row("console first frame on that store", f"{median(times):.2f} s", "≤ 1 s", median(times) <= 1)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "lookout-bench-scale"))
    ap.add_argument("--only", nargs="*", default=["csv", "log", "drift", "checks", "store"])
    ap.add_argument("--scale", type=float, default=0.01, help="share of rows in [5]")
    ap.add_argument("--child", nargs="*")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        out = child_log(*rest) if kind == "log" else child_checks(*rest)
        print(json.dumps(out))
        return
    tmp = Path(a.dir)
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; files under {tmp}")
    sections: dict[str, Callable[[], None]] = {
        "csv": lambda: csv_section(tmp, a.runs),
        "log": lambda: log_section(tmp, a.runs, a.full),
        "drift": lambda: drift_section(tmp, a.runs, a.full),
        "checks": lambda: checks_section(tmp, a.runs, a.full),
        "store": lambda: store_section(tmp, a.scale),
    }
    for name in a.only:
        sections[name]()
    print("\nsummary")
    for what, figure, goal, verdict in ROWS:
        if goal:
            print(f"  {what:<58} {figure:<30} {goal:<22} {verdict}")


if __name__ == "__main__":
    main()
