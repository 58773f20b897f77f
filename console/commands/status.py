"""`lookout status [--json] [--wide]`: one-shot health; exit 1 when something needs a person.

Something needs a person when a pipeline's last run failed or was interrupted, a
check fails or errs, a model has drifted (or its drift could not be computed), or no
scheduler is running while the config schedules work: nothing would happen next.
"""

from __future__ import annotations

import argparse
from typing import Any

from lookout.console.output import echo, echo_table, print_json, workspace
from lookout.scheduler import reconcile, schedules
from lookout.scheduler.connectors import CONNECTORS
from lookout.scheduler.workspace import Workspace
from lookout.storage import checks, drift, events, pipelines, registry, retention, scheduling
from lookout.storage.db import now
from lookout.storage.records import iso


def collect(ws: Workspace) -> dict[str, Any]:
    """The status object of the command-line contract, from the store and the config."""
    store, cfg = ws.store, ws.config
    t = now()
    lease = scheduling.get_lease(store)
    stored = {p.name: p for p in pipelines.list_pipelines(store)}
    names = sorted(set(cfg.pipelines) | set(stored))
    latest_runs = pipelines.latest_runs(store)
    zone = cfg.scheduler["timezone"]  # cron schedules fire in it; next runs are shown in it
    pipes = []
    for name in names:
        run = latest_runs.get(name)
        last = None
        if run is not None:
            last = {
                "id": run.id,
                "status": run.status,
                "trigger": run.trigger,
                "started_at": iso(run.started_at),
                "error": run.error,
                "stages": [
                    {"name": s.name, "status": s.status, "seconds": s.seconds} for s in run.stages
                ],
            }
        next_at = stored[name].next_run_at if name in stored else None
        pipes.append(
            {
                "name": name,
                "last_run": last,
                "next_run": iso(next_at),
                "next_run_local": schedules.shown_at(next_at, zone),
            }
        )
    model_names = sorted(set(cfg.models) | {m.name for m in registry.list_models(store)})
    pending = registry.pending_counts(store)
    models = []
    for name in model_names:
        al = registry.aliases(store, name)
        models.append(
            {
                "name": name,
                "production": al.get("production"),
                "candidate": al.get("candidate"),
                "pending_requests": pending.get(name, 0),
            }
        )
    drift_rows = [
        {"model": d.model, "level": d.level, "share": d.share, "at": iso(d.at)}
        for d in drift.latest_each(store)
    ]
    serving = [
        {
            "model": f.model,
            "alias": f.alias,
            "recorded": f.recorded,
            "pointer": f.serving,
            "problem": f.problem,
        }
        for f in reconcile.check(ws)
    ]
    return {
        "workspace": str(ws.root),
        "scheduler": {
            "alive": bool(lease and lease.alive(t)),
            "holder": lease.holder if lease else None,
            "since": iso(lease.since) if lease else None,
            "heartbeat_at": iso(lease.heartbeat_at) if lease else None,
            "timezone": zone,
            "scheduled": scheduled(ws),
        },
        "pipelines": pipes,
        "checks": checks.counts(store),
        "models": models,
        "drift": drift_rows,
        "events": {"open": events.count_open(store)},
        "store": _store(store),
        "serving": serving,
        "critical": [e.message for e in events.open_critical(store)],
    }


def _store(store: Any) -> dict[str, Any]:
    """Size on disk and the oldest row kept of each kind (what retention has left)."""
    stats = retention.store_stats(store)
    stats["oldest"] = {k: iso(v) for k, v in stats["oldest"].items()}
    return stats


def scheduled(ws: Workspace) -> list[str]:
    """The work the config schedules, one name each (the scheduler's jobs), read from the
    config alone: a connector's models are watched by their connector."""
    cfg = ws.config
    out = [f"pipeline {n}" for n, p in cfg.pipelines.items() if p["schedule"]]
    out += [f"file trigger of {n}" for n, p in cfg.pipelines.items() if p["triggers"]["files"]]
    out += [f"checks of {n}" for n, d in cfg.datasets.items() if d["check_schedule"]]
    out += [
        f"drift of {n}"
        for n, m in cfg.models.items()
        if m["source"] == "local" and m["drift"]["schedule"]
    ]
    out += [f"{c.name} sync" for c in CONNECTORS.values() if c.enabled(ws)]
    if cfg.notifications:
        out.append("webhook deliveries")
    return out


def problems(status: dict[str, Any]) -> list[str]:
    """What makes the workspace unhealthy, one phrase each."""
    out = []
    s = status["scheduler"]
    if not s["alive"] and s["scheduled"]:
        jobs = s["scheduled"]
        out.append(
            f"scheduler: not running, so nothing scheduled happens ({len(jobs)} jobs:"
            f" {', '.join(jobs[:3])}{', …' if len(jobs) > 3 else ''}); start `lookout scheduler`"
        )
    for p in status["pipelines"]:
        last = p["last_run"]
        if last and last["status"] in ("failed", "interrupted"):
            out.append(f"pipeline {p['name']}: last run {last['status']}")
    c = status["checks"]
    if c["fail"] or c["error"]:
        out.append(f"checks: {c['fail']} failing, {c['error']} erroring")
    for d in status["drift"]:
        if d["level"] in ("drift", "error"):
            found = "has drifted" if d["level"] == "drift" else "drift could not be computed"
            out.append(f"model {d['model']}: {found}")
    shown = set()
    for f in status["serving"]:
        shown.add(f["problem"])
        out.append(f"serving: {f['problem']}")
    out.extend(f"critical: {m}" for m in status["critical"] if m not in shown)
    return out


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    status = collect(ws)
    issues = problems(status)
    if args.json:
        status["healthy"] = not issues
        status["problems"] = issues
        print_json(status)
        return 1 if issues else 0
    s = status["scheduler"]
    if s["alive"]:
        echo(f"scheduler: ● alive ({s['holder']}, since {s['since']})")
    else:
        last = f", last heartbeat {s['heartbeat_at']}" if s["heartbeat_at"] else ""
        echo(f"scheduler: ○ not running{last}")
    if status["pipelines"]:
        rows = []
        for p in status["pipelines"]:
            last = p["last_run"]
            rows.append(
                [
                    p["name"],
                    f"#{last['id']} {last['status']}" if last else "never run",
                    " ".join(f"{st['name']}:{st['status']}" for st in last["stages"])
                    if last
                    else "",
                    p["next_run_local"] or "-",
                ]
            )
        echo_table(rows, ["PIPELINE", "LAST RUN", "STAGES", "NEXT RUN"], args.wide)
    else:
        echo("pipelines: none defined")
    c = status["checks"]
    echo(f"checks: {c['pass']} pass, {c['warn']} warn, {c['fail']} fail, {c['error']} error")
    if status["models"]:
        rows = [
            [
                m["name"],
                str(m["production"] or "-"),
                str(m["candidate"] or "-"),
                str(m["pending_requests"]),
            ]
            for m in status["models"]
        ]
        echo_table(rows, ["MODEL", "PRODUCTION", "CANDIDATE", "PENDING"], args.wide)
    for d in status["drift"]:
        echo(f"drift {d['model']}: {d['level']} ({d['share']:.0%} of features drifted)")
    echo(f"events: {status['events']['open']} unacknowledged")
    for p in issues:
        echo(f"✗ {p}")
    return 1 if issues else 0
