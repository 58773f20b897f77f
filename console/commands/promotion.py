"""`lookout promote | requests | approve | reject | rollback`: one module, `args.command` picks.

Actions go through the one door (`lookout.scheduler.door`) and print one line
(or `{"ok", "message", ...}` with --json) and exit 0; a refusal prints its reason
on stderr (and `{"ok": false, "error", "message"}` with --json) and exits 2; a change
that committed but whose reload hook failed, or a daemon that cannot be reached,
exits 1 (something needs a person).
"""

from __future__ import annotations

import argparse

from lookout.console.output import echo, echo_table, perform, print_json, refusal, workspace
from lookout.scheduler.door import Outcome, request_data
from lookout.storage import registry


def _requests(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    rows = registry.list_requests(ws.store)
    if args.json:
        print_json({"requests": [request_data(r) for r in rows]})
        return 0
    if not rows:
        echo("no promotion requests")
        return 0
    body = []
    for r in rows:
        approvals = sum(1 for a in r.approvals if a.decision == "approve")
        failed = [g.name for g in r.gates if not g.passed]
        body.append(
            [
                f"#{r.id}",
                r.model,
                f"v{r.version} → {r.alias}" + (" (rollback)" if r.kind == "rollback" else ""),
                r.status,
                r.requested_by,
                f"{approvals}/{r.approvals_required}",
                ("failed: " + ", ".join(failed)) if failed else "passed",
                r.reason,
            ]
        )
    echo_table(
        body,
        ["ID", "MODEL", "CHANGE", "STATUS", "REQUESTED BY", "APPROVALS", "GATES", "REASON"],
        args.wide,
    )
    return 0


def _act(args: argparse.Namespace) -> Outcome:
    ws = workspace(args, changing=True)
    try:
        if args.command == "promote":
            return perform(
                ws,
                "promote",
                model=args.model,
                version=args.version,
                reason=args.reason,
                alias=args.alias,
            )
        if args.command == "approve":
            return perform(
                ws, "approve", request=args.request, reason=args.reason, override=args.override
            )
        if args.command == "reject":
            return perform(ws, "reject", request=args.request, reason=args.reason)
        return perform(ws, "rollback", model=args.model, reason=args.reason, to_version=args.to)
    finally:
        ws.close()


def run(args: argparse.Namespace) -> int:
    if args.command == "requests":
        return _requests(args)
    outcome = _act(args)
    if not outcome.ok:
        refusal(outcome, f"{args.command}: ")
    if args.json:
        print_json({"ok": True, "message": outcome.message, **outcome.data})
    else:
        echo(outcome.message)
        request = outcome.data.get("request")
        if request is not None and request["status"] == "pending":
            for g in request["gates"]:
                echo(f"  {'✓' if g['passed'] else '✗'} {g['name']}: {g['detail']}")
    return 1 if outcome.data.get("hook_error") else 0
