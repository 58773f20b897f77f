"""Paging: PagerDuty- and Alertmanager-shaped receivers on loopback see one page per run or
check pass, never a duplicate, and the page resolves when the condition clears."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from lookout.scheduler.connectors import webhooks
from lookout.storage import checks, deliveries, events, pipelines
from lookout.storage.records import CheckResult

from tests import receivers
from tests.conftest import Received


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[receivers.PagerDuty]:
    with receivers.serving(receivers.PagerDuty) as pd:
        monkeypatch.setenv("LOOKOUT_PD_KEY", pd.routing_key)
        yield pd


@pytest.fixture
def alertmanager() -> Iterator[receivers.Alertmanager]:
    with receivers.serving(receivers.Alertmanager) as am:
        yield am


def pd_config(url: str, extra: str = "") -> str:
    return (
        '[workspace]\nname = "shop"\n[notifications.pager]\nformat = "pagerduty"\n'
        f'url = "{url}"\nrouting_key_env = "LOOKOUT_PD_KEY"\n{extra}'
    )


def am_config(url: str, extra: str = "") -> str:
    return (
        '[workspace]\nname = "shop"\n[notifications.am]\nformat = "alertmanager"\n'
        f'url = "{url}"\n{extra}'
    )


def failing(dataset: str, *names: str, result: str = "fail") -> list[CheckResult]:
    return [
        CheckResult(dataset, n, "range", "fail", result, observed="0.3", message="out of range")
        for n in names
    ]


def test_pagerduty_one_incident_per_check_pass_resolved_when_all_pass(
    make_workspace, pagerduty
) -> None:
    ws = make_workspace(pd_config(pagerduty.url))
    checks.record_results(ws.store, failing("orders", "amount", "qty", "currency"))

    assert webhooks.deliver_pending(ws, backoff=0.01) == 3
    [incident] = pagerduty.open_incidents()
    assert incident.dedup_key.startswith("lookout:shop:checks:")
    assert incident.payload["severity"] == "error"
    assert incident.payload["source"] == "lookout:shop"
    details = incident.payload["custom_details"]["events"]
    assert sorted(e["subject"] for e in details) == [
        "orders.amount",
        "orders.currency",
        "orders.qty",
    ]
    assert "3 events" in incident.payload["summary"]

    # Still failing at the next pass: no new event, nothing sent.
    checks.record_results(ws.store, failing("orders", "amount", "qty", "currency"))
    assert webhooks.deliver_pending(ws, backoff=0.01) == 0
    assert len(pagerduty.posts) == 1

    # Two recover: the incident stays open while one check still fails.
    checks.record_results(
        ws.store, failing("orders", "amount", "qty", result="pass") + failing("orders", "currency")
    )
    webhooks.deliver_pending(ws, backoff=0.01)
    assert len(pagerduty.posts) == 1 and pagerduty.open_incidents() == [incident]

    checks.record_results(ws.store, failing("orders", "currency", result="pass"))
    webhooks.deliver_pending(ws, backoff=0.01)
    assert pagerduty.posts[-1] == {
        "routing_key": pagerduty.routing_key,
        "event_action": "resolve",
        "dedup_key": incident.dedup_key,
    }
    assert pagerduty.open_incidents() == []
    assert all(d.open == 0 for d in deliveries.list_deliveries(ws.store))
    # Nothing is owed any more.
    webhooks.deliver_pending(ws, backoff=0.01)
    assert len(pagerduty.posts) == 2


def test_pagerduty_resend_after_a_crash_is_merged_not_paged_twice(
    make_workspace, pagerduty
) -> None:
    ws = make_workspace(pd_config(pagerduty.url))
    with ws.store.write() as conn:
        e = events.raise_event(conn, "drift", "churn", "churn drifted", "warn", "drift:churn")
    webhooks.deliver_pending(ws, backoff=0.01)
    [incident] = pagerduty.open_incidents()
    assert incident.dedup_key == "lookout:shop:drift:churn"  # the condition, stably

    # The sender died after the request went out but before it recorded the outcome.
    [d] = deliveries.list_deliveries(ws.store)
    with ws.store.write() as conn:
        conn.execute("UPDATE deliveries SET status = 'pending', open = 0 WHERE id = ?", (d.id,))
    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    assert len(pagerduty.posts) == 2
    assert pagerduty.opened == 1 and incident.triggers == 2  # merged by dedup key

    with ws.store.write() as conn:
        events.resolve(conn, "drift:churn")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert pagerduty.open_incidents() == []
    assert e.id == d.event_id


def test_one_run_pages_once_with_its_check_failures(make_workspace, receiver) -> None:
    got: list[Received] = []
    rec = receiver(lambda n, r: got.append(r) or 200)
    ws = make_workspace(f'[workspace]\nname = "shop"\n[notifications.ops]\nurl = "{rec.url}"\n')
    run = pipelines.create_run(ws.store, "orders_train", ["validate"], "schedule", "scheduler")
    pipelines.start_stage(ws.store, run.id, "validate")
    checks.record_results(ws.store, failing("orders", "amount", "qty", result="fail"))  # no run
    with_run = [
        CheckResult("orders", "currency", "allowed_values", "fail", "fail", run_id=run.id),
        CheckResult("orders", "sku", "not_null", "warn", "warn", run_id=run.id),
    ]
    checks.record_results(ws.store, with_run)

    # The run is still going: its failures wait (its first event is young), and with
    # them everything after, so events keep their order.
    assert webhooks.deliver_pending(ws, backoff=0.01) == 2
    assert len(got) == 1
    standalone = json.loads(got[0].body)
    assert [e["subject"] for e in standalone["events"]] == ["orders.amount", "orders.qty"]

    pipelines.finish_run(ws.store, run.id, "failed", "stage validate: blocking checks failed")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 3
    assert len(got) == 2
    body = json.loads(got[1].body)
    assert body["key"] == f"run:{run.id}"
    assert body["severity"] == "error"
    assert [e["kind"] for e in body["events"]] == ["check_failed", "check_failed", "run_failed"]
    assert body["id"] == body["events"][0]["id"]  # a single-event reader still finds an event
    assert "3 events" in body["message"]


def test_a_run_that_keeps_going_does_not_hold_its_failures_forever(
    make_workspace, receiver
) -> None:
    rec = receiver(lambda n, r: 200)
    ws = make_workspace(
        f'[workspace]\nname = "shop"\n[notifications.ops]\nurl = "{rec.url}"\ngroup_wait = "50ms"\n'
    )
    run = pipelines.create_run(ws.store, "long_train", ["train"], "manual", "alice")
    pipelines.start_stage(ws.store, run.id, "train")
    checks.record_results(
        ws.store, [CheckResult("orders", "sku", "not_null", "warn", "warn", run_id=run.id)]
    )
    with ws.store.write() as conn:  # the group's wait has run out: stored a second ago
        conn.execute("UPDATE events SET at = at - 1")
    assert webhooks.deliver_pending(ws, backoff=0.01) == 1


def test_severity_filter_per_route(make_workspace, receiver) -> None:
    pages, chat = receiver(lambda n, r: 200), receiver(lambda n, r: 200)
    ws = make_workspace(
        '[workspace]\nname = "shop"\n'
        f'[notifications.pager]\nurl = "{pages.url}"\nmin_severity = "error"\n'
        f'[notifications.chat]\nurl = "{chat.url}"\nmin_severity = "warn"\n'
    )
    events.record(ws.store, "promotion", "churn", "v3 promoted", "info")
    events.record(ws.store, "drift", "churn", "drifted", "warn")
    events.record(ws.store, "run_failed", "etl", "run 4 failed", "error")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert [json.loads(r.body)["severity"] for r in pages.requests] == ["error"]
    assert [json.loads(r.body)["severity"] for r in chat.requests] == ["warn", "error"]


def test_one_refused_message_does_not_block_the_others(make_workspace, pagerduty) -> None:
    pagerduty.refuse.add("bad.subject")
    ws = make_workspace(pd_config(pagerduty.url))
    events.record(ws.store, "check_failed", "bad.subject", "refused by the receiver", "error")
    events.record(ws.store, "run_failed", "etl", "run 9 failed", "error")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 1
    status = {d.event_id: d for d in deliveries.list_deliveries(ws.store)}
    refused, sent = status[1], status[2]
    assert (refused.status, refused.code) == ("failed", 400)
    assert "invalid event" in refused.detail
    assert sent.status == "delivered" and sent.open == 1
    assert [i.payload["component"] for i in pagerduty.open_incidents()] == ["etl"]


def test_missing_routing_key_is_recorded_not_sent(make_workspace, pagerduty, monkeypatch) -> None:
    monkeypatch.delenv("LOOKOUT_PD_KEY")
    ws = make_workspace(pd_config(pagerduty.url))
    events.record(ws.store, "run_failed", "etl", "run 9 failed", "error")
    events.record(ws.store, "drift", "churn", "drifted", "warn")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 0
    assert pagerduty.posts == []
    assert {d.detail for d in deliveries.list_deliveries(ws.store)} == {
        "routing_key_env LOOKOUT_PD_KEY is not set; not sent"
    }


def test_alertmanager_alerts_fire_are_kept_alive_and_resolve_with_ends_at(
    make_workspace, alertmanager
) -> None:
    ws = make_workspace(am_config(alertmanager.url, 'resend = "1s"\n'))
    checks.record_results(ws.store, failing("orders", "amount", "qty"))
    with ws.store.write() as conn:
        events.raise_event(conn, "drift", "churn", "churn <b>drifted</b>", "warn", "drift:churn")

    assert webhooks.deliver_pending(ws, backoff=0.01) == 3
    assert len(alertmanager.posts) == 2  # the check pass in one post, the drift in another
    t = time.time()
    firing = alertmanager.firing(t)
    assert sorted((a["alertname"], a["subject"], a["severity"]) for a in firing) == [
        ("LookoutCheckFailed", "orders.amount", "critical"),
        ("LookoutCheckFailed", "orders.qty", "critical"),
        ("LookoutDrift", "churn", "warning"),
    ]
    groups = {a["lookout_group"] for a in firing if a["kind"] == "check_failed"}
    assert len(groups) == 1 and groups.pop().startswith("checks:")
    # Firing alerts end a few resends ahead, so Alertmanager keeps them while we live.
    assert all(t + 3 < a["ends"] < t + 5 for a in alertmanager.alerts.values())

    # Nothing new, nothing resolved, resend not due: nothing is sent.
    webhooks.deliver_pending(ws, backoff=0.01)
    assert len(alertmanager.posts) == 2

    # One check recovers: its alert gets endsAt = when it resolved; its sibling stays.
    checks.record_results(ws.store, failing("orders", "amount", result="pass"))
    webhooks.deliver_pending(ws, backoff=0.01)
    assert len(alertmanager.posts) == 3
    assert sorted(a["subject"] for a in alertmanager.firing(time.time())) == [
        "churn",
        "orders.qty",
    ]
    [resolved] = [a for a in alertmanager.posts[-1] if a["labels"]["subject"] == "orders.amount"]
    [event] = [e for e in events.list_events(ws.store) if e.subject == "orders.amount"]
    assert resolved["endsAt"].startswith(
        time.strftime("%Y-%m-%dT%H:%M", time.gmtime(event.resolved_at))
    )

    # After `resend`, what still fires is sent again (Alertmanager forgets what it is not told).
    with ws.store.write() as conn:
        conn.execute("UPDATE deliveries SET at = at - 2 WHERE open = 1")
    webhooks.deliver_pending(ws, backoff=0.01)
    resent = [a["labels"]["subject"] for post in alertmanager.posts[3:] for a in post]
    assert sorted(resent) == ["churn", "orders.qty"]

    with ws.store.write() as conn:
        events.resolve(conn, "drift:churn")
        events.resolve(conn, "check:orders:qty")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert alertmanager.firing(time.time()) == []
    assert all(d.open == 0 for d in deliveries.list_deliveries(ws.store))


def test_an_event_naming_no_condition_clears_when_acknowledged(
    make_workspace, pagerduty, alertmanager
) -> None:
    ws = make_workspace(
        pd_config(pagerduty.url)
        + f'[notifications.am]\nformat = "alertmanager"\nurl = "{alertmanager.url}"\n'
    )
    e = events.record(ws.store, "rollback", "churn", "churn rolled back to v2", "warn")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert len(pagerduty.open_incidents()) == 1 and len(alertmanager.firing(time.time())) == 1

    webhooks.deliver_pending(ws, backoff=0.01)  # nothing resolves a rollback by itself
    assert len(pagerduty.open_incidents()) == 1

    events.acknowledge(ws.store, e.id, "dave", "expected: bad release")
    webhooks.deliver_pending(ws, backoff=0.01)
    assert pagerduty.open_incidents() == [] and alertmanager.firing(time.time()) == []
