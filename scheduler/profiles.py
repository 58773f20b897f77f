"""Mergeable batch profiles: each logged batch summarised once, windows compared from summaries.

When a batch is logged (`lookout.scheduler.batches.log_batch`), `batch_profile`
summarises every column: per numeric column the row, finite, NaN and ±inf
counts, mean and sum of squared deviations, min and max, a quantile sketch, the
counts over the reference's decile edges and, for columns with at most
``CATEGORY_CAP`` distinct values, their table of counts; per text column its
frequency table (the ``CATEGORY_CAP`` most frequent, the rest as
``other_count``). A drift window of any number of rows is then the merge of
its batches' profiles (`Window`), so its cost grows with the number of
batches, never with their rows.

The quantile sketch and its bound. A batch with n > m finite values
(m = ``SKETCH_POINTS``, 1000) keeps its order statistics at ranks ⌈(i + ½)·n/m⌉,
i = 0…m−1, each standing for n/m values; with n ≤ m it keeps them all
(exact). The sketch's CDF G_b is within ε_b = 1/(2m) of the batch's CDF F_b
everywhere (0 when exact), and its Wasserstein-1 distance to the batch is at
most w_b = (max − min)/(2m). A window merges by weighting each batch's points
by its share of the window: G = Σ w·G_b is within Σ (n_b/N)·ε_b ≤ 1/(2m) of
the window's CDF — merging never adds error — and W1(F, G) ≤ Σ (n_b/N)·w_b
(W1 is jointly convex). So against a reference sketch with its own ε_r and
W1 bound w_r:

- ks: the statistic D is within ε_r + ε of the exact D (`FeatureDrift.bound`);
  the p-value uses the true counts, as for a large exact sample.
- wasserstein: the distance is within w_r + Σ (n_b/N)·w_b of the exact one;
  the normed score's bound divides by the reference std like the score.
- psi, jensenshannon, chisquare on categories or few-valued features: exact
  (the tables are exact counts; a batch with more than ``CATEGORY_CAP``
  distinct values contributes its sketch's counts instead).
- psi, jensenshannon, chisquare on decile bins: exact when the batches were
  logged against the same reference (their counts on its edges are stored);
  otherwise each bin's count comes from the sketch, within 2ε·n of the truth.

When every batch of the window is exact and so is the reference, every
method's result equals the raw-rows computation (and scipy's).
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from lookout.scheduler.drift import (
    CATEGORY_CAP,
    Comparison,
    Sorted,
    _result,
    _table_pair,
    category_counts,
    category_key,
    choose_method,
    ks_statistic,
    wasserstein,
)
from lookout.scheduler.drift_methods import METHODS
from lookout.scheduler.drift_methods.base import CATEGORICAL, FeatureError
from lookout.storage.records import FeatureDrift

PROFILE_FORMAT = 1
SKETCH_POINTS = 1000  # ε = 1/2000 per batch
PARALLEL_BATCHES = 20  # compare features on threads from this many batches in a window


# -- one batch ------------------------------------------------------------------------


def _sketch(s: np.ndarray, m: int) -> array:
    """The order statistics at ranks ⌈(i + ½)·n/m⌉ of sorted values (all of them when n ≤ m),
    as array('d'): how stored profiles pack samples (`lookout.storage.registry`)."""
    from lookout.scheduler.drift import sketch_ranks

    kept = s if len(s) <= m else s[sketch_ranks(len(s), m)]
    out = array("d")
    out.frombytes(np.ascontiguousarray(kept, dtype="<f8").tobytes())
    return out


class Scratch:
    """Work arrays one thread reuses from column to column of a batch (`batch_profile`).

    A sorted copy and its deviations are as large as the column; allocated per
    column they are fresh pages each time (glibc gives them back to the system
    when freed), which cost more than computing the mean and sum of squares.
    """

    def __init__(self) -> None:
        self._floats = [np.empty(0), np.empty(0)]
        self._flags = np.empty(0, dtype=bool)

    def floats(self, which: int, n: int) -> np.ndarray:
        if len(self._floats[which]) < n:
            self._floats[which] = np.empty(n)
        return self._floats[which][:n]

    def flags(self, n: int) -> np.ndarray:
        if len(self._flags) < n:
            self._flags = np.empty(n, dtype=bool)
        return self._flags[:n]


def numeric_profile(
    raw: np.ndarray,
    edges: np.ndarray | None = None,
    m: int = SKETCH_POINTS,
    scratch: Scratch | None = None,
) -> dict[str, Any]:
    """One numeric column of a batch (see the module docstring); `edges`: the reference's.
    Nothing returned refers to `scratch`, which the next column may reuse."""
    scratch = scratch or Scratch()
    x = np.asarray(raw, dtype=float)
    finite = np.isfinite(x, out=scratch.flags(len(x)))
    whole = bool(finite.all())
    if whole:
        s = scratch.floats(0, len(x))
        np.copyto(s, x)
    else:
        s = np.compress(finite, x, out=scratch.floats(0, int(np.count_nonzero(finite))))
    s.sort()
    nans = 0 if whole else int(np.isnan(x).sum())
    neginf = 0 if whole else int(np.isneginf(x).sum())
    n = len(s)
    prof: dict[str, Any] = {
        "kind": "numeric",
        "rows": len(x),
        "count": n,
        "nan_count": nans,
        "neginf_count": neginf,
        "posinf_count": len(x) - n - nans - neginf,
    }
    if n == 0:
        return {**prof, "sample": array("d"), "exact": True, "sketch_w1": 0.0}
    mean = float(s.mean())
    exact = n <= m
    spread = np.subtract(s, mean, out=scratch.floats(1, n))
    prof.update(
        mean=mean,
        # not np.dot: OpenBLAS's threads wake for it and spin beside the profiling threads
        m2=float(np.square(spread, out=spread).sum()),
        min=float(s[0]),
        max=float(s[-1]),
        exact=exact,
        sample=_sketch(s, m),
        sketch_w1=0.0 if exact else (float(s[-1]) - float(s[0])) / (2 * m),
    )
    steps = np.not_equal(s[1:], s[:-1], out=scratch.flags(n)[1:])
    if np.count_nonzero(steps) < CATEGORY_CAP:  # the runs of the sorted values are the table
        starts = np.flatnonzero(np.concatenate(([True], steps)))
        counts = np.diff(np.append(starts, n))
        table: dict[str, int] = {}
        for value, count in zip(s[starts].tolist(), counts.tolist(), strict=True):
            key = category_key(value)
            table[key] = table.get(key, 0) + count
        prof["values"] = table
    if edges is not None and len(edges):
        prof["edges"] = [float(e) for e in edges]
        prof["bin_counts"] = np.diff(
            np.searchsorted(s, edges, side="left"), prepend=0, append=n
        ).tolist()
    return prof


def categorical_profile(raw: np.ndarray) -> dict[str, Any]:
    """One text (or categorical) column of a batch: its capped frequency table."""
    counts = category_counts(raw if raw.dtype.kind in "US" else raw.astype(float))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "kind": CATEGORICAL,
        "rows": len(raw),
        "count": sum(counts.values()),
        "freq": dict(top[:CATEGORY_CAP]),
        "other_count": sum(c for _, c in top[CATEGORY_CAP:]),
    }


def batch_profile(
    columns: Mapping[str, np.ndarray],
    reference: Mapping[str, Any] | None = None,
    skip: Iterable[str] = (),
    categorical: Iterable[str] = (),
) -> dict[str, Any]:
    """Every column's profile (but `skip`), binned on the reference's edges where it has them.

    Text columns and those named `categorical` get frequency tables; the rest
    numeric profiles. Columns are profiled on threads (NumPy sorts without
    the GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    ref = (reference or {}).get("features") or {}
    cats = set(categorical)
    names = [n for n in columns if n not in set(skip)]
    mine = threading.local()  # each thread's Scratch, gone with this call

    def one(name: str) -> dict[str, Any]:
        col = np.asarray(columns[name])
        if col.dtype.kind in "USO" or name in cats:
            return categorical_profile(col.astype(str) if col.dtype == object else col)
        edges = (ref.get(name) or {}).get("edges")
        if not hasattr(mine, "scratch"):
            mine.scratch = Scratch()
        return numeric_profile(
            col, None if edges is None else np.asarray(edges, dtype=float), scratch=mine.scratch
        )

    rows = len(np.asarray(columns[names[0]])) if names else 0
    if rows >= 100_000 and len(names) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            profiled = list(pool.map(one, names))
    else:
        profiled = [one(n) for n in names]
    return {
        "format": PROFILE_FORMAT,
        "rows": rows,
        "features": dict(zip(names, profiled, strict=True)),
    }


# -- a window of batches ----------------------------------------------------------------


def ecdf_gap(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """(sup |A − B|, ∫ |A − B| dx) of two weighted ECDFs, each given as (values, weights):
    KS's D and Wasserstein-1.

    One stable sort of both sides' points (sorted runs, which it merges); each
    point adds its share to A − B (a's positively, b's negatively), so one
    cumulative sum gives A − B along the merged order. D is read where a run of
    equal values ends; the integral sums |A − B| times the gap to the next point.
    """
    values = np.concatenate((a[0], b[0]))
    steps = np.concatenate((a[1] / a[1].sum(), b[1] / -b[1].sum()))
    order = np.argsort(values, kind="stable")
    xs = values[order]
    gap = np.abs(np.cumsum(steps[order]))
    ends = np.append(xs[1:] != xs[:-1], True)
    return float(gap[ends].max()), float(np.dot(gap[:-1], np.diff(xs)))


class WindowFeature:
    """One feature merged over a window's batch profiles."""

    def __init__(self, parts: list[Mapping[str, Any]]):
        self.parts = [p for p in parts if p]
        self.kind = self.parts[0]["kind"] if self.parts else "numeric"
        self.rows = sum(int(p["rows"]) for p in self.parts)
        self.count = sum(int(p["count"]) for p in self.parts)
        self.nan_count = sum(int(p.get("nan_count", 0)) for p in self.parts)
        self.neginf = sum(int(p.get("neginf_count", 0)) for p in self.parts)
        self.posinf = sum(int(p.get("posinf_count", 0)) for p in self.parts)
        self._points: tuple[np.ndarray, np.ndarray] | None = None

    def numeric_parts(self) -> list[Mapping[str, Any]]:
        return [p for p in self.parts if p["kind"] == "numeric" and p["count"]]

    def exact(self) -> bool:
        return all(p.get("exact", True) for p in self.numeric_parts())

    def values(self) -> np.ndarray:
        """Every finite value, when every batch kept them all (`exact`)."""
        parts = [np.asarray(p["sample"], dtype=float) for p in self.numeric_parts()]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Every batch's sketch points and the rows each stands for (its ECDF, weighted)."""
        if self._points is None:
            vals, weights = [], []
            for p in self.numeric_parts():
                sample = np.asarray(p["sample"], dtype=float)
                vals.append(sample)
                weights.append(np.full(len(sample), p["count"] / len(sample)))
            self._points = np.concatenate(vals), np.concatenate(weights)
        return self._points

    def rank_error(self) -> float:
        """Σ (n_b/N)·ε_b: how far the merged sketch's CDF may be from the window's."""
        total = sum(p["count"] for p in self.numeric_parts())
        return sum(
            p["count"] / total / (2 * len(p["sample"]))
            for p in self.numeric_parts()
            if not p.get("exact", True)
        )

    def w1_error(self) -> float:
        total = sum(p["count"] for p in self.numeric_parts())
        return sum(p["count"] / total * p.get("sketch_w1", 0.0) for p in self.numeric_parts())

    def mean_std(self) -> tuple[float, float]:
        """Exact mean and std of the finite values, merged with Chan's formula."""
        n, mean, m2 = 0, 0.0, 0.0
        for p in self.numeric_parts():
            nb, mb = p["count"], p["mean"]
            delta = mb - mean
            total = n + nb
            mean += delta * nb / total
            m2 += p["m2"] + delta * delta * n * nb / total
            n = total
        return mean, math.sqrt(m2 / n) if n else math.nan

    def table(self, keys: Iterable[str] | None = None) -> dict[str, float]:
        """Counts per category (categorical) or per value (numeric), summed over the batches.

        A numeric batch without a value table (too many distinct values)
        contributes its sketch's weight at each of `keys`.
        """
        out: dict[str, float] = {}
        for p in self.parts:
            table = p.get("freq") if p["kind"] == CATEGORICAL else p.get("values")
            if table is None and p["kind"] == "numeric" and p["count"] and keys is not None:
                sample = np.asarray(p["sample"], dtype=float)
                weight = p["count"] / len(sample)
                table = {}
                for k in keys:
                    try:
                        table[k] = float(np.count_nonzero(sample == float(k))) * weight
                    except ValueError:
                        continue
            for k, c in (table or {}).items():
                out[k] = out.get(k, 0) + c
        return out

    def other(self) -> int:
        return sum(int(p.get("other_count", 0)) for p in self.parts)

    def bin_counts(self, edges: np.ndarray) -> np.ndarray:
        """Finite values per reference bin: stored counts where a batch used these edges."""
        total = np.zeros(len(edges) + 1)
        for p in self.numeric_parts():
            stored = p.get("edges")
            if stored is not None and np.array_equal(np.asarray(stored, dtype=float), edges):
                total += np.asarray(p["bin_counts"], dtype=float)
                continue
            sample = np.asarray(p["sample"], dtype=float)
            below = np.searchsorted(sample, edges, side="left") * (p["count"] / len(sample))
            total += np.diff(below, prepend=0.0, append=float(p["count"]))
        return total


class Window:
    """A window's batch profiles, merged feature by feature on demand."""

    def __init__(self, profiles: Sequence[Mapping[str, Any]]):
        self.profiles = profiles
        self.rows = sum(int(p.get("rows", 0)) for p in profiles)

    def has(self, name: str) -> bool:
        return bool(self.profiles) and all(name in (p.get("features") or {}) for p in self.profiles)

    def feature(self, name: str) -> WindowFeature:
        return WindowFeature([(p.get("features") or {}).get(name) or {} for p in self.profiles])


class ProfileComparison(Comparison):
    """A reference profile against a window's merged profiles, in the views methods score."""

    def __init__(
        self, profile: Mapping[str, Any], current: WindowFeature, freq: Mapping[str, float]
    ):
        super().__init__(profile, freq)
        self.window = current
        self.bound: float | None = None

    def _ref_points(self) -> tuple[np.ndarray, np.ndarray]:
        sample = self.sample()
        return sample, np.full(len(sample), float(self.profile["count"]) / len(sample))

    def _ref_rank_error(self) -> float:
        return 0.0 if self.profile.get("exact", True) else 1 / (2 * len(self.profile["sample"]))

    def current_count(self) -> int:
        return self.window.count

    def exact_values(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.profile.get("exact", True) and self.window.exact():
            return self.sample(), self.window.values()
        return None

    def ks_statistic(self) -> float:
        self.bound = self._ref_rank_error() + self.window.rank_error()
        if self.window.exact():  # the raw engine's statistic on the same values
            return ks_statistic(self.sample(), Sorted(self.window.values()))
        return ecdf_gap(self._ref_points(), self.window.points())[0]

    def wasserstein(self) -> float:
        self.bound = float(self.profile.get("sketch_w1", 0.0)) + self.window.w1_error()
        if self.window.exact():
            return wasserstein(self.sample(), Sorted(self.window.values()))
        return ecdf_gap(self._ref_points(), self.window.points())[1]

    def counts(self, nonfinite: bool = False) -> tuple[np.ndarray, np.ndarray]:
        prof = self.profile
        if prof["kind"] == CATEGORICAL:
            other = int(prof.get("other_count", 0))
            freq = dict(self.freq)
            extra = self.window.other()
            if extra:  # categories a batch did not list: unseen by the reference's table
                freq["\0other"] = freq.get("\0other", 0) + extra
            return _table_pair(prof["freq"], freq, other)
        if "values" in prof:
            return _table_pair(prof["values"], self.freq, 0)
        edges = np.asarray(prof["edges"], dtype=float)
        ref = np.asarray(prof["bin_counts"], dtype=float)
        cur = self.window.bin_counts(edges)
        if nonfinite:
            cur[0] += self.window.neginf
            cur[-1] += self.window.posinf
            return np.append(ref, prof["nan_count"]), np.append(cur, self.window.nan_count)
        ref = ref.copy()
        ref[0] -= prof["neginf_count"]
        ref[-1] -= prof["posinf_count"]
        return ref, cur


def compare_window_feature(
    name: str,
    prof: Mapping[str, Any] | None,
    window: Window,
    method: str = "auto",
    override: Mapping[str, Any] | None = None,
    column: str | None = None,
) -> FeatureDrift:
    """`lookout.scheduler.drift.compare_feature` for a window of profiles (`column`: its name
    in the batches when it differs, as for prediction drift against the target)."""
    chosen = method
    try:
        if prof is None or "kind" not in prof:
            raise FeatureError("the reference profile does not describe it")
        if ("freq" if prof["kind"] == CATEGORICAL else "sample") not in prof:
            raise FeatureError("the reference profile has an unknown format; rebuild it")
        if not window.has(column or name):
            raise FeatureError("missing from the current data")
        if override and override.get("method") not in (None, "auto"):
            chosen = str(override["method"])
        if chosen != "auto" and chosen not in METHODS:
            raise FeatureError(f'unknown method "{chosen}"')
        if chosen != "auto" and prof["kind"] not in METHODS[chosen].kinds:
            needs = "numbers" if prof["kind"] == CATEGORICAL else "categories"
            raise FeatureError(f"{chosen} needs {needs}, the feature is {prof['kind']}")
        current = window.feature(column or name)
        if prof["kind"] == CATEGORICAL:
            freq = current.table()
            if not current.count:
                raise FeatureError("no values in the current data")
            if not prof.get("count"):
                raise FeatureError("the reference has no values")
            if chosen == "auto":
                chosen = choose_method(prof, len(set(prof["freq"]) | set(freq)))
        else:
            if not prof.get("count"):
                raise FeatureError("the reference has no finite values")
            if any(p["kind"] != "numeric" for p in current.parts):
                raise FeatureError("holds text, the reference holds numbers")
            if not current.count:
                raise FeatureError("no finite values in the current data")
            freq = current.table(prof["values"]) if "values" in prof else {}
            if chosen == "auto":
                distinct = len(set(prof["values"]) | set(freq)) if "values" in prof else 2**31
                chosen = choose_method(prof, distinct)
        c = ProfileComparison(prof, current, {k: v for k, v in freq.items() if v})
        return _result(name, chosen, c, override)
    except FeatureError as exc:
        return FeatureDrift(
            name=name,
            method=chosen,
            score=None,
            threshold=math.nan,
            level="error",
            error=f"{name}: {exc}",
        )


def compare_window(
    profile: Mapping[str, Any],
    window: Window,
    features: list[str] | None = None,
    method: str = "auto",
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[FeatureDrift]:
    """`lookout.scheduler.drift.compare_profile` for a window of batch profiles."""
    profiled = profile.get("features") or {}
    names = list(profiled) if features is None else list(features)
    over = overrides or {}
    return [compare_window_feature(n, profiled.get(n), window, method, over.get(n)) for n in names]
