"""Prometheus metrics read from a real store, checked through prometheus_client's own parser."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from lookout.scheduler import metrics
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks, deliveries, drift, events, registry, scheduling
from lookout.storage.records import CheckResult, FeatureDrift
from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Series, dict[str, Any]]:
    """(value by (sample name, labels), family by name), as a Prometheus server reads it."""
    series: Series = {}
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family
        for s in family.samples:
            series[(s.name, frozenset(s.labels.items()))] = s.value
    return series, families


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def names(series: Series, name: str, label: str) -> set[str]:
    return {dict(k)[label] for (n, k) in series if n == name}


def test_the_seeded_workspace_as_prometheus_sees_it(ws: Workspace, cli) -> None:
    r = cli("metrics", "-w", str(ws.root))
    assert r.code == 0, r.err
    series, families = parse(r.out)

    # Every family has HELP text and the type its name promises.
    assert all(f.documentation for f in families.values())
    assert families["lookout_stage_duration_seconds"].type == "histogram"
    assert families["lookout_webhook_deliveries"].type == "counter"

    # Checks: one series per result value, 1 for the latest.
    latest = {(c.dataset, c.name): c for c in checks.latest_results(ws.store)}
    for (dataset, name), c in latest.items():
        for result in ("pass", "warn", "fail", "error"):
            got = value(
                series,
                "lookout_check_result",
                dataset=dataset,
                check=name,
                severity=c.severity,
                result=result,
            )
            assert got == (1.0 if c.result == result else 0.0)
    assert value(
        series, "lookout_check_failing_rows", dataset="transactions", check="amount_not_null"
    ) == float(latest[("transactions", "amount_not_null")].failing_rows)

    # Drift: the level, the share, and the features by how far they moved.
    for d in drift.latest_each(ws.store):
        assert value(series, "lookout_drift_level", model=d.model, level=d.level) == 1.0
        assert value(series, "lookout_drift_share", model=d.model) == pytest.approx(d.share)
        for f in d.features:
            assert value(
                series,
                "lookout_drift_feature_score",
                model=d.model,
                feature=f.name,
                method=f.method,
            ) == pytest.approx(f.score)

    # Pipelines: the newest run's status, and a histogram of stage durations.
    assert (
        value(series, "lookout_pipeline_last_run_status", pipeline="fraud-train", status="failed")
        == 1.0
    )
    count = value(
        series, "lookout_stage_duration_seconds_count", pipeline="churn-train", stage="train"
    )
    inf = value(
        series,
        "lookout_stage_duration_seconds_bucket",
        pipeline="churn-train",
        stage="train",
        le="+Inf",
    )
    assert count == inf >= 3

    # Models: aliases and pending approvals.
    for v in registry.aliased_versions(ws.store):
        for alias in v.aliases:
            assert value(series, "lookout_model_version", model=v.model, alias=alias) == v.version
    for model, n in registry.pending_counts(ws.store).items():
        assert value(series, "lookout_pending_approvals", model=model) == n

    # Open events by severity and kind add up to what the timeline counts.
    total = sum(v for (n, _), v in series.items() if n == "lookout_open_events")
    assert total == events.count_open(ws.store)
    assert value(series, "lookout_open_events", severity="error", kind="rollback") == 0.0

    # No scheduler runs on the seeded workspace.
    assert value(series, "lookout_scheduler_up") == 0.0


def test_heartbeat_deliveries_and_the_feature_cap(make_workspace, cli) -> None:
    ws = make_workspace(
        '[workspace]\nname = "m"\n[metrics]\nmax_features = 5\n'
        '[notifications.ops]\nurl = "http://127.0.0.1:9/hook"\n'
    )
    scheduling.acquire_lease(ws.store, "me", "host", 1, 30.0)
    features = [
        FeatureDrift(f"f{i:03d}", "psi", i / 100, 0.2, "drift" if i >= 20 else "ok")
        for i in range(200)
    ]
    with ws.store.write() as conn:
        drift.record_result(conn, "churn", 3, "drift", 0.9, 1000, {}, features)
    e = events.record(ws.store, "drift", "churn", "drifted", "warn")
    [d] = deliveries.claim(ws.store, "ops", [e.id])
    deliveries.finish(ws.store, d.id, "failed", 4, 503, "HTTP 503")

    series, _ = parse(cli("metrics", "-w", str(ws.root)).out)
    assert 0 <= value(series, "lookout_scheduler_heartbeat_age_seconds") < 5
    assert value(series, "lookout_scheduler_up") == 1.0
    # The five most drifted of 200 features, and how many were left out.
    assert names(series, "lookout_drift_feature_score", "feature") == {
        "f199",
        "f198",
        "f197",
        "f196",
        "f195",
    }
    assert value(series, "lookout_drift_features_dropped", model="churn") == 195
    assert value(series, "lookout_webhook_deliveries_total", target="ops", status="failed") == 1
    assert value(series, "lookout_webhook_deliveries_total", target="ops", status="delivered") == 0


def test_label_values_pass_through_the_sanitizer(make_workspace, cli) -> None:
    ws = make_workspace()
    nasty = 'ds\x1b]8;;http://evil\x07"quoted"\nnext\\'
    checks.record_results(ws.store, [CheckResult(nasty, "c" * 500, "range", "fail", "fail")])
    r = cli("metrics", "-w", str(ws.root))
    assert "\x1b" not in r.out and "\x07" not in r.out
    series, _ = parse(r.out)
    [labels] = [dict(k) for (n, k) in series if n == "lookout_check_failing_rows"]
    assert labels["dataset"] == 'ds"quoted" next\\'
    assert len(labels["check"]) == metrics.LABEL_LIMIT


def test_the_listener_serves_what_the_command_prints(make_workspace, cli) -> None:
    ws = make_workspace('[workspace]\nname = "m"\n[metrics]\nlisten = "127.0.0.1:0"\n')
    checks.record_results(ws.store, [CheckResult("wine", "ph", "range", "fail", "fail")])
    server = metrics.serve(ws)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://{server.address}/metrics", timeout=10) as resp:
            served = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("text/plain")
    finally:
        server.stop()
    printed = cli("metrics", "-w", str(ws.root)).out
    drop = ("lookout_scheduler_heartbeat_age_seconds",)
    same = [line for line in served.splitlines() if not line.startswith(drop)]
    assert same == [line for line in printed.splitlines() if not line.startswith(drop)]
    assert (
        'lookout_check_result{check="ph",dataset="wine",result="fail",severity="fail"} 1.0'
        in served
    )


def test_a_port_in_use_leaves_the_scheduler_without_metrics(make_workspace, caplog) -> None:
    ws = make_workspace('[workspace]\nname = "m"\n[metrics]\nlisten = "127.0.0.1:0"\n')
    first = metrics.serve(ws)
    assert first is not None
    try:
        taken = make_workspace(
            f'[workspace]\nname = "m"\n[metrics]\nlisten = "{first.address}"\n', name="other"
        )
        assert metrics.serve(taken) is None
        assert f"cannot listen on {first.address}" in caplog.text
    finally:
        first.stop()
