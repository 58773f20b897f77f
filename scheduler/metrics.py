"""Prometheus metrics: the workspace's state as the exposition format, read from the store.

The scheduler daemon serves them on `[metrics] listen` (off unless set) and
`lookout metrics` prints them once (for node_exporter's textfile collector).
Nothing is counted in memory: every scrape reads the store, so any process
shows the same numbers and a restart loses nothing. Each family reads one
small table or one index (the latest result of each check, each model's
newest drift result, the open events), never the whole history, except the
stage-duration histogram, which aggregates finished stages in one pass over a
covering index (never the stage logs).

Cardinality is bounded by what is configured: datasets × checks × 4 results,
pipelines × stages, models × aliases, notification targets × 4 statuses,
connectors; per model at most `[metrics] max_features` features (the most
drifted first) get a `lookout_drift_feature_*` series, and
`lookout_drift_features_dropped` says how many were left out. Every label
value is passed through the sanitizer and cut to LABEL_LIMIT characters.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lookout.scheduler.config import EVENT_KINDS
from lookout.scheduler.connectors import CONNECTORS
from lookout.storage import checks, deliveries, drift, events, pipelines, registry, scheduling
from lookout.storage.db import Store, now
from lookout.storage.records import CHECK_RESULTS, DRIFT_LEVELS, EVENT_SEVERITIES, RUN_STATUSES
from lookout.storage.text import sanitize
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from lookout.scheduler.workspace import Workspace

log = logging.getLogger("lookout.metrics")
LABEL_LIMIT = 128
DELIVERY_STATUSES = ("pending", "delivered", "failed", "suppressed")
# stage durations, seconds: from a quick check to a long training stage
STAGE_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def label(value: object) -> str:
    """A label value as Prometheus gets it: sanitized, one line, bounded."""
    return sanitize("" if value is None else value, LABEL_LIMIT, single_line=True)


class WorkspaceCollector(Collector):
    """Reads one workspace's store at each scrape."""

    def __init__(self, ws: Workspace, store: Store | None = None):
        self.ws = ws
        self.store = store or ws.store
        self.max_features = int(ws.config.metrics["max_features"])

    def describe(self) -> list[Metric]:
        return []  # registering must not read the store

    def collect(self) -> Iterator[Metric]:
        t = now()
        yield from self._checks()
        yield from self._drift()
        yield from self._pipelines()
        yield from self._models()
        yield from self._events()
        yield from self._scheduler(t)
        yield from self._deliveries()
        yield from self._connectors(t)

    def _checks(self) -> Iterator[Metric]:
        result = GaugeMetricFamily(
            "lookout_check_result",
            "Latest result of each data check: 1 for the result it has, 0 for the others.",
            labels=["dataset", "check", "severity", "result"],
        )
        failing = GaugeMetricFamily(
            "lookout_check_failing_rows",
            "Rows that failed the check in its latest run.",
            labels=["dataset", "check"],
        )
        at = GaugeMetricFamily(
            "lookout_check_last_run_timestamp_seconds",
            "When each check last ran (Unix time).",
            labels=["dataset", "check"],
        )
        for r in checks.latest_results(self.store):
            names = [label(r.dataset), label(r.name)]
            for value in CHECK_RESULTS:
                result.add_metric([*names, r.severity, value], 1.0 if r.result == value else 0.0)
            failing.add_metric(names, r.failing_rows)
            if r.at is not None:
                at.add_metric(names, r.at)
        yield from (result, failing, at)

    def _drift(self) -> Iterator[Metric]:
        level = GaugeMetricFamily(
            "lookout_drift_level",
            "Latest drift level of each model: 1 for its level, 0 for the others.",
            labels=["model", "level"],
        )
        share = GaugeMetricFamily(
            "lookout_drift_share",
            "Share of the model's features that drifted in its latest drift run (0 to 1).",
            labels=["model"],
        )
        at = GaugeMetricFamily(
            "lookout_drift_last_run_timestamp_seconds",
            "When each model's drift was last computed (Unix time).",
            labels=["model"],
        )
        score = GaugeMetricFamily(
            "lookout_drift_feature_score",
            "Each feature's drift score from its method (a p-value for ks and chisquare, a"
            " distance otherwise), for the most drifted `max_features` features per model.",
            labels=["model", "feature", "method"],
        )
        strength = GaugeMetricFamily(
            "lookout_drift_feature_strength",
            "How far each feature moved on one scale for every method: 1 is its drift"
            " threshold, higher is worse.",
            labels=["model", "feature"],
        )
        dropped = GaugeMetricFamily(
            "lookout_drift_features_dropped",
            "Features left out of lookout_drift_feature_* by [metrics] max_features.",
            labels=["model"],
        )
        for d in drift.latest_each(self.store):
            model = label(d.model)
            for value in DRIFT_LEVELS:
                level.add_metric([model, value], 1.0 if d.level == value else 0.0)
            share.add_metric([model], d.share)
            at.add_metric([model], d.at)
            scored = [f for f in d.features if f.score is not None]
            scored.sort(key=lambda f: -(f.strength or 0.0))
            for f in scored[: self.max_features]:
                names = [model, label(f.name)]
                score.add_metric([*names, label(f.method)], float(f.score or 0.0))
                if f.strength is not None:
                    strength.add_metric(names, f.strength)
            dropped.add_metric([model], max(len(scored) - self.max_features, 0))
        yield from (level, share, at, score, strength, dropped)

    def _pipelines(self) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            "lookout_pipeline_last_run_status",
            "Status of each pipeline's newest run: 1 for its status, 0 for the others.",
            labels=["pipeline", "status"],
        )
        started = GaugeMetricFamily(
            "lookout_pipeline_last_run_timestamp_seconds",
            "When each pipeline's newest run was created (Unix time).",
            labels=["pipeline"],
        )
        success = GaugeMetricFamily(
            "lookout_pipeline_last_success_timestamp_seconds",
            "When each pipeline's newest successful run ended (Unix time).",
            labels=["pipeline"],
        )
        for name, run in sorted(pipelines.latest_runs(self.store).items()):
            for value in RUN_STATUSES:
                status.add_metric([label(name), value], 1.0 if run.status == value else 0.0)
            started.add_metric([label(name)], run.created_at)
        for name, ended in sorted(pipelines.last_success(self.store).items()):
            success.add_metric([label(name)], ended)
        durations = HistogramMetricFamily(
            "lookout_stage_duration_seconds",
            "How long finished stages (succeeded or failed) took.",
            labels=["pipeline", "stage"],
        )
        stages = pipelines.stage_durations(self.store, STAGE_BUCKETS)
        for (name, stage), (counts, total, n) in sorted(stages.items()):
            buckets = [(f"{b:g}", c) for b, c in zip(STAGE_BUCKETS, counts, strict=True)]
            durations.add_metric(
                [label(name), label(stage)], [*buckets, ("+Inf", n)], sum_value=total
            )
        yield from (status, started, success, durations)

    def _models(self) -> Iterator[Metric]:
        version = GaugeMetricFamily(
            "lookout_model_version",
            "The version each alias of a model (production, candidate, ...) points at.",
            labels=["model", "alias"],
        )
        for v in registry.aliased_versions(self.store):
            for alias in v.aliases:
                version.add_metric([label(v.model), label(alias)], v.version)
        pending = GaugeMetricFamily(
            "lookout_pending_approvals",
            "Promotion requests waiting for a decision.",
            labels=["model"],
        )
        for model, n in sorted(registry.pending_counts(self.store).items()):
            pending.add_metric([label(model)], n)
        yield from (version, pending)

    def _events(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "lookout_open_events",
            "Events neither acknowledged nor resolved.",
            labels=["severity", "kind"],
        )
        counts = events.open_counts(self.store)
        # every known pair, so a count that falls to zero reads 0 rather than vanishing
        pairs = {(s, k) for s in EVENT_SEVERITIES for k in EVENT_KINDS} | set(counts)
        for severity, kind in sorted(pairs):
            family.add_metric([label(severity), label(kind)], counts.get((severity, kind), 0))
        yield family

    def _scheduler(self, t: float) -> Iterator[Metric]:
        lease = scheduling.get_lease(self.store)
        up = GaugeMetricFamily(
            "lookout_scheduler_up", "1 while a scheduler holds a live lease on the workspace."
        )
        up.add_metric([], 1.0 if lease is not None and lease.alive(t) else 0.0)
        age = GaugeMetricFamily(
            "lookout_scheduler_heartbeat_age_seconds",
            "Seconds since the scheduler last renewed its lease (absent: none ever ran).",
        )
        if lease is not None:
            age.add_metric([], max(t - lease.heartbeat_at, 0.0))
        yield from (up, age)

    def _deliveries(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "lookout_webhook_deliveries",
            "Notification deliveries by target and outcome (over the deliveries kept).",
            labels=["target", "status"],
        )
        counts = deliveries.outcome_counts(self.store)
        for target in sorted(self.ws.config.notifications):
            for status in DELIVERY_STATUSES:
                family.add_metric([label(target), status], counts.get((target, status), 0))
        yield family

    def _connectors(self, t: float) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "lookout_connector_sync_age_seconds",
            "Seconds since the connector's mirror was last refreshed successfully.",
            labels=["connector"],
        )
        ok = GaugeMetricFamily(
            "lookout_connector_sync_ok",
            "1 when the connector's last sync attempt worked, 0 when it failed.",
            labels=["connector"],
        )
        for name, connector in sorted(CONNECTORS.items()):
            if not connector.enabled(self.ws):
                continue
            health = connector.health(self.store)
            seconds = health.age(t)
            if seconds is not None:
                age.add_metric([label(name)], max(seconds, 0.0))
            if health.attempted_at is not None:
                ok.add_metric([label(name)], 0.0 if health.stale else 1.0)
        yield from (age, ok)


