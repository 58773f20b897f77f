"""The hand-off report: what happened while you were away, and what still needs a person.

`build(ws, since)` gathers, for the window from `since` to now: the runs that
failed and whether their pipeline recovered, the checks that did not pass and
whether they pass now, drift episodes, promotions, rollbacks and overrides
with who and why, and (as of now) open events, pending approvals and how
stale each connector's mirror is; plus bucketed check and drift history for
charts. `as_json` and `markdown` render it; `lookout.scheduler.report_html`
draws the HTML page. Every string from the store is sanitized here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lookout.scheduler.connectors import CONNECTORS
from lookout.storage import checks, events, history, pipelines, registry
from lookout.storage.db import now
from lookout.storage.records import iso
from lookout.storage.text import sanitize

if TYPE_CHECKING:
    from lookout.scheduler.workspace import Workspace

BUCKETS = 48  # points in each chart
TEXT = 300  # characters of a message or reason kept


def _s(text: object, limit: int = TEXT) -> str:
    return sanitize("" if text is None else text, limit, single_line=True)


@dataclass(frozen=True)
class PipelineFailures:
    pipeline: str
    failures: int
    last_run: int
    last_at: float
    last_error: str
    recovered_at: float | None  # the first success after the last failure, if any


@dataclass(frozen=True)
class CheckFailures:
    dataset: str
    check: str
    severity: str
    failures: int  # results in the window that were not a pass
    first_at: float
    last_at: float
    now: str  # its latest result as of now
    history: tuple[str, ...]  # the worst result in each bucket ("" where it did not run)


@dataclass(frozen=True)
class Change:
    at: float
    kind: str  # promotion | rollback | external | override
    model: str
    detail: str  # "v3 → v4 (production)"
    actor: str
    reason: str


@dataclass(frozen=True)
class Report:
    workspace: str
    since: float
    until: float
    runs: list[PipelineFailures]
    checks: list[CheckFailures]
    drift: list[history.Episode]
    drift_history: dict[str, list[float | None]]  # model -> share per bucket
    drift_threshold: dict[str, float]  # model -> share above which it counts as drift
    check_history: dict[str, list[tuple[int, int, int]]]  # dataset -> (pass, warn, fail) per bucket
    changes: list[Change]
    open_events: list[dict[str, Any]]
    pending: list[dict[str, Any]]
    connectors: list[dict[str, Any]]
    buckets: list[float] = field(default_factory=list)  # each bucket's start

    @property
    def unrecovered(self) -> list[PipelineFailures]:
        return [r for r in self.runs if r.recovered_at is None]


def _version(v: int | None) -> str:
    return "nothing" if v is None else f"v{v}"


_WORST = {"": 0, "pass": 1, "warn": 2, "error": 3, "fail": 4}


def build(ws: Workspace, since: float, until: float | None = None) -> Report:
    """Everything the report says, read from the store in a handful of windowed queries."""
    store = ws.store
    until = now() if until is None else until
    width = max((until - since) / BUCKETS, 1.0)
    buckets = [since + i * width for i in range(BUCKETS)]

    successes = pipelines.last_success(store)
    by_pipeline: dict[str, list[history.FailedRun]] = {}
    for run in history.failed_runs(store, since):
        by_pipeline.setdefault(run.pipeline, []).append(run)
    runs = []
    for name, failed in sorted(by_pipeline.items()):
        last = failed[-1]
        ok_at = successes.get(name)
        runs.append(
            PipelineFailures(
                _s(name, 100),
                len(failed),
                last.id,
                last.at,
                _s(last.error or last.status),
                ok_at if ok_at is not None and ok_at >= last.at else None,
            )
        )

    latest = {(r.dataset, r.name): r.result for r in checks.latest_results(store)}
    per_check: dict[tuple[str, str], list[history.CheckActivity]] = {}
    per_dataset: dict[str, list[list[int]]] = {}
    for a in history.check_activity(store, since, width, BUCKETS):
        per_check.setdefault((a.dataset, a.name), []).append(a)
        if 0 <= a.bucket < BUCKETS:
            counts = per_dataset.setdefault(a.dataset, [[0, 0, 0] for _ in range(BUCKETS)])
            column = {"pass": 0, "warn": 1}.get(a.result, 2)
            counts[a.bucket][column] += a.count
    check_rows = []
    for (dataset, name), acts in sorted(per_check.items()):
        bad = [a for a in acts if a.result != "pass"]
        if not bad:
            continue
        worst = [""] * BUCKETS
        for a in acts:
            if 0 <= a.bucket < BUCKETS and _WORST[a.result] > _WORST[worst[a.bucket]]:
                worst[a.bucket] = a.result
        check_rows.append(
            CheckFailures(
                _s(dataset, 100),
                _s(name, 100),
                bad[0].severity,
                sum(a.count for a in bad),
                min(a.first_at for a in bad),
                max(a.last_at for a in bad),
                latest.get((dataset, name), "unknown"),
                tuple(worst),
            )
        )
    check_rows.sort(key=lambda c: (c.now == "pass", -c.failures, c.dataset, c.check))

    drift_history: dict[str, list[float | None]] = {}
    for p in history.drift_series(store, since, width):
        if 0 <= p.bucket < BUCKETS:
            drift_history.setdefault(_s(p.model, 100), [None] * BUCKETS)[p.bucket] = p.share
    thresholds = {
        name: float(m["drift"]["share_threshold"]) for name, m in ws.config.models.items()
    }
    episodes = [
        history.Episode(e.id, _s(e.model, 100), e.at, e.resolved_at, _s(e.message))
        for e in history.drift_episodes(store, since)
    ]

    changes = [
        Change(
            t.at,
            t.kind,
            _s(t.model, 100),
            f"{_version(t.from_version)} → {_version(t.to_version)} ({_s(t.alias, 40)})",
            _s(t.actor, 60),
            _s(t.reason),
        )
        for t in history.transitions_since(store, since)
    ]
    changes += [
        Change(
            o.at,
            "override",
            _s(o.model, 100),
            f"request {o.request_id}: v{o.version} ({_s(o.alias, 40)}) approved despite failed gates",
            _s(o.actor, 60),
            _s(o.reason),
        )
        for o in history.overrides_since(store, since)
    ]
    changes.sort(key=lambda c: c.at)

    open_events = [
        {
            "id": e.id,
            "at": e.at,
            "severity": e.severity,
            "kind": e.kind,
            "subject": _s(e.subject, 100),
            "message": _s(e.message),
        }
        for e in events.open_events(store)
    ]
    pending = [
        {
            "id": r.id,
            "model": _s(r.model, 100),
            "version": r.version,
            "alias": _s(r.alias, 40),
            "kind": r.kind,
            "requested_by": _s(r.requested_by, 60),
            "requested_at": r.requested_at,
            "reason": _s(r.reason),
            "failed_gates": [g.name for g in r.gates if not g.passed],
        }
        for r in registry.list_requests(store, status="pending")
    ]
    connectors = []
    for name, connector in sorted(CONNECTORS.items()):
        if not connector.enabled(ws):
            continue
        health = connector.health(store)
        connectors.append(
            {
                "name": name,
                "title": connector.title,
                "last_sync": health.fetched_at,
                "age_seconds": health.age(until),
                "error": _s(health.error) if health.error else None,
            }
        )
    return Report(
        workspace=_s(ws.config.workspace["name"], 100),
        since=since,
        until=until,
        runs=runs,
        checks=check_rows,
        drift=episodes,
        drift_history=drift_history,
        drift_threshold={m: thresholds.get(m, 0.5) for m in drift_history},
        check_history={d: [tuple(c) for c in v] for d, v in sorted(per_dataset.items())},  # type: ignore[misc]
        changes=changes,
        open_events=open_events,
        pending=pending,
        connectors=connectors,
        buckets=buckets,
    )


def summary(report: Report) -> dict[str, int]:
    return {
        "failed_runs": sum(r.failures for r in report.runs),
        "pipelines_not_recovered": len(report.unrecovered),
        "checks_failed": len(report.checks),
        "checks_still_failing": sum(1 for c in report.checks if c.now != "pass"),
        "drift_episodes": len(report.drift),
        "changes": len(report.changes),
        "open_events": len(report.open_events),
        "pending_approvals": len(report.pending),
    }


def as_json(report: Report) -> dict[str, Any]:
    """The report as one JSON object (times as ISO 8601 in UTC)."""
    return {
        "workspace": report.workspace,
        "since": iso(report.since),
        "until": iso(report.until),
        "summary": summary(report),
        "runs": [
            {
                "pipeline": r.pipeline,
                "failures": r.failures,
                "last_run": r.last_run,
                "last_failed_at": iso(r.last_at),
                "last_error": r.last_error,
                "recovered": r.recovered_at is not None,
                "recovered_at": iso(r.recovered_at),
            }
            for r in report.runs
        ],
        "checks": [
            {
                "dataset": c.dataset,
                "check": c.check,
                "severity": c.severity,
                "failures": c.failures,
                "first_at": iso(c.first_at),
                "last_at": iso(c.last_at),
                "now": c.now,
                "recovered": c.now == "pass",
            }
            for c in report.checks
        ],
        "drift": [
            {
                "event": e.id,
                "model": e.model,
                "started_at": iso(e.at),
                "resolved_at": iso(e.resolved_at),
                "message": e.message,
            }
            for e in report.drift
        ],
        "changes": [
            {
                "at": iso(c.at),
                "kind": c.kind,
                "model": c.model,
                "detail": c.detail,
                "actor": c.actor,
                "reason": c.reason,
            }
            for c in report.changes
        ],
        "open_events": [{**e, "at": iso(e["at"])} for e in report.open_events],
        "pending_approvals": [
            {**p, "requested_at": iso(p["requested_at"])} for p in report.pending
        ],
        "connectors": [{**c, "last_sync": iso(c["last_sync"])} for c in report.connectors],
        "history": {
            "buckets": [iso(b) for b in report.buckets],
            "checks": {
                d: [{"pass": p, "warn": w, "fail": f} for p, w, f in v]
                for d, v in report.check_history.items()
            },
            "drift_share": report.drift_history,
        },
    }


def age(seconds: float | None) -> str:
    """A duration for people: 45s, 12m, 3h, 2d."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _md(text: str) -> str:
    """Text for a Markdown table cell: no pipes or markup characters taken as syntax."""
    out = text.replace("\\", "\\\\")
    for ch in "|*`[]<>":
        out = out.replace(ch, "\\" + ch)
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return lines


