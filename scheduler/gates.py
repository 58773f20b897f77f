"""Promotion gates: what a candidate must show before it may replace production.

Three gates, each switched by `[policy.gates]`: the data checks on the
candidate's training snapshot, its primary metric against production's, and
the drift of its training profile against production's.

Gates that cannot be evaluated pass with a detail saying why: there is no
production version to compare with (the first promotion is a person's
decision anyway), or the candidate has no training snapshot or profile (an
externally registered model). A candidate that lacks the primary metric fails
the metric gate: it cannot show it is no worse.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from lookout.scheduler.workspace import Workspace
from lookout.storage import checks, registry
from lookout.storage.records import Gate, Version

if TYPE_CHECKING:
    import numpy as np

# Metrics where a smaller value is better; anything ending in "error" or "loss" too.
LOWER_IS_BETTER = {"rmse", "mse", "mae", "mape", "log_loss", "logloss", "brier", "brier_score"}
# A categorical training profile is compared as at most this many values, and a
# numeric one as at most this many quantiles of its sample (the KS statistic is then
# within 1/(2·GATE_POINTS) of the full sample's).
CATEGORY_ROWS = 10_000
GATE_POINTS = 500


def production_gates(ws: Workspace, candidate: Version, production: Version | None) -> list[Gate]:
    """The gates `[policy.gates]` switches on, for a candidate against production as it is."""
    switches = ws.config.policy.get("gates") or {}
    gates: list[Gate] = []
    if switches.get("checks", True):
        gates.append(_checks_gate(ws, candidate))
    if switches.get("metric", True):
        gates.append(_metric_gate(ws, candidate, production))
    if switches.get("drift", True):
        gates.append(_drift_gate(ws, candidate, production))
    return gates


def lower_is_better(metric: str) -> bool:
    m = metric.lower()
    return m in LOWER_IS_BETTER or m.endswith("error") or m.endswith("loss")


def _primary_metric(ws: Workspace, model: str) -> str:
    cfg = ws.config.models.get(model)
    if cfg and cfg.get("primary_metric"):
        return str(cfg["primary_metric"])
    stored = registry.get_model(ws.store, model)
    return stored.primary_metric if stored else ""


def _checks_gate(ws: Workspace, candidate: Version) -> Gate:
    if candidate.snapshot_id is None:
        return Gate("checks", True, "no training snapshot recorded; no data checks to consult")
    results = checks.results_for_snapshot(ws.store, candidate.snapshot_id)
    bad = [r for r in results if r.severity == "fail" and r.result in ("fail", "error")]
    if bad:
        names = ", ".join(f"{r.dataset}.{r.name} ({r.result})" for r in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return Gate(
            "checks", False, f"failing fail-severity checks on training data: {names}{more}"
        )
    return Gate(
        "checks", True, f"{len(results)} checks on snapshot {candidate.snapshot_id}, none failing"
    )


def _metric_gate(ws: Workspace, candidate: Version, production: Version | None) -> Gate:
    metric = _primary_metric(ws, candidate.model)
    if production is None:
        return Gate("metric", True, "no production version to compare with")
    if not metric:
        return Gate("metric", True, "the model names no primary metric")
    new = candidate.metrics.get(metric)
    if not isinstance(new, int | float) or not math.isfinite(new):
        return Gate("metric", False, f"candidate v{candidate.version} has no finite {metric}")
    old = production.metrics.get(metric)
    if not isinstance(old, int | float) or not math.isfinite(old):
        return Gate("metric", True, f"production v{production.version} has no {metric} to beat")
    tolerance = float(ws.config.policy.get("metric_tolerance") or 0.0)
    if lower_is_better(metric):
        passed = new <= old + tolerance
        rule = f"≤ {old:.4g} + {tolerance:g}"
    else:
        passed = new >= old - tolerance
        rule = f"≥ {old:.4g} − {tolerance:g}"
    verdict = "" if passed else "; worse than production beyond the tolerance"
    return Gate(
        "metric",
        passed,
        f"{metric} {new:.4g} vs production v{production.version} {old:.4g} (needs {rule}){verdict}",
    )


def _profile_column(prof: dict[str, Any]) -> tuple[np.ndarray, str] | None:
    """A stored feature profile turned back into data the drift engine can compare.

    Numeric: the profile's sorted sample (exact, or a quantile sketch equally
    weighted). Categorical: the kept categories repeated by their counts,
    scaled down to at most CATEGORY_ROWS values.
    """
    import numpy as np
    from lookout.scheduler.drift import sketch_ranks

    if prof.get("kind") == "numeric" and prof.get("sample"):
        sample = np.asarray(prof["sample"], dtype=float)
        if len(sample) > GATE_POINTS:
            sample = sample[sketch_ranks(len(sample), GATE_POINTS)]
        return sample, "number"
    if prof.get("kind") == "categorical" and prof.get("freq"):
        freq = {str(k): int(c) for k, c in prof["freq"].items()}
        scale = min(1.0, CATEGORY_ROWS / max(sum(freq.values()), 1))
        counts = [max(1, round(c * scale)) for c in freq.values()]
        return np.repeat(np.array(list(freq), dtype=str), counts), "string"
    return None


def _drift_gate(ws: Workspace, candidate: Version, production: Version | None) -> Gate:
    """The drift gate, computed once per candidate, production version and settings.

    Comparing two profiles costs milliseconds (about 10 for 30 numeric features);
    the pipeline's registration computes it and stores the result, so a later
    promotion from any process reuses it. Profiles are written with their
    version and never change, so the result cannot go stale.
    """
    settings = (ws.config.models.get(candidate.model) or {}).get("drift") or {}
    if production is None or production.id == candidate.id:
        return _compare_profiles(ws, candidate, production, settings)
    key = json.dumps(settings, sort_keys=True, default=str)
    gate = registry.remembered_gate(ws.store, "drift", candidate.id, production.id, key)
    if gate is None:
        gate = _compare_profiles(ws, candidate, production, settings)
        if not ws.store.readonly:
            registry.remember_gate(ws.store, candidate.id, production.id, key, gate)
    return gate


def _compare_profiles(
    ws: Workspace, candidate: Version, production: Version | None, settings: dict[str, Any]
) -> Gate:
    """The candidate's training profile against production's, through the drift engine.

    The engine (NumPy, SciPy) is imported here so approving and listing stay light.
    """
    from lookout.scheduler import drift
    from lookout.scheduler.frame import Frame

    if production is None:
        return Gate("drift", True, "no production version to compare with")
    if production.version == candidate.version:
        return Gate("drift", True, "candidate is the production version")
    cand = registry.get_profile(ws.store, candidate.model, candidate.version)
    prod = registry.get_profile(ws.store, production.model, production.version)
    if cand is None or prod is None:
        which = f"v{candidate.version}" if cand is None else f"v{production.version}"
        return Gate("drift", True, f"no stored training profile for {which}; drift not compared")
    overrides = settings.get("features") or {}
    method = str(settings.get("method", "auto"))
    prod_features = prod.get("features") or {}
    results = []
    for name, prof in sorted((cand.get("features") or {}).items()):
        try:  # a malformed stored profile skips the feature rather than the promotion
            column = _profile_column(prof) if isinstance(prof, dict) else None
        except (TypeError, ValueError, AttributeError):
            column = None
        if column is None or name not in prod_features:
            continue
        frame = Frame({name: column[0]}, {name: column[1]})
        try:
            found = drift.compare_feature(
                name, prod_features[name], frame, method, overrides.get(name)
            )
        except (KeyError, TypeError, ValueError, IndexError):
            continue  # production's stored profile of this feature is malformed
        results.append(found)
    compared = [f for f in results if f.level != "error"]
    if not compared:
        return Gate("drift", True, "the training profiles share no comparable features")
    limit = float(settings.get("share_threshold", 0.5))
    level, share = drift.summarize(compared, limit)
    drifted = [f.name for f in compared if f.level == "drift"]
    listed = f": {', '.join(drifted[:5])}" if drifted else ""
    return Gate(
        "drift",
        level != "drift",
        f"{len(drifted)} of {len(compared)} features drifted against production"
        f" v{production.version} ({share:.0%}, limit {limit:.0%}){listed}",
    )