def registry_for(ws: Workspace, store: Store | None = None) -> CollectorRegistry:
    """A registry holding only this workspace's metrics (no process or Python metrics)."""
    reg = CollectorRegistry()
    reg.register(WorkspaceCollector(ws, store))
    return reg


def render(ws: Workspace) -> bytes:
    """The exposition text, once (`lookout metrics`)."""
    return generate_latest(registry_for(ws))


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # a scrape every few seconds is not news


class _Server6(WSGIServer):
    address_family = socket.AF_INET6


class MetricsServer:
    """The daemon's listener: scrapes are answered one at a time in one thread, so they
    share that thread's store connection."""

    def __init__(self, ws: Workspace, listen: str):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        server_class = _Server6 if ":" in host else WSGIServer
        self._server = make_server(
            host,
            int(port),
            make_wsgi_app(registry_for(ws)),
            server_class=server_class,
            handler_class=_Quiet,
        )
        self.address = f"{listen.rpartition(':')[0]}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="lookout-metrics",
            daemon=True,
        )

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://%s/metrics", self.address)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(ws: Workspace) -> MetricsServer | None:
    """Start the listener `[metrics] listen` asks for; None when it is off or cannot bind
    (the scheduler keeps working without it, and says why in its log)."""
    listen = ws.config.metrics.get("listen")
    if not listen:
        return None
    try:
        return MetricsServer(ws, listen).start()
    except OSError as exc:
        log.error("metrics: cannot listen on %s: %s", listen, exc)
        return None
