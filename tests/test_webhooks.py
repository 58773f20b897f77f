"""Webhook notifications against real HTTP receivers on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json

from lookout.scheduler.connectors import webhooks
from lookout.scheduler.formats import FORMATS, Message
from lookout.scheduler.workspace import Workspace
from lookout.storage import audit, deliveries, events

from tests.conftest import Received


def config(url: str, **extra: str) -> str:
    lines = [f'url = "{url}"'] + [f"{k} = {v}" for k, v in extra.items()]
    return '[workspace]\nname = "wstest"\n[notifications.ops]\n' + "\n".join(lines) + "\n"


def ok(n: int, r: Received) -> int:
    return 200


def test_flaky_receiver_gets_the_event_on_the_third_attempt(make_workspace, receiver) -> None:
    rec = receiver(lambda n, r: 503 if n <= 2 else 200)
    ws: Workspace = make_workspace(config(rec.url, retries="3"))
    event = events.record(ws.store, "run_failed", "wine", "run 7 failed", severity="error")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 1

    [d] = deliveries.list_deliveries(ws.store, target="ops")
    assert (d.event_id, d.status, d.attempts, d.code) == (event.id, "delivered", 3, 200)
    assert len(rec.requests) == 3
    assert len({r.body for r in rec.requests}) == 1  # the same payload each time
    body = json.loads(rec.requests[-1].body)
    assert body["kind"] == "run_failed"
    assert body["subject"] == "wine"
    assert body["message"] == "run 7 failed"
    assert body["severity"] == "error"
    assert body["workspace"] == "wstest"
    assert body["id"] == event.id
    assert rec.requests[-1].headers["Content-Type"] == "application/json"
    # Nothing is sent twice.
    assert webhooks.deliver_pending(ws, backoff=0.01) == 0
    assert len(rec.requests) == 3


def test_receiver_that_keeps_failing_is_recorded_as_failed(make_workspace, receiver) -> None:
    rec = receiver(lambda n, r: 500)
    ws = make_workspace(config(rec.url, retries="1"))
    events.record(ws.store, "drift", "wine", "drift on 3 of 5 features")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 0

    [d] = deliveries.list_deliveries(ws.store)
    assert (d.status, d.attempts, d.code) == ("failed", 2, 500)
    assert d.detail.startswith("HTTP 500")


def test_hanging_receiver_times_out_and_holds_up_one_event_per_pass(
    make_workspace, receiver
) -> None:
    rec = receiver(lambda n, r: 0 if n <= 2 else 200)
    ws = make_workspace(config(rec.url, timeout='"200ms"', retries="1"))
    first = events.record(ws.store, "promotion", "wine", "v2 is now production")
    second = events.record(ws.store, "rollback", "wine", "back to v1")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 0

    status = {d.event_id: d for d in deliveries.list_deliveries(ws.store)}
    failed = status[first.id]
    assert (failed.status, failed.attempts, failed.code, failed.detail) == (
        "failed",
        2,
        None,
        "timed out",
    )
    assert status[second.id].status == "pending"  # not tried against a receiver that hangs
    assert len(rec.requests) == 2

    # The receiver is back: the held event goes out on the next pass.
    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    assert deliveries.list_deliveries(ws.store, event_id=second.id)[0].status == "delivered"


def test_client_errors_are_not_retried(make_workspace, receiver) -> None:
    rec = receiver(lambda n, r: 404)
    ws = make_workspace(config(rec.url, retries="3"))
    events.record(ws.store, "rollback", "wine", "rolled back to v1")

    webhooks.deliver_pending(ws, backoff=0.01)

    [d] = deliveries.list_deliveries(ws.store)
    assert (d.status, d.attempts, d.code) == ("failed", 1, 404)


def test_signed_payload_verifies_with_the_shared_secret(
    make_workspace, receiver, monkeypatch
) -> None:
    secret = "s3cret-for-tests"
    monkeypatch.setenv("LOOKOUT_HOOK_SECRET", secret)

    def check(n: int, r: Received) -> int:
        expected = "sha256=" + hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
        given = r.headers.get(webhooks.SIGNATURE_HEADER, "")
        return 200 if hmac.compare_digest(given, expected) else 401

    rec = receiver(check)
    ws = make_workspace(config(rec.url, secret_env='"LOOKOUT_HOOK_SECRET"'))
    events.record(ws.store, "check_failed", "wine.ph_range", "check failed")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    assert deliveries.list_deliveries(ws.store)[0].status == "delivered"
    assert secret.encode() not in rec.requests[0].body

    # A receiver holding a different secret refuses it, and the refusal is recorded.
    monkeypatch.setenv("LOOKOUT_HOOK_SECRET", "another secret")
    events.record(ws.store, "check_failed", "wine.alcohol_range", "check failed")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 0
    newest = deliveries.list_deliveries(ws.store)[0]
    assert (newest.status, newest.code, newest.attempts) == ("failed", 401, 1)


def test_missing_secret_is_not_sent_unsigned(make_workspace, receiver, monkeypatch) -> None:
    monkeypatch.delenv("LOOKOUT_UNSET_SECRET", raising=False)
    rec = receiver(ok)
    ws = make_workspace(config(rec.url, secret_env='"LOOKOUT_UNSET_SECRET"'))
    events.record(ws.store, "drift", "wine", "drift")

    webhooks.deliver_pending(ws, backoff=0.01)

    [d] = deliveries.list_deliveries(ws.store)
    assert d.status == "failed"
    assert "LOOKOUT_UNSET_SECRET is not set" in d.detail
    assert rec.requests == []


def test_same_kind_and_subject_within_the_window_is_suppressed(make_workspace, receiver) -> None:
    rec = receiver(ok)
    ws = make_workspace(config(rec.url, dedup='"10m"'))
    first = events.record(ws.store, "drift", "wine", "drift on 3 features")
    again = events.record(ws.store, "drift", "wine", "drift on 4 features")
    other = events.record(ws.store, "drift", "iris", "drift on 1 feature")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 2

    status = {d.event_id: d.status for d in deliveries.list_deliveries(ws.store)}
    assert status == {first.id: "delivered", again.id: "suppressed", other.id: "delivered"}
    assert [json.loads(r.body)["id"] for r in rec.requests] == [first.id, other.id]
    assert deliveries.list_deliveries(ws.store, status="suppressed")[0].attempts == 0


def test_only_the_listed_event_kinds_are_sent(make_workspace, receiver) -> None:
    rec = receiver(ok)
    ws = make_workspace(config(rec.url, events='["promotion", "rollback"]'))
    events.record(ws.store, "drift", "wine", "drift")
    wanted = events.record(ws.store, "rollback", "wine", "rolled back")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    assert [d.event_id for d in deliveries.list_deliveries(ws.store)] == [wanted.id]


def test_slack_payload_escapes_untrusted_text(make_workspace, receiver) -> None:
    rec = receiver(ok)
    ws = make_workspace(config(rec.url, format='"slack"'))
    events.record(ws.store, "run_failed", "wine<!channel>", "boom \x1b[31mred\x1b[0m <http://x|y>")

    webhooks.deliver_pending(ws, backoff=0.01)

    body = json.loads(rec.requests[0].body)
    assert set(body) == {"text"}
    text = body["text"]
    assert "\x1b" not in text
    assert "<" not in text and ">" not in text
    assert "wine&lt;!channel&gt;" in text
    assert "run_failed" in text and "boom red" in text


def test_every_payload_carries_the_signed_audit_head(make_workspace, receiver) -> None:
    """Receivers keep the head outside the workspace: a record cut back below it shows."""
    rec = receiver(ok)
    ws = make_workspace(config(rec.url))
    events.record(ws.store, "drift", "wine", "before anything was audited")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert json.loads(rec.requests[-1].body)["audit_head"] is None

    with ws.store.write() as conn:
        audit.append(conn, "alice", "promote", "wine:2", "better f1")
    events.record(ws.store, "promotion", "wine", "v2 is production")
    webhooks.deliver_pending(ws, backoff=0.01)

    head = audit.head(ws.store)
    assert head is not None and head.seq == 2  # the key entry, then the promotion
    assert json.loads(rec.requests[-1].body)["audit_head"] == {
        "seq": head.seq,
        "hash": head.hash,
        "signature": head.signature,
        "key": head.key,
    }
    message = Message("k", (events.list_events(ws.store)[0],), "wstest", 0.0, audit_head=head)
    slack = FORMATS["slack"].body(message, {})
    assert f"audit head 2 {head.hash[:16]}" in json.loads(slack)["text"]


def test_unreachable_receiver_is_recorded(make_workspace) -> None:
    ws = make_workspace(config("http://127.0.0.1:9/hook", retries="1"))
    events.record(ws.store, "drift", "wine", "drift")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 0

    [d] = deliveries.list_deliveries(ws.store)
    assert (d.status, d.attempts, d.code) == ("failed", 2, None)
    assert d.detail.startswith("cannot connect")


def test_a_delivery_interrupted_mid_way_is_sent_on_the_next_pass(make_workspace, receiver) -> None:
    rec = receiver(ok)
    ws = make_workspace(config(rec.url))
    event = events.record(ws.store, "interrupted", "wine", "run 3 interrupted")
    [claimed] = deliveries.claim(ws.store, "ops", [event.id])  # as if the sender stopped here

    assert webhooks.deliver_pending(ws, backoff=0.01) == 1

    [d] = deliveries.list_deliveries(ws.store)
    assert (d.id, d.status) == (claimed.id, "delivered")
    assert len(rec.requests) == 1


def test_a_new_target_does_not_get_old_history(make_workspace, receiver) -> None:
    rec = receiver(ok)
    ws = make_workspace(config(rec.url))
    with ws.store.write() as conn:
        events.raise_event(conn, "drift", "wine", "long ago", at=1.0)
    recent = events.record(ws.store, "drift", "iris", "just now")

    webhooks.deliver_pending(ws, backoff=0.01)

    assert [d.event_id for d in deliveries.list_deliveries(ws.store)] == [recent.id]
