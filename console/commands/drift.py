"""`lookout drift [MODEL] [--run] [--json] [--wide]`: each model's latest drift, per feature.

Exit 1 when a model has drifted. The scheduler computes a model's drift on its
`drift.schedule`; `--run` (operator) computes it now through the one door: in this
process for a personal workspace, by the daemon for a shared one.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from lookout.console.output import (
    UsageError,
    echo,
    echo_table,
    fail,
    perform,
    print_json,
    refusal,
    wait_request,
    workspace,
)
from lookout.storage import drift, registry
from lookout.storage.records import DriftResult, FeatureDrift, iso


def _number(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def feature_json(f: FeatureDrift) -> dict[str, Any]:
    return {
        "name": f.name,
        "method": f.method,
        "score": _number(f.score),
        "threshold": _number(f.threshold),
        "level": f.level,
        "warn_threshold": _number(f.warn_threshold),
        "statistic": _number(f.statistic),
        "error": f.error,
    }


def window_json(window: dict[str, Any]) -> dict[str, Any]:
    """A stored window (or performance) with its times as ISO 8601."""
    out = dict(window)
    for key in ("from", "to", "at"):
        if isinstance(out.get(key), int | float):
            out[key] = iso(out[key])
    return out


def model_json(name: str, r: DriftResult | None) -> dict[str, Any]:
    if r is None:
        return {"name": name, "level": None, "share": None, "window": None, "features": []}
    return {
        "name": name,
        "level": r.level,
        "share": r.share,
        "window": window_json(r.window),
        "features": [feature_json(f) for f in r.features],
        "version": r.version,
        "rows": r.rows,
        "at": iso(r.at),
        "prediction": r.prediction,
        "performance": window_json(r.performance) if r.performance else {},
        "error": r.error,
    }


def _score(f: FeatureDrift) -> str:
    if f.score is None:
        return "-"
    return f"p={f.score:.3g}" if f.p_value is not None else f"{f.score:.3g}"


def _compute(args: argparse.Namespace) -> None:
    """`--run`: compute MODEL's drift now instead of waiting for its schedule."""
    if args.model is None:
        raise UsageError("drift --run: name the MODEL whose drift to compute")
    if args.readonly:
        raise UsageError("drift --run: refused in read-only mode")
    ws = workspace(args, changing=True)
    try:
        asked = perform(ws, "run_drift", model=args.model)
        if not asked.ok:
            refusal(asked, "drift --run: ")
        if "request" in asked.data:  # a shared workspace: the daemon computes it
            done = wait_request(ws, int(asked.data["request"]))
            if done.status == "failed":
                fail(f"drift --run: {done.result}", 1)
    finally:
        ws.close()


def run(args: argparse.Namespace) -> int:
    if args.run:
        _compute(args)
    ws = workspace(args, readonly=True)
    store = ws.store
    known = (
        set(ws.config.models)
        | {m.name for m in registry.list_models(store)}
        | set(drift.models_with_results(store))
    )
    if args.model is not None and args.model not in known:
        raise UsageError(f'no model named "{args.model}"')
    names = [args.model] if args.model is not None else sorted(known)
    results = {n: drift.latest(store, n) for n in names}
    unhealthy = any(r is not None and r.level == "drift" for r in results.values())
    if args.json:
        print_json({"models": [model_json(n, results[n]) for n in names]})
        return 1 if unhealthy else 0
    if not names:
        echo("no models")
    for n in names:
        r = results[n]
        if r is None:
            echo(f"{n}: no drift result yet (log inputs with `lookout log {n} FILE`)")
            continue
        version = f"v{r.version}" if r.version is not None else "no production version"
        echo(
            f"{n} ({version}): {r.level}, {r.share:.0%} of features drifted,"
            f" {r.rows} rows, at {iso(r.at)}"
        )
        if r.error:
            echo(f"  error: {r.error}", 300)
        rows = [
            [f.name, f.method, _score(f), "-" if f.score is None else f"{f.threshold:.3g}", f.level]
            for f in r.features
        ]
        if rows:
            echo_table(rows, ["FEATURE", "METHOD", "SCORE", "THRESHOLD", "LEVEL"], args.wide)
        pred = r.prediction or {}
        if pred.get("level"):
            score = "-" if pred.get("score") is None else f"{pred['score']:.3g}"
            echo(f"  prediction drift: {pred['method']} {score} ({pred['level']})")
        perf = r.performance or {}
        if perf.get("value") is not None:
            echo(
                f"  {perf['metric']}: {perf['value']:.4g} on {perf['labelled_rows']} labelled rows"
            )
    return 1 if unhealthy else 0
