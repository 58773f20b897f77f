"""Drift engine: reference profiles, and per-feature comparison of current data with them.

Two entry points other parts call:

``build_profile(frame, features, categorical=None, target=None, predictions=None) -> dict``
    A compact, JSON-serialisable profile of the reference (training) data,
    stored with each registered version. Never the raw data: per numeric
    feature a capped sorted sample (exact up to ``SKETCH_SIZE`` values, else a
    quantile sketch of ``SKETCH_SIZE`` points), decile bin edges with counts
    (open outer bins; NaN counted on its own), mean, std, null share and, for
    low-cardinality features, a table of values; per categorical feature a
    frequency table. With ``target`` the target column is profiled too, and
    with ``predictions`` (the model's own, on held-out rows) those: the
    reference for prediction drift.

``compare_profile(profile, frame, features=None, method="auto", overrides=None)
-> list[FeatureDrift]``
    One `lookout.storage.records.FeatureDrift` per feature (default: every profiled
    feature), in the order asked. `method` applies to every feature unless
    ``overrides[name]["method"]`` names another; ``overrides[name]`` may also
    set ``warn`` and ``drift`` thresholds (the shape of
    ``models.X.drift.features`` in lookout.toml). It never raises for bad
    data: a feature that cannot be compared (missing column, text where the
    reference has numbers, no values left, a bad override) comes back with
    ``level == "error"`` and ``error`` saying why, naming the feature.
    ``summarize(features, share_threshold)`` turns the list into the model's
    (level, share of drifted features).

Methods (``FeatureDrift.method``; ``score`` is compared with ``threshold``) are
the rows of `lookout.scheduler.drift_methods.METHODS`, one module each: psi,
ks, wasserstein, jensenshannon and chisquare. A method's scorer gets a
`Comparison`: the feature's profile and views of the current values (the
sorted finite values, counts over the reference's cells).

``auto`` chooses as Evidently's DataDriftPreset does: a numeric feature with
at most 1000 reference values gets ``ks`` (``chisquare`` when reference and
current together hold ≤ 5 distinct values), above that ``wasserstein``
(``jensenshannon`` when ≤ 5 distinct values); a categorical feature gets
``chisquare`` up to 1000 reference values, else ``jensenshannon``.
(Evidently uses a z-test for two-valued features; Lookout uses chi-square.)

Missing and non-finite values: KS, Wasserstein, Jensen–Shannon and
chi-square compare finite values only (like Evidently, which drops missing
values); PSI puts NaN in its own bin and ±inf in the open outer bins. Empty
strings are missing categories.

Accuracy of the sketch. When a reference has more than ``SKETCH_SIZE``
(m) finite values, the profile keeps the order statistics at ranks
⌈(i + ½)·n/m⌉, i = 0…m−1. Its empirical CDF G is then within 1/(2m) of the
reference's F everywhere, so the KS statistic against any current sample is
within 1/(2m) (0.00025 for m = 2000) of the exact one; the p-value uses the
true reference size with Smirnov's asymptotic distribution (as scipy does for
large samples). For Wasserstein, the triangle inequality bounds the error by
W1(F, G), which `build_profile` computes exactly and stores as
``sketch_w1`` (it is at most (max − min)/(2m)); the normed score's error is
at most ``sketch_w1 / max(std, 0.001)``. Up to m reference values the
sample is exact and the results equal scipy's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from lookout.scheduler.drift_methods import METHODS
from lookout.scheduler.drift_methods.base import CATEGORICAL, FeatureError
from lookout.scheduler.frame import Frame
from lookout.storage.records import FeatureDrift

PROFILE_FORMAT = 2
SKETCH_SIZE = 2000
CATEGORY_CAP = 1000  # most frequent categories kept in a profile; the rest count as "other"
VALUE_TABLE_MAX = 20  # numeric features with at most this many distinct values keep a table
AUTO_SMALL = 1000  # reference size up to which `auto` uses the statistical tests
AUTO_FEW_VALUES = 5
PARALLEL_ROWS = 200_000  # compare features on threads from this many current rows
MERGE_MAX = 4  # Wasserstein merges current values up to this many times the sample's size


# -- building a profile ---------------------------------------------------------------


def category_key(value: float) -> str:
    """How a number reads as a category: integral values without ".0"."""
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def category_counts(values: np.ndarray) -> dict[str, int]:
    """Non-missing category -> count; numbers become text with `category_key`."""
    if values.dtype.kind in "US":
        present = values[values != ""]
        keys, counts = np.unique(present, return_counts=True)
        return {str(k): int(c) for k, c in zip(keys.tolist(), counts.tolist(), strict=True)}
    x = values.astype(float)
    keys, counts = np.unique(x[np.isfinite(x)], return_counts=True)
    out: dict[str, int] = {}
    for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
        key = category_key(k)
        out[key] = out.get(key, 0) + int(c)
    return out


def sketch_ranks(n: int, m: int) -> np.ndarray:
    """0-based ranks ⌈(i + ½)·n/m⌉ − 1 of the order statistics a sketch keeps."""
    i = np.arange(m, dtype=np.int64)
    return ((2 * i + 1) * n + 2 * m - 1) // (2 * m) - 1


def _sorted_quantiles(s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """numpy.quantile's default (linear) quantiles of already sorted values, without a sort."""
    h = (len(s) - 1) * q
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def _numeric_profile(raw: np.ndarray, sketch_size: int) -> dict[str, Any]:
    x = np.asarray(raw, dtype=float)
    finite_mask = np.isfinite(x)
    if finite_mask.all():  # the usual case: skip the masks and the copy
        s, nans, neginf, posinf = np.sort(x), 0, 0, 0
    else:
        s = np.sort(x[finite_mask])
        nans = int(np.isnan(x).sum())
        neginf = int(np.isneginf(x).sum())
        posinf = len(x) - len(s) - nans - neginf
    n = len(s)
    rows = len(x)
    prof: dict[str, Any] = {
        "kind": "numeric",
        "rows": rows,
        "count": n,
        "null_share": nans / rows if rows else 0.0,
        "nan_count": nans,
        "neginf_count": neginf,
        "posinf_count": posinf,
    }
    if n == 0:
        return {**prof, "sample": [], "exact": True, "edges": [], "bin_counts": [rows - nans]}
    edges = np.unique(_sorted_quantiles(s, np.linspace(0.1, 0.9, 9)))
    bins = _bin_counts(edges, s, prof["neginf_count"], prof["posinf_count"]).astype(int)
    exact = n <= sketch_size
    sample = s if exact else s[sketch_ranks(n, sketch_size)]
    prof.update(
        mean=float(s.mean()),
        std=float(s.std()),
        min=float(s[0]),
        max=float(s[-1]),
        edges=edges.tolist(),
        bin_counts=bins.tolist(),
        exact=exact,
        sample=sample.tolist(),
        sketch_w1=0.0 if exact else wasserstein(sample, Sorted(s)),
    )
    if 1 + np.count_nonzero(s[1:] != s[:-1]) <= VALUE_TABLE_MAX:
        prof["values"] = category_counts(s)
    return prof


