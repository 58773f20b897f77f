"""Promotion, approval and rollback against real stores, real artifacts and real HTTP hooks."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from lookout.scheduler import promotion, serving
from lookout.scheduler.promotion import PromotionError
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, checks, events, registry
from lookout.storage.identity import current_user, user_groups
from lookout.storage.records import CheckResult, Version

ME = current_user()
OTHER = "someone-else"


def toml(
    roles: dict[str, list[str]] | None = None, policy: str = "", model: str = "", metric: str = "f1"
) -> str:
    """A workspace config: by default I am an approver and OTHER an operator."""
    roles = {"approver": [ME], "operator": [OTHER]} if roles is None else roles
    lines = ["[workspace]", 'name = "t"', "[policy]", policy, "[policy.roles]"]
    lines += [f"{role} = {json.dumps(names)}" for role, names in roles.items()]
    task = "regression" if metric in ("rmse", "mae") else "classification"
    lines += [
        "[models.m]",
        f'task = "{task}"',
        'target = "y"',
        f'primary_metric = "{metric}"',
        model,
    ]
    return "\n".join(lines) + "\n"


def _weights(n: int) -> dict[str, Any]:
    """What a small linear model's artifact holds: its weights (a real joblib file)."""
    rng = np.random.default_rng(n)
    return {"coef": rng.normal(size=(1, 4)), "intercept": np.array([0.1 * n]), "version": n}


def add_version(
    ws: Workspace,
    metrics: dict[str, float] | None = None,
    snapshot_id: int | None = None,
    profile: dict[str, Any] | None = None,
    model: str = "m",
) -> Version:
    """Register the next version with a real joblib artifact and its sha256."""
    if registry.get_model(ws.store, model) is None:
        registry.ensure_model(ws.store, model, "classification", "f1")
    n = len(registry.list_versions(ws.store, model)) + 1
    rel = f"artifacts/models/{model}-{n}.joblib"
    path = ws.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(_weights(n), path)
    return registry.register_version(
        ws.store,
        model,
        metrics={"f1": 0.8} if metrics is None else metrics,
        artifact_path=rel,
        artifact_sha256=serving.sha256_of(path),
        snapshot_id=snapshot_id,
        profile=profile,
    )


def promote_new(ws: Workspace, **kwargs: Any) -> Version:
    """A new version made candidate by a pipeline and approved by me into production."""
    v = add_version(ws, **kwargs)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None
    promotion.approve(ws, req.id, ME, "looks good", override=not req.gates_passed)
    return v


def serving_version(ws: Workspace) -> int | None:
    p = serving.read_pointer(ws, "m")
    return None if p is None else p.version


