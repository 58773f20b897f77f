"""Outbound calls: credentials never land in the store or the log, notifications and reload
hooks are signed as Standard Webhooks sign them, one odd event blocks nothing, and retries
honour Retry-After with jitter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lookout.scheduler import calls, promotion
from lookout.scheduler.connectors import mlflow as connector
from lookout.scheduler.connectors import webhooks
from lookout.scheduler.service import Scheduler
from lookout.scheduler.workspace import Workspace
from lookout.storage import deliveries, events, scheduling

from tests.conftest import Received
from tests.test_mlflow import config as mlflow_config
from tests.test_mlflow import echo_server
from tests.test_promotion import ME, add_version, toml

SECRET = "SECRET-tok-6b1d"


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """The receiver's check, as the README gives it."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        return False
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    wanted = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(wanted, s) for s in headers["webhook-signature"].split())


def lowered(r: Received) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items()}


def everything_stored(ws: Workspace) -> bytes:
    ws.store.close()
    return b"".join(p.read_bytes() for p in ws.config.database.parent.glob("lookout.db*"))


# -- secrets ----------------------------------------------------------------------------


def test_a_token_file_with_a_line_break_is_refused_by_name_and_never_repeated(
    make_workspace: Callable[..., Workspace],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It used to reach httpx, whose error quoted the whole header into job_runs.error,
    external_state and the scheduler log."""
    token = tmp_path / "token"
    token.write_text(f"{SECRET}\nsecond-line-{SECRET}\n")
    token.chmod(0o600)
    caplog.set_level(logging.DEBUG)
    with echo_server() as (url, seen):
        ws = make_workspace(mlflow_config(url, [], f'token_file = "{token}"'))
        assert Scheduler(ws).run_once()
        report = connector.sync(ws)
    [job] = [j for j in scheduling.list_job_runs(ws.store) if j.job == "mlflow"]
    assert SECRET not in (report.error or "") and SECRET not in (job.error or "")
    assert SECRET not in caplog.text
    assert SECRET.encode() not in everything_stored(ws)  # job_runs, external_state, events
    assert seen == []  # nothing was sent
    assert report.error == (
        f"{token}: the token file holds a line break; expected one token on one line"
    )
    assert job.status == "failed" and job.error == f"RuntimeError: {report.error}"


def test_a_token_variable_that_cannot_be_a_header_is_refused_by_name(
    make_workspace: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLF_TOKEN", f"{SECRET} and more")
    with echo_server() as (url, seen):
        ws = make_workspace(mlflow_config(url, [], 'token_env = "MLF_TOKEN"'))
        report = connector.sync(ws)
    assert seen == [] and report.error == (
        "environment variable MLF_TOKEN (named in [mlflow]) holds spaces or control"
        " characters; expected one token on one line"
    )
    monkeypatch.setenv("MLF_TOKEN", "tökén")
    assert "holds characters other than ASCII" in (connector.sync(ws).error or "")


def test_an_http_error_that_quotes_a_header_is_told_by_its_kind() -> None:
    import httpx

    quoted = httpx.LocalProtocolError(f"Illegal header value b'Bearer {SECRET}\\nx'")
    assert SECRET not in calls.failure(quoted)
    assert calls.failure(httpx.ConnectError("[Errno 111] Connection refused")) == (
        "cannot connect: Connection refused"
    )
    assert SECRET not in calls.failure(RuntimeError(SECRET))


def test_a_reload_hook_url_with_a_token_is_never_shown(
    make_workspace: Callable[..., Workspace],
) -> None:
    url = f"http://svc:{SECRET}@127.0.0.1:9/reload?token={SECRET}"
    ws = make_workspace(toml(model=f'reload_hook = "{url}"\nhook_retries = 1'))
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    out = promotion.approve(ws, req.id, ME, "ship")
    assert SECRET not in out.message
    assert SECRET.encode() not in everything_stored(ws)
    assert out.hook_error is not None and "unreachable (cannot connect" in out.hook_error


# -- signatures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", ["plain-shared-secret", "whsec_" + base64.b64encode(b"k" * 32).decode()]
)
def test_notifications_carry_standard_webhooks_signatures(
    make_workspace: Callable[..., Workspace],
    receiver: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", secret)
    rec = receiver(lambda n, r: 503 if n == 1 else 200)
    ws = make_workspace(
        '[workspace]\nname = "t"\n[notifications.ops]\n'
        f'url = "{rec.url}"\nsecret_env = "HOOK_SECRET"\nretries = 2\n'
    )
    events.record(ws.store, "run_failed", "wine", "run 7 failed", severity="error")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    first, second = (lowered(r) for r in rec.requests)
    body = rec.requests[1].body
    assert verify(secret, second, body) and verify(secret, first, body)
    assert first["webhook-id"] == second["webhook-id"]  # a retry is the same message
    assert "." not in first["webhook-id"]
    # a captured request does not verify once outside the receiver's tolerance
    late = {**second, "webhook-timestamp": str(int(second["webhook-timestamp"]) - 600)}
    assert not verify(secret, late, body)
    forged = {**second, "webhook-id": "lookout_999"}
    assert not verify(secret, forged, body)
    # the old header, for one more release: the body alone
    key = calls.hmac_key(secret)
    assert second["x-lookout-signature"] == (
        "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    )


def test_signatures_match_the_standards_own_test_vector() -> None:
    """The vector the Standard Webhooks libraries test their `sign` with."""
    got = calls.signed(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        at=1614265330,
    )
    assert got == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_the_reload_hook_post_is_signed(
    make_workspace: Callable[..., Workspace],
    receiver: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = receiver(lambda n, r: 200)
    model = f'reload_hook = "{rec.url}"\nhook_secret_env = "RELOAD_SECRET"'
    ws = make_workspace(toml(model=model))
    monkeypatch.setenv("RELOAD_SECRET", "reload-secret")
    v = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v.version, "pipeline:train")
    assert req is not None
    assert promotion.approve(ws, req.id, ME, "ship").hook_error is None
    [got] = rec.requests
    assert verify("reload-secret", lowered(got), got.body)
    assert lowered(got)["webhook-id"].startswith("reload_")

    monkeypatch.delenv("RELOAD_SECRET")
    v2 = add_version(ws)
    req = promotion.on_version_registered(ws, "m", v2.version, "pipeline:train")
    assert req is not None
    out = promotion.approve(ws, req.id, ME, "ship")
    assert out.hook_error is not None and "RELOAD_SECRET is not set; not called" in out.hook_error
    assert len(rec.requests) == 1  # never sent unsigned


# -- one odd event blocks nothing ----------------------------------------------------------


def test_a_non_ascii_event_kind_is_sent_and_blocks_no_later_event(
    make_workspace: Callable[..., Workspace], receiver: Callable[..., Any]
) -> None:
    """An event kind written through the Python API reaches a header; httpx refused it with
    UnicodeEncodeError, which ended every pass before any later event went out."""
    rec = receiver(lambda n, r: 200)
    ws = make_workspace(f'[workspace]\nname = "t"\n[notifications.ops]\nurl = "{rec.url}"\n')
    odd = events.record(ws.store, "dérive\n\x1b[2J", "wine", "odd kind")
    plain = events.record(ws.store, "run_failed", "wine", "run 8 failed", severity="error")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 2
    state = {d.event_id: d.status for d in deliveries.list_deliveries(ws.store)}
    assert state == {odd.id: "delivered", plain.id: "delivered"}
    kinds = [lowered(r)["x-lookout-event"] for r in rec.requests]
    assert kinds == ["d%C3%A9rive", "run_failed"] and all(k.isascii() for k in kinds)


# -- retries --------------------------------------------------------------------------------


def test_retries_wait_what_retry_after_asks(
    make_workspace: Callable[..., Workspace], receiver: Callable[..., Any]
) -> None:
    stamps: list[float] = []

    def answer(n: int, r: Received) -> tuple[int, dict[str, str]]:
        stamps.append(time.monotonic())
        return (429, {"Retry-After": "1"}) if n == 1 else (200, {})

    rec = receiver(answer)
    ws = make_workspace(f'[workspace]\nname = "t"\n[notifications.ops]\nurl = "{rec.url}"\n')
    events.record(ws.store, "drift", "wine", "drift on 3 of 5 features")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    assert len(rec.requests) == 2 and stamps[1] - stamps[0] >= 0.95


def test_a_retry_after_longer_than_a_pass_ends_the_pass_for_that_target(
    make_workspace: Callable[..., Workspace], receiver: Callable[..., Any]
) -> None:
    rec = receiver(lambda n, r: (503, {"Retry-After": "3600"}))
    ws = make_workspace(
        f'[workspace]\nname = "t"\n[notifications.ops]\nurl = "{rec.url}"\nretries = 5\n'
    )
    first = events.record(ws.store, "drift", "wine", "drift on 3 of 5 features")
    second = events.record(ws.store, "drift", "beer", "drift on 1 of 5 features")
    started = time.monotonic()
    assert webhooks.deliver_pending(ws, backoff=0.01) == 0
    assert time.monotonic() - started < 5 and len(rec.requests) == 1
    state = {d.event_id: (d.status, d.attempts) for d in deliveries.list_deliveries(ws.store)}
    assert state == {first.id: ("failed", 1), second.id: ("pending", 0)}


def test_backoff_has_jitter_and_a_cap() -> None:
    waits = [calls.delay(3, 0.5) for _ in range(200)]
    assert all(2.0 <= w <= 4.0 for w in waits) and len(set(waits)) > 100
    assert all(calls.delay(20, 0.5, cap=30) <= 30 for _ in range(50))
    assert calls.delay(0, 0.5, after=7.0) == 7.0
    assert calls.retry_after("120") == 120.0
    assert calls.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at=1445412480.0 - 60) == 60.0
    assert calls.retry_after("soon") is None and calls.retry_after(None) is None


def test_a_connector_that_fails_unexpectedly_is_named_by_kind_in_a_promotion(
    make_workspace: Callable[..., Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector's own refusals keep their words; anything else it raises (an HTTP
    client's error can quote the header it was sending) is named by kind, in the promotion's
    error and in whatever the store keeps of it."""
    import httpx
    from lookout.scheduler.connectors.mlflow import MlflowConnector, MlflowError
    from lookout.storage import registry

    from tests.test_mlflow import config as mlflow_models

    told = "MLflow at http://mlflow:5000: RESOURCE_DOES_NOT_EXIST"
    assert calls.failure(MlflowError(told)) == told
    assert calls.failure(KeyError(SECRET)) == "the request failed (KeyError)"

    def leaky(*args: Any) -> None:
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {SECRET}\\nx'")

    monkeypatch.setattr(MlflowConnector, "set_alias", staticmethod(leaky))
    ws = make_workspace(mlflow_models("http://127.0.0.1:9", ["m"]))
    registry.ensure_model(ws.store, "m", "classification", "f1", "mlflow")
    registry.register_version(ws.store, "m", metrics={"f1": 0.9})
    with ws.store.write() as conn:
        registry.move_alias(conn, "m", "candidate", 1, kind="promotion", actor="t")
    asked = promotion.request_promotion(ws, "m", 1, "alice", "first production")
    assert asked.request is not None
    with pytest.raises(promotion.PromotionError) as refused:
        promotion.approve(ws, asked.request.id, "bob", "ship it", override=True)
    assert SECRET not in str(refused.value)
    assert "could not be sent as HTTP" in str(refused.value)
    assert SECRET.encode() not in everything_stored(ws)
