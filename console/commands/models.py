"""`lookout models [MODEL] [--json] [--wide]`: versions, aliases and metrics of each model."""

from __future__ import annotations

import argparse
from typing import Any

from lookout.console.output import UsageError, echo, echo_table, print_json, workspace
from lookout.scheduler.workspace import Workspace
from lookout.storage import registry
from lookout.storage.records import Version, iso

TEXT_VERSIONS = 10  # per model in the plain listing of every model


def version_json(v: Version) -> dict[str, Any]:
    return {
        "version": v.version,
        "aliases": list(v.aliases),
        "metrics": v.metrics,
        "created_at": iso(v.created_at),
        "artifact_sha256": v.artifact_sha256,
        "artifact_path": v.artifact_path,
        "run_id": v.run_id,
        "snapshot_id": v.snapshot_id,
        "tags": v.tags,
    }


def collect(ws: Workspace, only: str | None) -> list[dict[str, Any]]:
    """Models named in the config or the registry, each with its versions newest first."""
    stored = {m.name: m for m in registry.list_models(ws.store)}
    names = sorted(set(ws.config.models) | set(stored))
    if only is not None:
        if only not in names:
            raise UsageError(f"models: no model named {only!r}")
        names = [only]
    pending = registry.pending_counts(ws.store)
    out = []
    for name in names:
        cfg = ws.config.models.get(name) or {}
        m = stored.get(name)
        out.append(
            {
                "name": name,
                "source": cfg.get("source") or (m.source if m else "local"),
                "task": cfg.get("task") or (m.task if m else None),
                "primary_metric": cfg.get("primary_metric") or (m.primary_metric if m else None),
                "aliases": registry.aliases(ws.store, name),
                "pending_requests": pending.get(name, 0),
                "versions": [version_json(v) for v in registry.list_versions(ws.store, name)],
            }
        )
    return out


def _metrics(metrics: dict[str, Any], primary: str | None) -> str:
    keys = sorted(metrics, key=lambda k: (k != primary, k))
    shown = []
    for k in keys[:4]:
        v = metrics[k]
        shown.append(f"{k}={v:.4g}" if isinstance(v, int | float) else f"{k}={v}")
    return " ".join(shown)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args, readonly=True)
    models = collect(ws, args.model)
    if args.json:
        print_json({"models": models})
        return 0
    if not models:
        echo("no models defined or registered")
        return 0
    for i, m in enumerate(models):
        if i:
            echo()
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(m["aliases"].items())) or "no aliases"
        echo(
            f"{m['name']} ({m['source']}, {m['task']}, primary metric {m['primary_metric']}): {aliases}"
        )
        versions = m["versions"]
        if not versions:
            echo("  no versions registered")
            continue
        shown = versions if args.model else versions[:TEXT_VERSIONS]
        echo_table(
            [
                [
                    f"v{v['version']}",
                    ",".join(v["aliases"]),
                    _metrics(v["metrics"], m["primary_metric"]),
                    v["created_at"] or "",
                    (v["artifact_sha256"] or "-")[:12],
                ]
                for v in shown
            ],
            ["VERSION", "ALIASES", "METRICS", "CREATED", "SHA256"],
            args.wide,
        )
        if len(shown) < len(versions):
            echo(f"  … {len(versions) - len(shown)} older versions (lookout models {m['name']})")
    return 0