def _categorical_profile(raw: np.ndarray) -> dict[str, Any]:
    values = raw if raw.dtype.kind in "US" else raw.astype(float)
    counts = category_counts(values)
    rows = len(values)
    missing = rows - sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(top[:CATEGORY_CAP])
    return {
        "kind": "categorical",
        "rows": rows,
        "count": rows - missing,
        "null_share": missing / rows if rows else 0.0,
        "freq": kept,
        "other_count": sum(c for _, c in top[CATEGORY_CAP:]),
    }


def build_profile(
    frame: Frame,
    features: list[str],
    categorical: list[str] | None = None,
    target: str | None = None,
    sketch_size: int = SKETCH_SIZE,
    predictions: np.ndarray | None = None,
) -> dict[str, Any]:
    """A compact, JSON-serialisable reference profile of the training features.

    Text columns are profiled as categorical even when not listed. With
    `target`, the target column is profiled under "target" (categorical for
    text, bool and few-valued integer columns). `predictions`, the model's own
    on rows it was not fitted on, are profiled under "prediction" the way the
    target is: the reference prediction drift is measured against. (Against the
    target, a regressor's predictions differ on unchanged data: they are
    narrower than what they predict.)
    """
    cats = set(categorical or [])
    out: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "rows": frame.rows,
        "sketch_size": sketch_size,
        "features": {},
    }
    for name in features:
        col = frame[name]
        if name in cats or col.dtype.kind in "US":
            out["features"][name] = _categorical_profile(col)
        else:
            out["features"][name] = _numeric_profile(col, sketch_size)
    if target is not None and target in frame.columns:
        col = frame[target]
        kind = frame.kinds.get(target, "number")
        few = kind in ("integer", "bool") and len(np.unique(col[~np.isnan(col)])) <= 50
        categorical_target = col.dtype.kind in "US" or few
        if categorical_target:
            out["target"] = _categorical_profile(col)
        else:
            out["target"] = _numeric_profile(col, sketch_size)
        if predictions is not None and len(predictions):
            out["prediction"] = (
                _categorical_profile(predictions)
                if categorical_target
                else _numeric_profile(np.asarray(predictions, dtype=float), sketch_size)
            )
    return out