def markdown(report: Report) -> str:
    """The report as Markdown: a summary line, then one section per question."""
    s = summary(report)
    out = [
        f"# Hand-off report: {_md(report.workspace)}",
        "",
        f"From {iso(report.since)} to {iso(report.until)}.",
        "",
        f"- Failed runs: {s['failed_runs']} ({s['pipelines_not_recovered']} pipelines not"
        " recovered)",
        f"- Checks that did not pass: {s['checks_failed']} ({s['checks_still_failing']} still"
        " failing)",
        f"- Drift episodes: {s['drift_episodes']}",
        f"- Promotions, rollbacks and overrides: {s['changes']}",
        f"- Open events: {s['open_events']}; pending approvals: {s['pending_approvals']}",
        "",
        "## Failed runs",
        "",
    ]
    if report.runs:
        out += _table(
            ["pipeline", "failures", "last failure", "error", "recovered"],
            [
                [
                    r.pipeline,
                    str(r.failures),
                    f"run {r.last_run} at {iso(r.last_at)}",
                    r.last_error,
                    f"yes, {iso(r.recovered_at)}" if r.recovered_at else "NO",
                ]
                for r in report.runs
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Checks that did not pass", ""]
    if report.checks:
        out += _table(
            ["check", "severity", "results not passing", "last", "now"],
            [
                [f"{c.dataset}.{c.check}", c.severity, str(c.failures), iso(c.last_at) or "", c.now]
                for c in report.checks
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Drift episodes", ""]
    if report.drift:
        out += _table(
            ["model", "started", "over", "what"],
            [
                [e.model, iso(e.at) or "", iso(e.resolved_at) or "still drifting", e.message]
                for e in report.drift
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Promotions, rollbacks and overrides", ""]
    if report.changes:
        out += _table(
            ["at", "what", "model", "change", "who", "why"],
            [
                [iso(c.at) or "", c.kind, c.model, c.detail, c.actor, c.reason]
                for c in report.changes
            ],
        )
    else:
        out.append("None.")
    out += ["", "## Open events (as of now)", ""]
    if report.open_events:
        out += _table(
            ["id", "at", "severity", "kind", "subject", "message"],
            [
                [
                    str(e["id"]),
                    iso(e["at"]) or "",
                    e["severity"],
                    e["kind"],
                    e["subject"],
                    e["message"],
                ]
                for e in report.open_events
            ],
        )
    else:
        out.append("None: every event is acknowledged or resolved.")
    out += ["", "## Pending approvals (as of now)", ""]
    if report.pending:
        out += _table(
            ["request", "model", "version", "asked by", "why", "failed gates"],
            [
                [
                    str(p["id"]),
                    p["model"],
                    f"v{p['version']} → {p['alias']}",
                    p["requested_by"],
                    p["reason"],
                    ", ".join(p["failed_gates"]) or "none",
                ]
                for p in report.pending
            ],
        )
    else:
        out.append("None.")
    if report.connectors:
        out += ["", "## Connectors", ""]
        out += _table(
            ["connector", "last good sync", "age", "last error"],
            [
                [
                    c["title"],
                    iso(c["last_sync"]) or "never",
                    age(c["age_seconds"]),
                    c["error"] or "",
                ]
                for c in report.connectors
            ],
        )
    return "\n".join(out) + "\n"
