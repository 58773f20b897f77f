"""Crash benchmark: kill a promotion at each of its steps, many times, and count agreement.

Issue 15: "40 of 40 kills between the pointer's rename and the store's commit left them
disagreeing". Each trial starts `lookout approve` or `lookout rollback` with
LOOKOUT_CRASH_AT naming a step, so the process SIGKILLs itself there; then the next
command on that alias (even trials) or `lookout scheduler --once` (odd trials) runs, and
the trial counts as agreeing when the store's production version, the serving pointer and
the audit tell the same story with nothing left pending. Also: ten parallel plain
rollbacks, several times, and how many transitions each made.

    .venv/bin/python -m bench.crash [--trials N] [--rollbacks N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
from lookout.scheduler import promotion, reconcile, serving
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import audit, intents, registry
from lookout.storage.identity import current_user

POINTS = (
    "promotion.intent_recorded",
    "promotion.pointer_staged",
    "promotion.pointer_switched",
    "promotion.before_commit",
    "promotion.after_commit",
)


def lookout(root: Path, *args: str, crash: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "LOOKOUT_CRASH_AT"}
    if crash:
        env["LOOKOUT_CRASH_AT"] = crash
    return subprocess.Popen(
        [sys.executable, "-m", "lookout.console.cli", "--workspace", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def build(root: Path) -> Workspace:
    """v1 and v2 promoted (a rollback goes back to v1), v3 registered and awaiting approval."""
    me = current_user()
    (root / "lookout.toml").write_text(
        '[workspace]\nname = "crash"\n[policy.roles]\n'
        f'approver = ["{me}"]\n'
        '[models.m]\ntask = "classification"\ntarget = "y"\nprimary_metric = "f1"\n'
    )
    ws = open_workspace(root)
    registry.ensure_model(ws.store, "m", "classification", "f1")
    for n in (1, 2, 3):
        path = root / "artifacts" / "models" / f"m-{n}.joblib"
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"version": n}, path)
        v = registry.register_version(
            ws.store,
            "m",
            metrics={"f1": 0.8},
            artifact_path=str(path),
            artifact_sha256=serving.sha256_of(path),
        )
        req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
        if n < 3 and req is not None:
            promotion.approve(ws, req.id, me, "bench")
    return ws


def agrees(ws: Workspace) -> bool:
    number = registry.aliases(ws.store, "m").get("production")
    version = None if number is None else registry.get_version(ws.store, "m", number)
    moves = [e for e in audit.entries(ws.store) if e.action in ("promotion", "rollback")]
    return (
        serving.agrees(serving.read_pointer(ws, "m"), version, ws)
        and not intents.pending(ws.store.conn)
        and not serving.leftovers(ws, "m", "production")
        and not reconcile.check(ws)
        and audit.verify(ws.store).verified
        and moves[0].details["to_version"] == number
    )


def trial(point: str, action: str, index: int) -> tuple[bool, bool, bool]:
    """(killed as planned, agreed afterwards, a repair was needed)."""
    with tempfile.TemporaryDirectory(prefix="lookout-crash-") as tmp:
        root = Path(tmp)
        ws = build(root)
        try:
            req = registry.list_requests(ws.store, status="pending")[0].id
            args = ["approve", str(req)] if action == "approve" else ["rollback", "m"]
            killed = lookout(root, *args, "--reason", "bench", crash=point)
            killed.communicate(timeout=120)
            repairs = sum(e.action == "repair" for e in audit.entries(ws.store))
            if index % 2:
                after = lookout(root, "scheduler", "--once")
            else:
                after = lookout(root, *args, "--reason", "again")
            _, err = after.communicate(timeout=120)
            if "Traceback" in err:
                return False, False, False
            repaired = sum(e.action == "repair" for e in audit.entries(ws.store)) > repairs
            return killed.returncode == -signal.SIGKILL, agrees(ws), repaired
        finally:
            ws.close()


def rollbacks(runs: int) -> list[int]:
    """Transitions made by ten parallel plain rollbacks, per run."""
    made = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="lookout-crash-") as tmp:
            root = Path(tmp)
            ws = build(root)
            before = len(registry.transitions(ws.store, "m", "production"))
            procs = [lookout(root, "rollback", "m", "--reason", "bench") for _ in range(10)]
            for p in procs:
                p.communicate(timeout=120)
            made.append(len(registry.transitions(ws.store, "m", "production")) - before)
            ws.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="kills per step and action")
    parser.add_argument("--rollbacks", type=int, default=5, help="runs of ten rollbacks")
    args = parser.parse_args()
    total = agreed_all = 0
    for action in ("approve", "rollback"):
        for point in POINTS:
            results = [trial(point, action, i) for i in range(args.trials)]
            killed = sum(k for k, _, _ in results)
            agreed = sum(a for _, a, _ in results)
            repaired = sum(r for _, _, r in results)
            total += len(results)
            agreed_all += agreed
            print(
                f"{action:<8} killed at {point:<28} {killed}/{len(results)} killed,"
                f" {agreed}/{len(results)} agree afterwards ({repaired} needed a repair)"
            )
    verdict = "meets" if agreed_all == total else "MISSES"
    print(f"kill trials: {agreed_all} of {total} agree after recovery — {verdict} the goal")
    made = rollbacks(args.rollbacks)
    verdict = "meets" if set(made) == {1} else "MISSES"
    print(f"ten parallel plain rollbacks, {len(made)} runs: transitions {made} — {verdict} one")


if __name__ == "__main__":
    main()
