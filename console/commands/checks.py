"""`lookout checks [--json] [--wide] [--run DATASET]`: the latest result of each data check.

Failing first; exit 1 when any check fails or could not be evaluated. `--run`
(operator) evaluates a dataset's checks now, through the one door: in this process
for a personal workspace, by the daemon for a shared one; then shows the results.
"""

from __future__ import annotations

import argparse
from typing import Any

from lookout.console.output import (
    UsageError,
    echo,
    echo_table,
    fail,
    perform,
    print_json,
    refusal,
    wait_request,
    workspace,
)
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks
from lookout.storage.records import CheckResult, iso

ORDER = {"fail": 0, "error": 1, "warn": 2, "pass": 3, None: 4}


def as_json(r: CheckResult) -> dict[str, Any]:
    return {
        "dataset": r.dataset,
        "name": r.name,
        "kind": r.kind,
        "severity": r.severity,
        "result": r.result,
        "observed": r.observed,
        "threshold": r.threshold,
        "rows_examined": r.rows_examined,
        "failing_rows": r.failing_rows,
        "examples": list(r.examples),
        "message": r.message,
        "at": iso(r.at),
        "run_id": r.run_id,
        "snapshot_id": r.snapshot_id,
    }


def never_run(ws: Workspace, results: list[CheckResult]) -> list[dict[str, Any]]:
    """Configured checks with no result yet: shown, so a silent check is noticed."""
    seen = {(r.dataset, r.name) for r in results}
    return [
        {
            "dataset": dataset,
            "name": c["name"],
            "kind": c["type"],
            "severity": c["severity"],
            "result": None,
            "observed": None,
            "threshold": None,
            "at": None,
        }
        for dataset, ds in ws.config.datasets.items()
        for c in ds["checks"]
        if (dataset, c["name"]) not in seen
    ]


def run(args: argparse.Namespace) -> int:
    if args.run is not None:
        if args.readonly:
            raise UsageError("checks --run: refused in read-only mode")
        ws = workspace(args, changing=True)
        asked = perform(ws, "run_checks", dataset=args.run)
        if not asked.ok:
            refusal(asked, "checks --run: ")
        if "request" in asked.data:  # a shared workspace: the daemon runs them
            done = wait_request(ws, int(asked.data["request"]))
            if done.status == "failed":
                fail(f"checks --run: {done.result}", 1)
        rows = [as_json(r) for r in checks.latest_results(ws.store, args.run)]
    else:
        ws = workspace(args, readonly=True)
        results = checks.latest_results(ws.store)
        rows = [as_json(r) for r in results] + never_run(ws, results)
    rows.sort(key=lambda r: ORDER[r["result"]])  # stable: the store's order within a result
    unhealthy = any(r["result"] in ("fail", "error") for r in rows)
    if args.json:
        print_json({"checks": rows})
    elif not rows:
        echo("no data checks configured" if args.run is None else f"{args.run} has no checks")
    else:
        echo_table(
            [
                [
                    r["dataset"],
                    r["name"],
                    r["severity"],
                    r["result"] or "never run",
                    r["observed"] or r.get("message") or "",
                    r["threshold"] or "",
                    r["at"] or "",
                ]
                for r in rows
            ],
            ["DATASET", "CHECK", "SEVERITY", "RESULT", "OBSERVED", "THRESHOLD", "AT"],
            args.wide,
        )
    return 1 if unhealthy else 0
