"""`lookout promote | requests | approve | reject | rollback`: one module, `args.command` picks.

Actions print one line (or `{"ok", "message", ...}` with --json) and exit 0;
a refusal prints its reason on stderr and exits 2; a change that committed but
whose reload hook failed exits 1 (something needs a person).
"""

from __future__ import annotations

import argparse
from typing import Any

from lookout.console.output import fail, print_json, table, workspace
from lookout.scheduler import promotion
from lookout.storage import registry
from lookout.storage.identity import current_user
from lookout.storage.records import PromotionRequest, iso
from lookout.storage.text import sanitize


def request_json(r: PromotionRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "model": r.model,
        "version": r.version,
        "alias": r.alias,
        "kind": r.kind,
        "status": r.status,
        "requested_by": r.requested_by,
        "requested_at": iso(r.requested_at),
        "reason": r.reason,
        "from_version": r.from_version,
        "approvals_required": r.approvals_required,
        "approvals": [
            {
                "actor": a.actor,
                "decision": a.decision,
                "reason": a.reason,
                "override": a.override,
                "at": iso(a.at),
            }
            for a in r.approvals
        ],
        "gates": [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in r.gates],
        "gates_passed": r.gates_passed,
        "decided_by": r.decided_by,
        "decided_at": iso(r.decided_at),
    }


def _requests(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    rows = registry.list_requests(ws.store)
    if args.json:
        print_json({"requests": [request_json(r) for r in rows]})
        return 0
    if not rows:
        print("no promotion requests")
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
    print(
        table(
            body,
            ["ID", "MODEL", "CHANGE", "STATUS", "REQUESTED BY", "APPROVALS", "GATES", "REASON"],
        )
    )
    return 0


def _act(args: argparse.Namespace) -> promotion.Outcome:
    ws = workspace(args)
    actor = current_user()
    if args.command == "promote":
        return promotion.request_promotion(
            ws, args.model, args.version, actor, args.reason, alias=args.alias
        )
    if args.command == "approve":
        return promotion.approve(ws, args.request, actor, args.reason, override=args.override)
    if args.command == "reject":
        return promotion.reject(ws, args.request, actor, args.reason)
    return promotion.rollback(ws, args.model, actor, args.reason, to_version=args.to)


def run(args: argparse.Namespace) -> int:
    if args.command == "requests":
        return _requests(args)
    try:
        outcome = _act(args)
    except promotion.PromotionError as exc:
        message = sanitize(exc, single_line=True)
        if args.json:
            print_json({"ok": False, "message": message})
        return fail(f"{args.command}: {message}")
    if args.json:
        out: dict[str, Any] = {"ok": outcome.ok, "message": outcome.message}
        if outcome.request is not None:
            out["request"] = request_json(outcome.request)
        if outcome.to_version is not None:
            out["from_version"] = outcome.from_version
            out["to_version"] = outcome.to_version
        if outcome.hook_error is not None:
            out["hook_error"] = outcome.hook_error
        print_json(out)
    else:
        print(sanitize(outcome.message))
        if outcome.request is not None and outcome.request.status == "pending":
            for g in outcome.request.gates:
                print(
                    f"  {'✓' if g.passed else '✗'} {g.name}: {sanitize(g.detail, single_line=True)}"
                )
    return 1 if outcome.hook_error else 0
