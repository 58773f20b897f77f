"""Events resolve when their condition clears: a request's `approval_pending` when the
request is decided, a `check_failed` when its check passes again; neither counts as open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.scheduler import promotion
from lookout.scheduler.workspace import Workspace
from lookout.storage import events, registry
from lookout.storage.records import Event

from tests.test_promotion import ME, OTHER, add_version, toml

TWO = toml(roles={"approver": [ME, OTHER]}, policy="approvals_required = 2\nfour_eyes = true")


def pending(ws: Workspace) -> list[Event]:
    return [e for e in events.list_events(ws.store, kind="approval_pending")]


def open_count(ws: Workspace, cli: Callable[..., Any]) -> int:
    res = cli("status", "--json", "--workspace", str(ws.root))
    return int(res.json()["events"]["open"])


def test_approval_pending_resolves_when_its_request_is_approved(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make_workspace(TWO)
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None and open_count(ws, cli) == 1
    promotion.approve(ws, req.id, OTHER, "first look", override=not req.gates_passed)
    still = [e for e in pending(ws) if e.resolved_at is None]
    assert len(still) == 1 and "1 more approval(s) needed" in still[0].message
    assert open_count(ws, cli) == 1  # the request's one open event says what is left
    promotion.approve(ws, req.id, ME, "second look", override=not req.gates_passed)
    assert all(e.resolved_at is not None for e in pending(ws)) and len(pending(ws)) == 2
    # what stays open is the promotion itself, news for on-call until acknowledged
    assert [e.kind for e in events.open_events(ws.store)] == ["promotion"]
    assert open_count(ws, cli) == 1
    listed = cli("events", "--workspace", str(ws.root)).out
    lines = [line for line in listed.splitlines() if "approval_pending" in line]
    assert len(lines) == 2 and all(line.endswith("resolved") for line in lines)
    states = {
        e["kind"]: e["resolved_at"]
        for e in cli("events", "--json", "--workspace", str(ws.root)).json()["events"]
    }
    assert states["approval_pending"] is not None


def test_approval_pending_resolves_when_its_request_is_rejected_or_superseded(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make_workspace(TWO)
    first = add_version(ws)
    old = promotion.on_version_registered(ws, "m", first.version, requested_by="pipeline:train")
    second = add_version(ws)
    new = promotion.on_version_registered(ws, "m", second.version, requested_by="pipeline:train")
    assert old is not None and new is not None
    assert registry.get_request(ws.store.conn, old.id).status == "superseded"  # type: ignore[union-attr]
    by_key = {e.dedup_key: e for e in pending(ws)}
    assert by_key[registry.pending_key(old.id)].resolved_at is not None
    assert by_key[registry.pending_key(new.id)].resolved_at is None
    promotion.reject(ws, new.id, ME, "not this one")
    assert all(e.resolved_at is not None for e in pending(ws))
    assert [e.kind for e in events.open_events(ws.store)] == ["promotion"]  # the rejection


def test_a_check_that_passes_again_closes_its_event(
    make_workspace: Callable[..., Workspace], cli: Callable[..., Any]
) -> None:
    ws = make_workspace(
        '[datasets.d]\nsource = "d.csv"\n'
        '[[datasets.d.checks]]\nname = "a_range"\ntype = "range"\ncolumn = "a"\nmin = 0\nmax = 2\n'
    )
    where = ("--workspace", str(ws.root))
    (ws.root / "d.csv").write_text("a,b\n1,2\n3,4\n")
    assert cli("checks", "--run", "d", *where).code == 1
    assert open_count(ws, cli) == 1
    assert " open" in cli("events", *where).out
    (ws.root / "d.csv").write_text("a,b\n1,2\n2,4\n")
    assert cli("checks", "--run", "d", *where).code == 0
    assert open_count(ws, cli) == 0
    listed = cli("events", *where).out
    assert "check_failed" in listed and "resolved" in listed and " open" not in listed
