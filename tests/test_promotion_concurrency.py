"""Many real `lookout` processes acting on the same request, model or alias at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from lookout.scheduler import promotion, serving
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, registry

from tests.test_promotion import ME, add_version, promote_new, toml

pytestmark = pytest.mark.slow


def run_all(root: str, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once as its own process, then wait for all of them."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lookout.console.cli", "--workspace", root, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    results = []
    for cmd, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(cmd, p.returncode, out, err))
    return results


def test_ten_approvers_one_transition(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None
    results = run_all(str(ws.root), [["approve", str(req.id), "--reason", "go"]] * 10)
    winners = [r for r in results if r.returncode == 0]
    losers = [r for r in results if r.returncode != 0]
    assert len(winners) == 1, [r.stderr for r in results]
    assert len(losers) == 9
    for r in losers:
        assert f"already approved by {ME}" in r.stderr and "Traceback" not in r.stderr
    prod = registry.transitions(ws.store, "m", "production")
    assert [(t.kind, t.to_version) for t in prod] == [("promotion", 1)]
    assert [a.actor for a in registry.get_request(ws.store.conn, req.id).approvals] == [ME]  # type: ignore[union-attr]
    assert audit.verify(ws.store).verified
    assert [e.action for e in audit.entries(ws.store)].count("promotion") == 1
    assert serving.read_pointer(ws, "m").version == 1  # type: ignore[union-attr]


def test_ten_promoters_one_change(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml({"operator": [ME]}))
    promote_as_staging = add_version(ws)
    results = run_all(
        str(ws.root),
        [["promote", "m", str(promote_as_staging.version), "--alias", "staging", "--reason", "go"]]
        * 10,
    )
    assert sum(r.returncode == 0 for r in results) == 1, [r.stderr for r in results]
    for r in results:
        if r.returncode:
            assert f"already staging (promoted by {ME})" in r.stderr
    assert len(registry.transitions(ws.store, "m", "staging")) == 1
    assert serving.read_pointer(ws, "m", "staging").version == 1  # type: ignore[union-attr]
    assert audit.verify(ws.store).verified


def test_ten_production_requests_one_request(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml({"operator": [ME]}))
    v = add_version(ws)
    promotion.on_version_registered(ws, "m", v.version, "pipeline:train", request=False)
    results = run_all(str(ws.root), [["promote", "m", "1", "--reason", "go"]] * 10)
    assert sum(r.returncode == 0 for r in results) == 1, [r.stderr for r in results]
    [req] = registry.list_requests(ws.store)
    for r in results:
        if r.returncode:
            assert f"already has pending request #{req.id}" in r.stderr


def test_rollback_racing_a_promotion_agrees_everywhere(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    promote_new(ws)
    promote_new(ws)
    v3 = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v3.version, requested_by="pipeline:train")
    assert req is not None
    results = run_all(
        str(ws.root),
        [
            ["approve", str(req.id), "--reason", "ship v3"],
            ["rollback", "m", "--reason", "v2 is bad"],
        ],
    )
    approved, rolled_back = results
    assert approved.returncode == 0, approved.stderr
    # The rollback named its target (v1, before v2) when it was asked: if the approval
    # got in first, production is no longer v2 and it refuses rather than undo v3.
    assert rolled_back.returncode == 0 or (
        rolled_back.returncode == 2 and "production is no longer v2" in rolled_back.stderr
    ), rolled_back.stderr
    final = registry.aliases(ws.store, "m")["production"]
    last = next(e for e in audit.entries(ws.store) if e.action in ("promotion", "rollback"))
    assert serving.read_pointer(ws, "m").version == final  # type: ignore[union-attr]
    assert last.details["to_version"] == final
    assert registry.transitions(ws.store, "m", "production")[0].to_version == final
    assert audit.verify(ws.store).verified
