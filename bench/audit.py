"""Audit benchmark: verifying 100k signed entries, and what signing adds to an append.

Goal (issue 14): `lookout audit --verify` on 100k signed entries ≤ 2 s. The default
checks every sha256 link and the newest signature (which vouches for the rest, see
`lookout.storage.audit.verify`); `--full` checks every signature too. Also timed: a
verify that has to binary-search for a forged entry, and the cost of one audited
change with and without signing (its own transaction, the witness written after).
Prints medians of several runs beside each run.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lookout.scheduler import signing
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit
from lookout.storage.db import Store

ENTRIES = 100_000
BATCH = 1_000  # entries per transaction while filling the store
RUNS = 5


def timed(fn: Callable[[], object], runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def show(label: str, seconds: list[float], unit: str = "s", goal: str = "") -> None:
    """The median, then each run (for many samples: p95 instead of every one)."""
    scale = 1000.0 if unit == "ms" else 1.0
    median = statistics.median(seconds) * scale
    if len(seconds) > RUNS:
        p95 = sorted(seconds)[int(len(seconds) * 0.95)] * scale
        print(f"{label}: median {median:.2f} {unit}, p95 {p95:.2f} {unit}{goal}")
        return
    runs = ", ".join(f"{s * scale:.2f}" for s in seconds)
    print(f"{label}: median {median:.2f} {unit} [{runs}]{goal}")


def workspace(root: Path, witness: Path | None) -> Workspace:
    root.mkdir()
    text = '[workspace]\nname = "bench"\n'
    if witness is not None:
        text += f'[audit]\nwitness = "{witness}"\n'
    (root / "lookout.toml").write_text(text)
    return open_workspace(root)


def fill(ws: Workspace, n: int) -> float:
    """n signed entries through `audit.append`, BATCH per transaction; returns seconds."""
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        with ws.store.write() as conn:
            for i in range(start, min(n, start + BATCH)):
                audit.append(
                    conn,
                    "alice",
                    "promote",
                    f"model{i % 50}:{i}",
                    "better f1 on the holdout",
                    {"from": i - 1, "to": i, "gates": ["checks", "metric", "drift"]},
                )
    return time.perf_counter() - t


def per_append(store: Store, runs: int = 200) -> list[float]:
    """Seconds per audited change in its own transaction, over `runs` changes."""
    out = []
    for i in range(runs):
        t = time.perf_counter()
        with store.write() as conn:
            audit.append(conn, "bob", "approve", f"churn:{i}", "looks right", {"request": i})
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        witness = tmp / "witness" / "audit.log"
        witness.parent.mkdir()
        ws = workspace(tmp / "ws", witness)
        filled = fill(ws, ENTRIES - 1)  # the key entry makes it 100,000
        total = ws.store.conn.execute("SELECT count(*) FROM audit").fetchone()[0]
        print(
            f"filled {total:,} signed entries through audit.append in {filled:.1f} s "
            f"({filled / total * 1e6:.0f} µs each, {BATCH} per transaction)"
        )
        ws.close()

        ro = open_workspace(tmp / "ws", readonly=True)
        result = signing.verify(ro.config, ro.store)
        assert result.verified and result.signed == total, result
        show(
            f"verify {total:,} signed entries (links + newest signature + witness)",
            timed(lambda: signing.verify(ro.config, ro.store)),
            goal=" (goal ≤ 2 s)",
        )
        show(
            f"verify --full ({total:,} signatures)",
            timed(lambda: signing.verify(ro.config, ro.store, full=True), runs=2),
        )
        cli = [sys.executable, "-m", "lookout.console.cli", "audit", "-w", str(tmp / "ws")]
        show(
            "`lookout audit --verify --json --limit 1`, process start included",
            timed(
                lambda: subprocess.run(
                    [*cli, "--verify", "--json", "--limit", "1"], check=True, capture_output=True
                ),
                runs=3,
            ),
        )

        # A forger edits entry 50,000 and recomputes every hash after it: the newest
        # signature fails and the binary search names the entry.
        conn = sqlite3.connect(tmp / "ws" / "lookout.db", isolation_level=None)
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET reason = 'forged' WHERE seq = 50000")
        rows = conn.execute(
            "SELECT seq, at, actor, action, subject, reason, details_json, signature"
            " FROM audit WHERE seq >= 50000 ORDER BY seq"
        ).fetchall()
        prev, prev_sig = conn.execute(
            "SELECT hash, signature FROM audit WHERE seq = 49999"
        ).fetchone()
        conn.execute("BEGIN")
        for seq, at, actor, action, subject, reason, details, sig in rows:
            digest = audit.entry_hash(
                prev, seq, at, actor, action, subject, reason, json.loads(details), prev_sig
            )
            conn.execute(
                "UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq)
            )
            prev, prev_sig = digest, sig
        conn.execute("COMMIT")
        conn.close()
        forged = signing.verify(ro.config, ro.store)
        assert forged.first_bad == 50000, forged
        show(
            f"verify finding the forged entry 50,000 ({forged.signatures_checked} signatures "
            "checked)",
            timed(lambda: signing.verify(ro.config, ro.store)),
        )
        ro.close()

        witnessed_ws = workspace(tmp / "witnessed", tmp / "witness" / "small.log")
        witnessed = per_append(witnessed_ws.store)
        witnessed_ws.close()
        signed_ws = workspace(tmp / "signed", None)
        signed = per_append(signed_ws.store)
        signed_ws.close()
        plain = Store(tmp / "plain.db")
        unsigned = per_append(plain)
        plain.close()
        for label, samples in (
            ("signed, the witness written and fsynced", witnessed),
            ("signed, no witness", signed),
            ("unsigned (no key, no witness)", unsigned),
        ):
            show(f"one audited change in its own transaction, {label}", samples, unit="ms")
        base = statistics.median(unsigned)
        print(
            f"signing adds {(statistics.median(signed) - base) * 1000:.2f} ms per audited change,"
            f" signing and the witness {(statistics.median(witnessed) - base) * 1000:.2f} ms"
            " (median differences)"
        )


if __name__ == "__main__":
    main()