# -- sorted current data and the two distances on it ---------------------------------


class Sorted:
    """Finite current values, sorted; sums over rank ranges, taken from the mean for precision."""

    def __init__(self, values: np.ndarray):
        self.c = values
        self.n = len(values)
        self.center = float(values.mean()) if self.n else 0.0

    def prefix(self, ranks: list[np.ndarray]) -> list[np.ndarray]:
        """For each array of ranks k: Σ_{j<k} (c_j − center), in one pass over the values.

        Only the few ranks asked for are needed, so the values are summed per
        segment between them (`reduceat`) instead of a cumulative sum of all.
        """
        flat = np.concatenate([np.atleast_1d(k) for k in ranks]).astype(np.int64)
        cuts = np.unique(np.concatenate([flat, [0, self.n]]))
        seg = np.add.reduceat(self.c, cuts[:-1]) - np.diff(cuts) * self.center
        sums = np.concatenate(([0.0], np.cumsum(seg)))[np.searchsorted(cuts, flat)]
        out, at = [], 0
        for k in ranks:
            size = np.size(k)
            out.append(sums[at : at + size].reshape(np.shape(k)))
            at += size
        return out

    def integral(
        self,
        a: np.ndarray,
        b: np.ndarray,
        ka: np.ndarray,
        kb: np.ndarray,
        pa: np.ndarray,
        pb: np.ndarray,
    ) -> np.ndarray:
        """∫ₐᵇ C(x) dx for the current ECDF C, given #values ≤ a (ka), ≤ b (kb) and their prefixes."""
        return (ka * (b - a) + (kb - ka) * (b - self.center) - (pb - pa)) / self.n


