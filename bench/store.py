"""Store benchmark: batched inserts, single-row commits, and the failing-checks query under load.

Goals (issue 2): batched inserts of check results ≥ 100k rows/s; single-row
commits ≥ 5k/s; "latest 50 failing checks" on 1M results p99 ≤ 5 ms while
another process writes. Prints medians of several runs.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lookout.storage import checks
from lookout.storage.db import Store
from lookout.storage.records import CheckResult

RUNS = 5

WRITER = """
import sys, time
from lookout.storage import checks
from lookout.storage.db import Store
from lookout.storage.records import CheckResult
s = Store(sys.argv[1])
stop = time.time() + float(sys.argv[2])
n = 0
while time.time() < stop:
    checks.insert_history(s, [CheckResult("live", f"c{n % 50}", "range", "fail",
                                          "pass" if n % 10 else "fail") for _ in range(20)])
    n += 1
print(n * 20)
"""


def results(n: int, fail_share: float, seed: int) -> list[CheckResult]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        r = rnd.random()
        result = "fail" if r < fail_share else "error" if r < fail_share * 1.2 else "pass"
        out.append(
            CheckResult(
                f"ds{i % 20}",
                f"check{i % 50}",
                "range",
                "fail",
                result,
                observed=str(r),
                threshold="0.5",
                rows_examined=1000,
                at=1.7e9 + i,
            )
        )
    return out


def batched_rate(tmp: Path, rows: list[CheckResult]) -> float:
    store = Store(tmp / f"batch{time.monotonic_ns()}.db")
    t = time.perf_counter()
    checks.insert_history(store, rows)
    rate = len(rows) / (time.perf_counter() - t)
    store.close()
    return rate


def single_commit_rate(tmp: Path, rows: list[CheckResult]) -> float:
    store = Store(tmp / f"single{time.monotonic_ns()}.db")
    t = time.perf_counter()
    for r in rows:
        checks.insert_history(store, [r])
    rate = len(rows) / (time.perf_counter() - t)
    store.close()
    return rate


def spread(rates: list[float]) -> str:
    """Every run's figure, so a reader of a noisy machine's median sees the spread."""
    return ", ".join(f"{r / 1000:,.1f}k" for r in rates)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        batch = results(200_000, 0.05, 1)
        rates = [batched_rate(tmp, batch) for _ in range(RUNS)]
        print(
            f"batched inserts: median {statistics.median(rates):,.0f} rows/s"
            f" (goal ≥ 100,000; runs {spread(rates)})"
        )
        single = results(5_000, 0.05, 2)
        rates = [single_commit_rate(tmp, single) for _ in range(RUNS)]
        print(
            f"single-row commits: median {statistics.median(rates):,.0f} /s"
            f" (goal ≥ 5,000; runs {spread(rates)})"
        )

        path = tmp / "big.db"
        store = Store(path)
        for chunk in range(10):
            checks.insert_history(store, results(100_000, 0.05, 10 + chunk))
        total = store.conn.execute("SELECT count(*) FROM check_results").fetchone()[0]
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), "12"], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.5)  # let the writer get going
        p99s, p50s = [], []
        for _ in range(5):
            samples = []
            for _ in range(400):
                t = time.perf_counter()
                rows = checks.recent_failures(store, 50)
                samples.append((time.perf_counter() - t) * 1000)
                assert len(rows) == 50
            samples.sort()
            p50s.append(samples[len(samples) // 2])
            p99s.append(samples[int(len(samples) * 0.99)])
        written = int(writer.communicate()[0])
        print(
            f"latest 50 failing of {total:,} results while another process wrote "
            f"{written:,} rows: p50 {statistics.median(p50s):.2f} ms, "
            f"p99 median of 5 runs {statistics.median(p99s):.2f} ms (goal ≤ 5 ms)"
        )
        store.close()


if __name__ == "__main__":
    main()