@contextlib.contextmanager
def hook_server(mode: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real reload endpoint on loopback: 'ok' answers 200, 'fail' 503, 'hang' never answers."""
    received: list[dict[str, Any]] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            if mode == "hang":
                release.wait(30)
            self.send_response(200 if mode == "ok" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/reload", received
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- roles ---------------------------------------------------------------------------


def test_roles_nest_and_groups_grant(make_workspace: Callable[..., Workspace]) -> None:
    groups = sorted(user_groups(ME))
    ws = make_workspace(toml({"operator": [f"group:{groups[0]}"], "admin": ["boss"]}))
    assert promotion.role_of(ws, ME) == "operator"
    assert promotion.role_of(ws, "boss") == "admin"
    assert promotion.role_of(ws, "stranger") == "viewer"
    assert promotion.can(ws, "boss", "override")
    assert promotion.can(ws, ME, "rollback") and not promotion.can(ws, ME, "approve")
    assert not promotion.can(ws, "stranger", "promote")


def test_viewer_cannot_promote_or_approve(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml({"admin": ["boss"]}))
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None
    with pytest.raises(PromotionError, match=f"approve needs the approver role; {ME} is a viewer"):
        promotion.approve(ws, req.id, ME, "ok")
    with pytest.raises(PromotionError, match="promote needs the operator role"):
        promotion.request_promotion(ws, "m", v.version, ME, "ship it")
    assert registry.aliases(ws.store, "m").get("production") is None


# -- the pipeline path and approval -----------------------------------------------------


def test_registered_version_becomes_candidate_with_a_pending_request(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None and req.status == "pending" and req.requested_by == "pipeline:train"
    assert registry.aliases(ws.store, "m") == {"candidate": 1}
    # The first production version still needs a person: the gates say why they pass.
    assert {g.name: g.passed for g in req.gates} == {"checks": True, "metric": True, "drift": True}
    assert "no production version" in dict((g.name, g.detail) for g in req.gates)["metric"]
    [t] = registry.transitions(ws.store, "m")
    assert (t.alias, t.kind, t.to_version, t.actor) == (
        "candidate",
        "register",
        1,
        "pipeline:train",
    )
    assert [e.action for e in reversed(audit.entries(ws.store))] == ["key", "register", "request"]
    assert [e.kind for e in events.list_events(ws.store)] == ["approval_pending"]
    assert serving_version(ws) is None


def test_approval_moves_production_and_switches_the_pointer(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, requested_by="pipeline:train")
    assert req is not None
    out = promotion.approve(ws, req.id, ME, "metrics fine")
    assert out.ok and out.from_version is None and out.to_version == 1
    assert out.request is not None and out.request.status == "approved"
    assert out.request.decided_by == ME
    assert registry.aliases(ws.store, "m")["production"] == 1
    pointer = serving.read_pointer(ws, "m")
    assert pointer is not None and pointer.version == 1 and pointer.sha256 == v.artifact_sha256
    assert joblib.load(pointer.artifact)["version"] == 1  # the pointer names a loadable model
    last = audit.entries(ws.store, limit=1)[0]
    assert (last.action, last.actor, last.details["to_version"]) == ("promotion", ME, 1)
    assert audit.verify(ws.store).verified
    assert events.list_events(ws.store, kind="promotion")[0].message.startswith("m promoted")
    prod = registry.transitions(ws.store, "m", "production")[0]
    assert (prod.kind, prod.request_id) == ("promotion", req.id)
    # The pending event closed with the decision.
    assert events.list_events(ws.store, kind="approval_pending")[0].resolved_at is not None


def test_four_eyes_refuses_the_requester(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml({"approver": [ME, "carol"]}))
    promote_new(ws)
    v2 = add_version(ws, {"f1": 0.85})
    promotion.on_version_registered(ws, "m", v2.version, "pipeline:train", request=False)
    out = promotion.request_promotion(ws, "m", v2.version, ME, "better f1")
    assert out.request is not None
    with pytest.raises(PromotionError, match=f"four-eyes: {ME} requested #{out.request.id}"):
        promotion.approve(ws, out.request.id, ME, "mine")
    assert registry.aliases(ws.store, "m")["production"] == 1
    done = promotion.approve(ws, out.request.id, "carol", "checked")
    assert done.to_version == 2 and serving_version(ws) == 2


def test_without_four_eyes_the_requester_may_approve(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml(policy="four_eyes = false"))
    v = add_version(ws)
    promotion.on_version_registered(ws, "m", v.version, "pipeline:train", request=False)
    req = promotion.request_promotion(ws, "m", v.version, ME, "first").request
    assert req is not None
    assert promotion.approve(ws, req.id, ME, "mine").to_version == 1


def test_two_approvals_required(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml({"approver": [ME, "carol"]}, policy="approvals_required = 2"))
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None and req.approvals_required == 2
    first = promotion.approve(ws, req.id, ME, "one")
    assert first.to_version is None and "1 more approval" in first.message
    assert registry.aliases(ws.store, "m").get("production") is None
    with pytest.raises(PromotionError, match=f"{ME} already approved request #{req.id}"):
        promotion.approve(ws, req.id, ME, "again")
    pending = [e for e in events.list_events(ws.store) if e.kind == "approval_pending"]
    assert [e.message for e in pending if e.resolved_at is None] == [
        f"request #{req.id}: {ME} approved; 1 more approval(s) needed"
    ]  # one open event per request, saying what is left
    second = promotion.approve(ws, req.id, "carol", "two")
    assert second.to_version == 1 and serving_version(ws) == 1
    with pytest.raises(PromotionError, match="already approved by carol"):
        promotion.approve(ws, req.id, ME, "late")
    assert all(
        e.resolved_at is not None
        for e in events.list_events(ws.store)
        if e.kind == "approval_pending"
    )  # deciding the request resolved its approval_pending events


def test_rejecting_or_superseding_resolves_approval_pending(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    first = promotion.on_version_registered(ws, "m", add_version(ws).version, "pipeline:train")
    second = promotion.on_version_registered(ws, "m", add_version(ws).version, "pipeline:train")
    assert first is not None and second is not None
    promotion.reject(ws, second.id, ME, "not this one")
    waiting = [e for e in events.list_events(ws.store) if e.kind == "approval_pending"]
    assert len(waiting) == 2 and all(e.resolved_at is not None for e in waiting)


# -- gates -----------------------------------------------------------------------------


def test_failed_metric_gate_needs_an_override(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(policy="metric_tolerance = 0.01"))
    promote_new(ws, metrics={"f1": 0.90})
    v2 = add_version(ws, {"f1": 0.85})
    req = promotion.on_version_registered(ws, "m", v2.version, "pipeline:train")
    assert req is not None and not req.gates_passed
    metric = next(g for g in req.gates if g.name == "metric")
    assert not metric.passed and "0.85" in metric.detail and "0.9" in metric.detail
    with pytest.raises(PromotionError, match="gates failed: metric.*--override"):
        promotion.approve(ws, req.id, ME, "looks fine")
    assert registry.aliases(ws.store, "m")["production"] == 1
    out = promotion.approve(ws, req.id, ME, "f1 dip is a labelling artefact", override=True)
    assert out.to_version == 2 and "overridden" in out.message
    assert out.request is not None and out.request.approvals[0].override
    override = next(e for e in audit.entries(ws.store) if e.action == "override")
    assert override.reason == "f1 dip is a labelling artefact"
    assert override.details["failed_gates"][0]["name"] == "metric"


def test_metric_within_tolerance_passes(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(policy="metric_tolerance = 0.05"))
    promote_new(ws, metrics={"f1": 0.90})
    v2 = add_version(ws, {"f1": 0.86})
    assert {g.name: g.passed for g in promotion.evaluate_gates(ws, "m", v2.version)}["metric"]


def test_error_metrics_are_better_when_lower(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(metric="rmse"))
    promote_new(ws, metrics={"rmse": 10.0})
    better = add_version(ws, {"rmse": 8.0})
    worse = add_version(ws, {"rmse": 12.0})
    assert next(
        g for g in promotion.evaluate_gates(ws, "m", better.version) if g.name == "metric"
    ).passed
    assert not next(
        g for g in promotion.evaluate_gates(ws, "m", worse.version) if g.name == "metric"
    ).passed


def test_candidate_without_the_metric_fails_the_gate(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    promote_new(ws, metrics={"f1": 0.9})
    v2 = add_version(ws, {"accuracy": 0.9})
    gate = next(g for g in promotion.evaluate_gates(ws, "m", v2.version) if g.name == "metric")
    assert not gate.passed and "no finite f1" in gate.detail


def test_failing_check_on_training_data_fails_the_gate(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    snap = checks.record_snapshot(ws.store, "d", "d.csv", 100, {"x": "number"}, "abc")
    checks.record_results(
        ws.store,
        [
            CheckResult("d", "rows", "row_count", "fail", "pass", snapshot_id=snap.id),
            CheckResult("d", "x_range", "range", "fail", "fail", snapshot_id=snap.id),
            CheckResult("d", "x_mean", "mean", "warn", "warn", snapshot_id=snap.id),
        ],
    )
    v = add_version(ws, snapshot_id=snap.id)
    gate = next(g for g in promotion.evaluate_gates(ws, "m", v.version) if g.name == "checks")
    assert not gate.passed and "d.x_range" in gate.detail and "x_mean" not in gate.detail


def test_drift_gate_compares_the_training_profiles(
    make_workspace: Callable[..., Workspace],
) -> None:
    from lookout.scheduler.drift import build_profile
    from lookout.scheduler.frame import frame_from_columns

    ws = make_workspace(toml())
    rng = np.random.default_rng(7)

    def profile(shift_a: float, shift_b: float) -> dict[str, Any]:
        frame = frame_from_columns(
            {
                "a": rng.normal(shift_a, 1.0, 3000),
                "b": rng.normal(shift_b, 1.0, 3000),
                "c": rng.choice(np.array(["x", "y", "z"]), 3000),
            }
        )
        return build_profile(frame, ["a", "b", "c"], categorical=["c"])

    promote_new(ws, profile=profile(0.0, 0.0))
    similar = add_version(ws, profile=profile(0.0, 0.0))
    shifted = add_version(ws, profile=profile(2.0, 1.5))
    ok = next(g for g in promotion.evaluate_gates(ws, "m", similar.version) if g.name == "drift")
    bad = next(g for g in promotion.evaluate_gates(ws, "m", shifted.version) if g.name == "drift")
    assert ok.passed and "0 of 3 features drifted" in ok.detail
    assert not bad.passed and "2 of 3 features drifted" in bad.detail and ": a, b" in bad.detail


def test_registration_stores_the_drift_gate_for_any_process(
    make_workspace: Callable[..., Workspace],
) -> None:
    from lookout.scheduler.drift import build_profile
    from lookout.scheduler.frame import frame_from_columns

    ws = make_workspace(toml())
    shape = build_profile(frame_from_columns({"a": np.arange(50.0)}), ["a"])
    v1 = promote_new(ws, profile=shape)
    v2 = add_version(ws, profile=shape)
    settings = json.dumps(ws.config.models["m"]["drift"], sort_keys=True, default=str)
    assert registry.remembered_gate(ws.store, "drift", v2.id, v1.id, settings) is None
    promotion.on_version_registered(ws, "m", v2.version, "pipeline:train", request=False)
    stored = registry.remembered_gate(ws.store, "drift", v2.id, v1.id, settings)
    assert stored is not None and stored.passed and "0 of 1 features drifted" in stored.detail
    assert (
        next(g for g in promotion.evaluate_gates(ws, "m", v2.version) if g.name == "drift")
        == stored
    )


def test_drift_gate_decides_the_same_on_profiles_stored_as_json_text(
    make_workspace: Callable[..., Workspace],
) -> None:
    """A store written before profiles were BLOBs (JSON text) gates as a new one, mixed too."""
    from lookout.scheduler.drift import build_profile
    from lookout.scheduler.frame import frame_from_columns

    rng = np.random.default_rng(8)

    def profile(shift: float) -> dict[str, Any]:
        columns: dict[str, Any] = {f"f{i}": rng.normal(shift * (i < 4), 1, 5000) for i in range(6)}
        columns["c"] = rng.choice(np.array(["x", "y", "z"]), 5000)
        return build_profile(frame_from_columns(columns), list(columns), categorical=["c"])

    shapes = [profile(0.0), profile(0.0), profile(0.5)]
    decided = []
    for stored_as_text in ((), (1,), (1, 2, 3)):  # none, production's only, all
        ws = make_workspace(toml(), name=f"text{len(stored_as_text)}")
        promote_new(ws, profile=shapes[0])
        for shape in shapes[1:]:
            add_version(ws, profile=shape)
        with ws.store.write() as conn:  # what Lookout wrote before
            for n in stored_as_text:
                conn.execute(
                    "UPDATE versions SET profile = ? WHERE version = ?",
                    (json.dumps(shapes[n - 1]), n),
                )
            kinds = conn.execute("SELECT typeof(profile) FROM versions ORDER BY version")
            assert [k for (k,) in kinds] == [
                "text" if n in stored_as_text else "blob" for n in (1, 2, 3)
            ]
        decided.append(
            [g for n in (2, 3) for g in promotion.evaluate_gates(ws, "m", n) if g.name == "drift"]
        )
    similar, shifted = decided[0]
    assert similar.passed and "0 of 7 features drifted" in similar.detail
    assert not shifted.passed and "4 of 7 features drifted" in shifted.detail
    assert decided[1] == decided[0] and decided[2] == decided[0]


def test_drift_gate_without_profiles_passes_and_says_why(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    promote_new(ws)
    v2 = add_version(ws)
    gate = next(g for g in promotion.evaluate_gates(ws, "m", v2.version) if g.name == "drift")
    assert gate.passed and "no stored training profile" in gate.detail


def test_drift_gate_survives_a_malformed_profile(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    bad = {"features": {"a": {"kind": "numeric", "sample": ["x", None]}, "b": "nonsense"}}
    promote_new(ws, profile={"features": {"a": {"kind": "numeric", "sample": [1.0]}}})
    incomplete = add_version(ws, profile={"features": {"a": {"kind": "numeric", "sample": [2.0]}}})
    gate = next(
        g for g in promotion.evaluate_gates(ws, "m", incomplete.version) if g.name == "drift"
    )
    assert gate.passed and "no comparable features" in gate.detail
    v2 = add_version(ws, profile=bad)
    gate = next(g for g in promotion.evaluate_gates(ws, "m", v2.version) if g.name == "drift")
    assert gate.passed and "no comparable features" in gate.detail


def test_gates_can_be_switched_off(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml(policy="[policy.gates]\nmetric = false\ndrift = false"))
    v = add_version(ws)
    assert [g.name for g in promotion.evaluate_gates(ws, "m", v.version)] == ["checks"]


# -- refusals that keep everything as it was --------------------------------------------


def test_tampered_artifact_is_refused_and_nothing_moves(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    promote_new(ws)
    v2 = add_version(ws, {"f1": 0.9})
    req = promotion.on_version_registered(ws, "m", v2.version, "pipeline:train")
    assert req is not None
    with (ws.root / str(v2.artifact_path)).open("ab") as f:
        f.write(b"tampered")
    seq_before = audit.entries(ws.store, limit=1)[0].seq
    with pytest.raises(PromotionError, match="does not match its recorded sha256"):
        promotion.approve(ws, req.id, ME, "ship")
    assert registry.aliases(ws.store, "m")["production"] == 1 and serving_version(ws) == 1
    assert registry.get_request(ws.store.conn, req.id).status == "pending"  # type: ignore[union-attr]
    assert audit.entries(ws.store, limit=1)[0].seq == seq_before
    (ws.root / str(v2.artifact_path)).unlink()
    with pytest.raises(PromotionError, match="is missing"):
        promotion.approve(ws, req.id, ME, "ship")


def test_unwritable_serving_directory_is_one_clear_refusal(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    blocker = ws.root / "artifacts" / "serving"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the serving directory belongs")
    with pytest.raises(PromotionError, match="serving pointer"):
        promotion.approve(ws, req.id, ME, "ship")
    assert registry.aliases(ws.store, "m").get("production") is None


def test_newer_candidate_supersedes_the_older_request(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    v1 = add_version(ws)
    old = promotion.on_version_registered(ws, "m", v1.version, "pipeline:train")
    v2 = add_version(ws)
    new = promotion.on_version_registered(ws, "m", v2.version, "pipeline:train")
    assert old is not None and new is not None
    assert registry.get_request(ws.store.conn, old.id).status == "superseded"  # type: ignore[union-attr]
    with pytest.raises(PromotionError, match=f"superseded by request #{new.id} \\(v2\\)"):
        promotion.approve(ws, old.id, ME, "ok")
    assert promotion.approve(ws, new.id, ME, "ok").to_version == 2


def test_request_for_a_version_no_longer_candidate_is_refused(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml({"approver": [ME]}))
    v1 = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v1.version, "pipeline:train")
    v2 = add_version(ws)
    # An operator moves the candidate by hand (other aliases move at once).
    moved = promotion.request_promotion(ws, "m", v2.version, ME, "try v2", alias="candidate")
    assert moved.to_version == 2 and registry.aliases(ws.store, "m")["candidate"] == 2
    assert req is not None
    with pytest.raises(PromotionError, match="no longer the candidate \\(v2 is\\)"):
        promotion.approve(ws, req.id, ME, "ok")
    with pytest.raises(PromotionError, match="v1 is not the candidate"):
        promotion.request_promotion(ws, "m", v1.version, ME, "ship v1")


def test_promoting_twice_is_refused(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    with pytest.raises(PromotionError, match=f"already has pending request #{req.id}"):
        promotion.request_promotion(ws, "m", v.version, ME, "again")
    promotion.approve(ws, req.id, ME, "ok")
    with pytest.raises(PromotionError, match=f"already production \\(promoted by {ME}\\)"):
        promotion.request_promotion(ws, "m", v.version, ME, "again")


def test_reject_closes_the_request(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    out = promotion.reject(ws, req.id, ME, "training data from the wrong week")
    assert out.request is not None and out.request.status == "rejected"
    assert out.request.approvals[0].decision == "reject"
    assert audit.entries(ws.store, limit=1)[0].action == "reject"
    with pytest.raises(PromotionError, match=f"already rejected by {ME}"):
        promotion.approve(ws, req.id, ME, "changed my mind")
    assert registry.aliases(ws.store, "m").get("production") is None


def test_alias_names_cannot_escape_the_serving_directory(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml({"operator": [ME]}))
    v = add_version(ws)
    for alias in ("../../etc", "a/b", ""):
        with pytest.raises(PromotionError, match="not a valid alias name"):
            promotion.request_promotion(ws, "m", v.version, ME, "x", alias=alias)
    assert not (ws.root / "etc").exists()


def test_a_reason_is_required(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    with pytest.raises(PromotionError, match="a reason is required"):
        promotion.approve(ws, req.id, ME, "  \x1b[2J ")


def test_readonly_workspace_refuses(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    from lookout.scheduler.workspace import open_workspace

    ro = open_workspace(ws.root, readonly=True)
    try:
        with pytest.raises(PromotionError, match="read-only"):
            promotion.approve(ro, req.id, ME, "ok")
    finally:
        ro.close()


# -- rollback --------------------------------------------------------------------------


def test_rollback_goes_to_the_previous_production_version(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    with pytest.raises(PromotionError, match="no model named 'm'"):
        promotion.rollback(ws, "m", ME, "oops")
    promote_new(ws)
    with pytest.raises(PromotionError, match="first production version"):
        promotion.rollback(ws, "m", ME, "oops")
    promote_new(ws, metrics={"f1": 0.81})
    promote_new(ws, metrics={"f1": 0.82})
    assert promotion.rollback_target(ws, "m") == (3, 2)
    out = promotion.rollback(ws, "m", ME, "v3 returns garbage")
    assert (out.from_version, out.to_version) == (3, 2)
    assert registry.aliases(ws.store, "m")["production"] == 2 and serving_version(ws) == 2
    last = audit.entries(ws.store, limit=1)[0]
    assert (last.action, last.reason, last.details["to_version"]) == (
        "rollback",
        "v3 returns garbage",
        2,
    )
    assert events.list_events(ws.store, kind="rollback")[0].severity == "warn"
    assert registry.transitions(ws.store, "m", "production")[0].kind == "rollback"
    assert audit.verify(ws.store).verified


def test_rollback_to_an_earlier_version(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    promote_new(ws)
    promote_new(ws)
    promote_new(ws)
    never = add_version(ws)
    with pytest.raises(PromotionError, match="v4 was never in production"):
        promotion.rollback(ws, "m", ME, "x", to_version=never.version)
    with pytest.raises(PromotionError, match="already production"):
        promotion.rollback(ws, "m", ME, "x", to_version=3)
    out = promotion.rollback(ws, "m", ME, "back to the first", to_version=1)
    assert (out.from_version, out.to_version) == (3, 1) and serving_version(ws) == 1


def test_rollback_refuses_a_tampered_artifact(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(toml())
    v1 = promote_new(ws)
    promote_new(ws)
    (ws.root / str(v1.artifact_path)).write_bytes(b"not the model")
    with pytest.raises(PromotionError, match="does not match its recorded sha256"):
        promotion.rollback(ws, "m", ME, "x")
    assert registry.aliases(ws.store, "m")["production"] == 2 and serving_version(ws) == 2


def test_rollback_can_require_approval(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(
        toml({"approver": [ME, "carol"]}, policy="rollback_requires_approval = true")
    )
    promote_new(ws)
    promote_new(ws)
    out = promotion.rollback(ws, "m", ME, "v2 is slow")
    assert out.request is not None and out.request.kind == "rollback" and out.to_version is None
    assert registry.aliases(ws.store, "m")["production"] == 2
    done = promotion.approve(ws, out.request.id, "carol", "agreed")
    assert (done.from_version, done.to_version) == (2, 1) and serving_version(ws) == 1
    assert registry.transitions(ws.store, "m", "production")[0].kind == "rollback"


def test_undo_runs_when_the_transaction_does_not_commit(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml())
    v1 = promote_new(ws)
    v2 = add_version(ws)
    with pytest.raises(RuntimeError), registry.changing(ws.store) as (conn, undos):
        registry.move_alias(conn, "m", "production", 2, kind="promotion", actor=ME)
        switch = serving.Switch(ws, "m", "production", "test")
        artifact = serving.verify_artifact(ws, v2)
        switch.prepare(serving.pointer_bytes(v2, "production", artifact, ME))
        switch.apply()
        undos.append(switch.undo)
        assert serving_version(ws) == 2
        raise RuntimeError("the commit failed")
    assert serving_version(ws) == v1.version
    assert registry.aliases(ws.store, "m")["production"] == 1


# -- reload hooks ------------------------------------------------------------------------


def test_reload_hook_is_told_about_the_promotion(
    make_workspace: Callable[..., Workspace],
) -> None:
    with hook_server("ok") as (url, received):
        ws = make_workspace(toml(model=f'reload_hook = "{url}"'))
        promote_new(ws)
        assert len(received) == 1
        body = received[0]
        assert (body["model"], body["version"], body["alias"], body["action"]) == (
            "m",
            1,
            "production",
            "promotion",
        )
        assert serving.sha256_of(Path(body["artifact"])) == body["sha256"]


def test_reload_hook_down_is_reported_and_recorded(
    make_workspace: Callable[..., Workspace],
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/reload"
    ws = make_workspace(toml(model=f'reload_hook = "{url}"\nhook_retries = 1\nhook_timeout = "1s"'))
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    out = promotion.approve(ws, req.id, ME, "ship")
    assert (
        out.ok and out.hook_error is not None and "after 2 attempt(s): unreachable" in out.message
    )
    # The change stands: store and pointer agree, and the failure is on the timeline.
    assert registry.aliases(ws.store, "m")["production"] == 1 == serving_version(ws)
    failure = events.list_events(ws.store, kind="promotion")[0]
    assert failure.severity == "error" and "reload hook failed" in failure.message


def test_reload_hook_with_a_broken_url_is_reported(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(toml(model='reload_hook = "http://[::1/reload"'))
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    out = promotion.approve(ws, req.id, ME, "ship")
    assert out.hook_error is not None and "invalid URL" in out.hook_error
    assert registry.aliases(ws.store, "m")["production"] == 1 == serving_version(ws)


def test_reload_hook_that_hangs_times_out(make_workspace: Callable[..., Workspace]) -> None:
    with hook_server("hang") as (url, received):
        ws = make_workspace(
            toml(model=f'reload_hook = "{url}"\nhook_retries = 0\nhook_timeout = "200ms"')
        )
        v = add_version(ws)
        req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
        assert req is not None
        out = promotion.approve(ws, req.id, ME, "ship")
        assert out.hook_error is not None and "no answer within 0.2s" in out.hook_error
        assert len(received) == 1
        assert registry.aliases(ws.store, "m")["production"] == 1 == serving_version(ws)


def test_reload_hook_server_error_is_retried(make_workspace: Callable[..., Workspace]) -> None:
    with hook_server("fail") as (url, received):
        ws = make_workspace(toml(model=f'reload_hook = "{url}"\nhook_retries = 1'))
        promote_new(ws)
        assert len(received) == 2
        assert "answered 503" in events.list_events(ws.store, kind="promotion")[0].message


# -- the command line --------------------------------------------------------------------


def _cli_workspace(make_workspace: Callable[..., Workspace], text: str) -> tuple[Workspace, str]:
    ws = make_workspace(text)
    return ws, str(ws.root)


def test_cli_requests_and_approve_json(make_workspace: Callable[..., Workspace], cli: Any) -> None:
    ws, root = _cli_workspace(make_workspace, toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    listed = cli("requests", "--json", "--workspace", root)
    assert listed.code == 0
    [r] = listed.json()["requests"]
    assert {
        "id",
        "model",
        "version",
        "alias",
        "status",
        "requested_by",
        "approvals",
        "gates",
    } <= set(r)
    assert (r["id"], r["status"], r["requested_by"]) == (req.id, "pending", "pipeline:train")
    assert {g["name"] for g in r["gates"]} == {"checks", "metric", "drift"}
    done = cli("approve", str(req.id), "--reason", "ok", "--json", "--workspace", root)
    assert done.code == 0, done.err
    body = done.json()
    assert body["ok"] and (body["from_version"], body["to_version"]) == (None, 1)
    assert (
        body["request"]["status"] == "approved" and body["request"]["approvals"][0]["actor"] == ME
    )
    again = cli("approve", str(req.id), "--reason", "ok", "--json", "--workspace", root)
    assert again.code == 2 and f"already approved by {ME}" in again.err
    assert again.json()["ok"] is False and "already approved" in again.json()["message"]


def test_cli_promote_and_rollback(make_workspace: Callable[..., Workspace], cli: Any) -> None:
    ws, root = _cli_workspace(make_workspace, toml(policy="four_eyes = false"))
    promote_new(ws)
    v2 = add_version(ws)
    promotion.on_version_registered(ws, "m", v2.version, "pipeline:train", request=False)
    made = cli("promote", "m", "2", "--reason", "better", "--workspace", root)
    assert made.code == 0 and "awaits 1 approval" in made.out and "✓ metric" in made.out
    rid = registry.list_requests(ws.store, status="pending")[0].id
    assert cli("approve", str(rid), "--reason", "ok", "--workspace", root).code == 0
    back = cli("rollback", "m", "--reason", "latency", "--json", "--workspace", root)
    assert back.code == 0
    assert back.json() == {
        "ok": True,
        "message": "m rolled back: production v2 → v1",
        "from_version": 2,
        "to_version": 1,
    }
    assert serving_version(ws) == 1
    bad = cli("rollback", "m", "--to", "9", "--reason", "x", "--workspace", root)
    assert bad.code == 2 and "v9 was never in production" in bad.err


def test_cli_viewer_is_refused_naming_the_role(
    make_workspace: Callable[..., Workspace], cli: Any
) -> None:
    ws, root = _cli_workspace(make_workspace, toml({"admin": ["boss"]}))
    promote_new_as = add_version(ws)
    req = promotion.on_version_registered(ws, "m", promote_new_as.version, "pipeline:train")
    assert req is not None
    for args, role in (
        (["promote", "m", "1", "--reason", "x"], "operator"),
        (["approve", str(req.id), "--reason", "x"], "approver"),
        (["reject", str(req.id), "--reason", "x"], "approver"),
        (["rollback", "m", "--reason", "x"], "operator"),
    ):
        r = cli(*args, "--workspace", root)
        assert r.code == 2, args
        assert f"needs the {role} role; {ME} is a viewer" in r.err
        assert "Traceback" not in r.err
    assert registry.get_request(ws.store.conn, req.id).status == "pending"  # type: ignore[union-attr]


def test_cli_readonly_refuses(make_workspace: Callable[..., Workspace], cli: Any) -> None:
    ws, root = _cli_workspace(make_workspace, toml())
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    r = cli("--readonly", "approve", str(req.id), "--reason", "x", "--workspace", root)
    assert r.code == 2 and "read-only" in r.err and "needs the approver role" in r.err
    assert registry.aliases(ws.store, "m").get("production") is None


def test_cli_hook_failure_exits_1(make_workspace: Callable[..., Workspace], cli: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/reload"
    ws, root = _cli_workspace(
        make_workspace, toml(model=f'reload_hook = "{url}"\nhook_retries = 0')
    )
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    r = cli("approve", str(req.id), "--reason", "ok", "--json", "--workspace", root)
    assert r.code == 1 and r.json()["ok"] and "reload hook failed" in r.json()["hook_error"]