def _reference_steps(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct sample values, how many sample values are ≤ each, and the sample size."""
    values, counts = np.unique(sample, return_counts=True)
    return values, np.cumsum(counts), len(sample)


def ks_statistic(sample: np.ndarray, cur: Sorted) -> float:
    """sup |G − C| between the sample's ECDF G and the current ECDF C (exact for the sample)."""
    v, num, den = _reference_steps(sample)
    at = np.searchsorted(cur.c, v, side="right") / cur.n
    before = np.searchsorted(cur.c, v, side="left") / cur.n
    g_at = num / den
    g_before = np.concatenate(([0], num[:-1])) / den
    return float(max(np.max(np.abs(g_at - at)), np.max(np.abs(g_before - before))))


def _wasserstein_merged(sample: np.ndarray, current: np.ndarray) -> float:
    """W1 of two samples over their merged values: Σ |G − C| × gap to the next value.

    After a stable sort of both, the counts of each side so far equal the ECDFs
    wherever the gap is not zero (scipy's `wasserstein_distance` does the same
    with two binary searches; the cumulative counts are cheaper).
    """
    values = np.concatenate((sample, current))
    order = np.argsort(values, kind="stable")
    from_sample = order[:-1] < len(sample)
    g = np.cumsum(from_sample) / len(sample)
    c = np.cumsum(~from_sample) / len(current)
    return float(np.sum(np.abs(g - c) * np.diff(values[order])))


def wasserstein(sample: np.ndarray, cur: Sorted) -> float:
    """W1 between the sample (equal weights) and the current values: ∫ |G − C| dx, exactly.

    Up to MERGE_MAX times the sample's size of current values (a small window,
    or the drift gate comparing two profiles) the two are merged; above that,
    summing over the sample's cells costs less.
    """
    if len(sample) and cur.n <= MERGE_MAX * len(sample):
        return _wasserstein_merged(sample, cur.c)
    return _wasserstein_cells(sample, cur)


def _wasserstein_cells(sample: np.ndarray, cur: Sorted) -> float:
    """W1 as `wasserstein`, cell by cell of the sample, for many current values.

    Between consecutive sample values G is constant, so each cell splits at
    the one point where C crosses it; sums over rank ranges give every piece.
    """
    v, num, den = _reference_steps(sample)
    c, n, mu = cur.c, cur.n, cur.center
    below_v = np.searchsorted(c, v, side="left")  # current values < each sample value
    upto_v = np.searchsorted(c, v, side="right")  # current values ≤ each sample value
    k_low, k_high = below_v[:1], upto_v[-1:]
    left, right, g_num = v[:-1], v[1:], num[:-1]
    g = g_num / den
    k_left, k_right, k_right_open = upto_v[:-1], upto_v[1:], below_v[1:]
    # the first rank k with k/n ≥ g, in integers; the crossing point of the cell
    k_star = (g_num * n + den - 1) // den
    xs = np.clip(c[np.clip(k_star - 1, 0, n - 1)], left, right)
    k_xs = np.searchsorted(c, xs, side="right")
    p_low, p_high, p_left, p_right, p_xs, p_n = cur.prefix(
        [k_low, k_high, k_left, k_right, k_xs, np.array([n])]
    )
    # below the first sample value G = 0; above the last G = 1
    low = (k_low * (v[0] - mu) - p_low) / n
    high = ((p_n - p_high) - (n - k_high) * (v[-1] - mu)) / n
    whole = cur.integral(left, right, k_left, k_right, p_left, p_right)
    width = right - left
    above = whole - g * width  # C ≥ g on the whole cell
    below = g * width - whole  # C < g on the whole cell
    first = g * (xs - left) - cur.integral(left, xs, k_left, k_xs, p_left, p_xs)
    second = cur.integral(xs, right, k_xs, k_right, p_xs, p_right) - g * (right - xs)
    cells = np.where(
        k_star <= k_left, above, np.where(k_star > k_right_open, below, first + second)
    )
    return float(low[0] + high[0] + np.sum(cells))


# -- counts over cells ------------------------------------------------------------------


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (all zero when there are none)."""
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _bin_counts(edges: np.ndarray, s: np.ndarray, neginf: int = 0, posinf: int = 0) -> np.ndarray:
    """Counts per bin (below the first edge, between edges left-closed, from the last edge)
    of sorted finite values, with -inf joining the first bin and +inf the last."""
    counts = np.diff(np.searchsorted(s, edges, side="left"), prepend=0, append=len(s))
    counts[0] += neginf
    counts[-1] += posinf
    return counts.astype(float)


def _table_pair(ref_freq: Mapping[str, int], cur_freq: Mapping[str, float], other: int):
    """Aligned count vectors over every category seen on either side."""
    keys = list(ref_freq)
    if other:
        # categories beyond the profile's cap: current values it does not list go to "other"
        cur_other = sum(c for k, c in cur_freq.items() if k not in ref_freq)
        ref = np.array([*ref_freq.values(), other], dtype=float)
        cur = np.array([*(cur_freq.get(k, 0) for k in keys), cur_other], dtype=float)
        return ref, cur
    unseen = sorted(k for k in cur_freq if k not in ref_freq)
    ref = np.array([*ref_freq.values(), *([0] * len(unseen))], dtype=float)
    cur = np.array(
        [*(cur_freq.get(k, 0) for k in keys), *(cur_freq[k] for k in unseen)], dtype=float
    )
    return ref, cur


# -- comparing one feature ------------------------------------------------------------


class Comparison:
    """One feature's reference profile and current values, in the views methods score.

    The engine builds it once it knows both sides have values. `sample()` and
    `current()` exist for numeric features only; a method's `kinds` keeps
    categorical features from asking.
    """

    def __init__(
        self,
        profile: Mapping[str, Any],
        freq: Mapping[str, float],
        raw: np.ndarray | None = None,
        current: Sorted | None = None,
    ):
        self.profile = profile
        self.freq = freq  # current count of each category (or of a few-valued feature's values)
        self._raw = raw  # numeric: the current column as floats, NaN and ±inf included
        self._current = current  # numeric: its finite values, sorted
        # how far the last distance computed may be from the exact one (sketches), or None
        self.bound: float | None = None

    def sample(self) -> np.ndarray:
        """The reference's sorted sample: exact up to its sketch size, else a quantile sketch."""
        return np.asarray(self.profile["sample"], dtype=float)

    def current(self) -> Sorted:
        """The current finite values, sorted."""
        if self._current is None:
            raise FeatureError("the method needs numbers, the feature is categorical")
        return self._current

    def current_count(self) -> int:
        """How many finite current values there are."""
        return self.current().n

    def exact_values(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(reference values, current values) when both are exact, for scipy's exact tests."""
        return (self.sample(), self.current().c) if self.profile["exact"] else None

    def ks_statistic(self) -> float:
        """sup |G − C|; `bound` is the reference sketch's rank error (0 when exact)."""
        exact = self.profile.get("exact", True)
        self.bound = 0.0 if exact else 1 / (2 * len(self.profile["sample"]))
        return ks_statistic(self.sample(), self.current())

    def wasserstein(self) -> float:
        """W1 to the current values; `bound` is the reference sketch's W1 error."""
        self.bound = float(self.profile.get("sketch_w1", 0.0))
        return wasserstein(self.sample(), self.current())

    def counts(self, nonfinite: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Reference and current counts over the same cells.

        The cells are the categories, a numeric feature's values when it has
        few, or else the reference's decile bins. Binned values count finite
        values only, unless `nonfinite`: then NaN gets a bin of its own and
        ±inf falls in the open outer bins (as PSI wants).
        """
        prof = self.profile
        if prof["kind"] == CATEGORICAL:
            return _table_pair(prof["freq"], self.freq, int(prof.get("other_count", 0)))
        if "values" in prof:  # few distinct values: compare them as categories
            return _table_pair(prof["values"], self.freq, 0)
        edges = np.asarray(prof["edges"], dtype=float)
        ref = np.asarray(prof["bin_counts"], dtype=float)
        cur = self.current()
        if nonfinite and self._raw is not None:
            x = self._raw
            infs = np.isinf(x)
            neginf = int(np.count_nonzero(infs & (x < 0))) if infs.any() else 0
            posinf = int(np.count_nonzero(infs)) - neginf
            now_ = _bin_counts(edges, cur.c, neginf, posinf)
            return np.append(ref, prof["nan_count"]), np.append(now_, np.isnan(x).sum())
        ref[0] -= prof["neginf_count"]
        ref[-1] -= prof["posinf_count"]
        return ref, _bin_counts(edges, cur.c)


def thresholds(method: str, override: Mapping[str, Any] | None) -> tuple[float, float]:
    """(warn, drift) for a method, with a feature's overrides; checks they are in order."""
    m = METHODS[method]
    warn, drift = m.warn, m.drift
    o = override or {}
    lower_is_worse = m.p_value
    if o.get("drift") is not None:
        drift = float(o["drift"])
        if o.get("warn") is None:
            warn = max(warn, drift) if lower_is_worse else min(warn, drift)
    if o.get("warn") is not None:
        warn = float(o["warn"])
    if lower_is_worse and warn < drift:
        raise FeatureError(f"warn p-value {warn:g} is below drift p-value {drift:g} ({method})")
    if not lower_is_worse and warn > drift:
        raise FeatureError(f"warn threshold {warn:g} is above drift threshold {drift:g} ({method})")
    return warn, drift


def level_of(method: str, score: float, warn: float, drift: float) -> str:
    if math.isnan(score):
        return "error"
    return METHODS[method].level(score, warn, drift)


def choose_method(prof: Mapping[str, Any], distinct_total: int) -> str:
    """Evidently's default test for a reference of this size and the joint number of values."""
    small = prof.get("count", 0) <= AUTO_SMALL
    if prof["kind"] == "categorical":
        return "chisquare" if small else "jensenshannon"
    if distinct_total <= AUTO_FEW_VALUES:
        return "chisquare" if small else "jensenshannon"
    return "ks" if small else "wasserstein"


def _current_numeric(name: str, frame: Frame) -> np.ndarray:
    col = frame[name]
    if col.dtype.kind in "US":
        raise FeatureError("holds text, the reference holds numbers")
    if frame.kinds.get(name) == "datetime":
        raise FeatureError("holds dates, the reference holds numbers")
    return col if col.dtype == np.float64 else col.astype(float)


def compare_feature(
    name: str,
    prof: Mapping[str, Any] | None,
    frame: Frame,
    method: str = "auto",
    override: Mapping[str, Any] | None = None,
) -> FeatureDrift:
    """One feature's drift; any problem becomes an `error` result naming the feature."""
    chosen = method
    try:
        if prof is None or "kind" not in prof:
            raise FeatureError("the reference profile does not describe it")
        if ("freq" if prof["kind"] == "categorical" else "sample") not in prof:
            raise FeatureError("the reference profile has an unknown format; rebuild it")
        if name not in frame.columns:
            raise FeatureError("missing from the current data")
        if override and override.get("method") not in (None, "auto"):
            chosen = str(override["method"])
        if chosen != "auto" and chosen not in METHODS:
            raise FeatureError(f'unknown method "{chosen}"')
        if chosen != "auto" and prof["kind"] not in METHODS[chosen].kinds:
            needs = "numbers" if prof["kind"] == CATEGORICAL else "categories"
            raise FeatureError(f"{chosen} needs {needs}, the feature is {prof['kind']}")
        if prof["kind"] == "categorical":
            return _compare_categorical(name, prof, frame, chosen, override)
        return _compare_numeric(name, prof, frame, chosen, override)
    except FeatureError as exc:
        return FeatureDrift(
            name=name,
            method=chosen,
            score=None,
            threshold=math.nan,
            level="error",
            error=f"{name}: {exc}",
        )


def _result(
    name: str, method: str, c: Comparison, override: Mapping[str, Any] | None
) -> FeatureDrift:
    """Score the comparison with the method and judge it against the thresholds."""
    m = METHODS[method]
    score, stat = m.score(c)
    warn, drift = thresholds(method, override)
    return FeatureDrift(
        name=name,
        method=method,
        score=score,
        threshold=drift,
        level=level_of(method, score, warn, drift),
        warn_threshold=warn,
        p_value=score if m.p_value else None,
        statistic=stat,
        bound=c.bound,
    )


def _compare_numeric(
    name: str,
    prof: Mapping[str, Any],
    frame: Frame,
    method: str,
    override: Mapping[str, Any] | None,
) -> FeatureDrift:
    if not prof.get("count"):
        raise FeatureError("the reference has no finite values")
    x = _current_numeric(name, frame)
    finite = np.isfinite(x)
    values = np.sort(x if finite.all() else x[finite])
    if not len(values):
        raise FeatureError("no finite values in the current data")
    cur_values: dict[str, int] = {}
    if "values" in prof:
        cur_values = category_counts(values)
    if method == "auto":
        distinct = len(set(prof["values"]) | set(cur_values)) if "values" in prof else math.inf
        method = choose_method(prof, int(min(distinct, 2**31)))
    return _result(name, method, Comparison(prof, cur_values, x, Sorted(values)), override)


def _compare_categorical(
    name: str,
    prof: Mapping[str, Any],
    frame: Frame,
    method: str,
    override: Mapping[str, Any] | None,
) -> FeatureDrift:
    cur_freq = category_counts(frame[name])
    if not cur_freq:
        raise FeatureError("no values in the current data")
    if not prof.get("count"):
        raise FeatureError("the reference has no values")
    if method == "auto":
        method = choose_method(prof, len(set(prof["freq"]) | set(cur_freq)))
    return _result(name, method, Comparison(prof, cur_freq), override)


def compare_profile(
    profile: Mapping[str, Any],
    frame: Frame,
    features: list[str] | None = None,
    method: str = "auto",
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[FeatureDrift]:
    """Drift of each feature of `frame` against a reference profile (see the module docstring)."""
    profiled = profile.get("features") or {}
    names = list(profiled) if features is None else list(features)
    over = overrides or {}

    def one(name: str) -> FeatureDrift:
        return compare_feature(name, profiled.get(name), frame, method, over.get(name))

    if frame.rows >= PARALLEL_ROWS and len(names) > 1:
        workers = min(len(names), os.cpu_count() or 1, 4)
        with ThreadPoolExecutor(max_workers=workers) as pool:  # NumPy sorts without the GIL
            return list(pool.map(one, names))
    return [one(n) for n in names]


def summarize(features: list[FeatureDrift], share_threshold: float = 0.5) -> tuple[str, float]:
    """The model's level and share of drifted features.

    `drift` when the share of drifted features (among those that could be
    compared) reaches `share_threshold`; otherwise `error` if any feature
    could not be compared, `warn` if any feature warns or drifts, else `ok`.
    """
    evaluated = [f for f in features if f.level != "error"]
    drifted = sum(f.level == "drift" for f in evaluated)
    share = drifted / len(evaluated) if evaluated else 0.0
    if evaluated and drifted and share >= share_threshold:
        return "drift", share
    if len(evaluated) < len(features) or not features:
        return "error", share
    if any(f.level in ("warn", "drift") for f in evaluated):
        return "warn", share
    return "ok", share


# Levels from least to most urgent, in the order `summarize` decides them.
LEVEL_RANK = {"ok": 0, "warn": 1, "error": 2, "drift": 3}


def model_level(features_level: str, prediction_level: str | None) -> str:
    """The model's level: its features' (`summarize`), raised by drift in its predictions.

    What the model predicts is the most direct sign that it meets data unlike its training
    data, whatever the features say one by one (a few features that matter can move while
    most stay put, and the share of drifted features stays low). So predictions at `drift`
    make the model `drift`, at `warn` at least `warn`. A prediction comparison that could not
    be made (`error`, or no predictions logged) leaves the level to the features.
    """
    if prediction_level not in ("warn", "drift"):
        return features_level
    return max(features_level, prediction_level, key=LEVEL_RANK.__getitem__)


def histogram(
    feature_profile: Mapping[str, Any], values: np.ndarray
) -> tuple[list[float], list[float], list[float]] | None:
    """Reference and current shares over a numeric feature's reference deciles.

    Returns (inner edges, reference shares, current shares); there is one more
    bin than edges (the outer bins are open). None for a feature without bins.
    """
    edges = np.asarray(feature_profile.get("edges") or [], dtype=float)
    ref = np.asarray(feature_profile.get("bin_counts") or [], dtype=float)
    if feature_profile.get("kind") != "numeric" or not len(edges) or len(ref) != len(edges) + 1:
        return None
    x = np.asarray(values, dtype=float)
    cur = _bin_counts(
        edges, np.sort(x[np.isfinite(x)]), int(np.isneginf(x).sum()), int(np.isposinf(x).sum())
    )
    return edges.tolist(), shares(ref).tolist(), shares(cur).tolist() if cur.sum() else []
