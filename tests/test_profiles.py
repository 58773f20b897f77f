"""Mergeable batch profiles: windows merged from them against scipy and the raw-rows engine,
with the documented bounds, and the drift job reading large windows from profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lookout.scheduler import batches, drift, profiles, sdk
from lookout.scheduler.drift_job import run_drift
from lookout.scheduler.frame import Frame
from lookout.scheduler.profiles import SKETCH_POINTS, Window, batch_profile, compare_window
from lookout.storage import drift as drift_store
from lookout.storage import registry
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

METHODS = ["ks", "wasserstein", "psi", "jensenshannon", "chisquare"]


def reference_profile(columns: dict[str, np.ndarray], categorical=()) -> dict:
    kinds = {n: "string" if c.dtype.kind == "U" else "number" for n, c in columns.items()}
    return drift.build_profile(Frame(columns, kinds), list(columns), list(categorical))


def split(values: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.array_split(values, parts)


def window_of(reference: dict, columns: dict[str, np.ndarray], parts: int) -> Window:
    pieces = [
        {n: c for n, c in zip(columns, cols, strict=True)}
        for cols in zip(*(split(c, parts) for c in columns.values()), strict=True)
    ]
    return Window([batch_profile(p, reference) for p in pieces])


def raw_frame(columns: dict[str, np.ndarray]) -> Frame:
    return Frame(
        columns, {n: "string" if c.dtype.kind == "U" else "number" for n, c in columns.items()}
    )


def test_exact_batches_give_the_raw_engines_results_for_every_method() -> None:
    rng = np.random.default_rng(1)
    ref = {"x": rng.normal(0, 1, 800), "c": rng.choice(np.array(["a", "b", "c"]), 800)}
    cur = {"x": rng.normal(0.3, 1.2, 900), "c": rng.choice(np.array(["a", "b", "d"]), 900)}
    profile = reference_profile(ref, ["c"])
    window = window_of(profile, cur, 3)  # 300 rows a batch: every batch is exact
    for method in [*METHODS, "auto"]:
        merged = compare_window(profile, window, method=method)
        exact = drift.compare_profile(profile, raw_frame(cur), method=method)
        for m, e in zip(merged, exact, strict=True):
            assert (m.method, m.level) == (e.method, e.level)
            if e.score is None:
                assert m.score is None and m.error == e.error
            else:
                assert m.score == pytest.approx(e.score, rel=1e-9, abs=1e-12)
    # and the raw engine's exact KS and W1 are scipy's
    ks = compare_window(profile, window, ["x"], method="ks")[0]
    assert ks.statistic == pytest.approx(ks_2samp(ref["x"], cur["x"]).statistic)
    assert ks.p_value == pytest.approx(ks_2samp(ref["x"], cur["x"]).pvalue)
    w = compare_window(profile, window, ["x"], method="wasserstein")[0]
    assert w.score == pytest.approx(wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std())


def _check_bounds(ref: np.ndarray, cur: np.ndarray, parts: int) -> None:
    profile = reference_profile({"x": ref})
    window = window_of(profile, {"x": cur}, parts)
    finite_ref, finite_cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    ks = compare_window(profile, window, method="ks")[0]
    w1 = compare_window(profile, window, method="wasserstein")[0]
    exact_d = ks_2samp(finite_ref, finite_cur).statistic
    exact_w = wasserstein_distance(finite_ref, finite_cur) / max(finite_ref.std(), 0.001)
    assert ks.bound is not None and w1.bound is not None
    assert ks.bound <= 2 / (2 * SKETCH_POINTS) + 1e-12  # the documented ε_r + ε
    assert abs(ks.statistic - exact_d) <= ks.bound + 1e-12
    assert abs(w1.score - exact_w) <= w1.bound + 1e-9
    # counts over the reference's bins are exact: the batches were binned on its edges
    psi = compare_window(profile, window, method="psi")[0]
    exact_psi = drift.compare_profile(profile, raw_frame({"x": cur}), method="psi")[0]
    assert psi.score == pytest.approx(exact_psi.score, rel=1e-9)


def test_sketched_batches_stay_within_the_bound_against_scipy() -> None:
    rng = np.random.default_rng(2)
    _check_bounds(rng.normal(0, 1, 20_000), rng.normal(0.05, 1.1, 60_000), 4)
    _check_bounds(rng.exponential(1, 30_000), rng.exponential(1.3, 45_000), 3)  # skewed


def test_adversarial_data_ties_constants_and_nonfinite_values() -> None:
    rng = np.random.default_rng(3)
    ties = rng.integers(0, 3, 20_000).astype(float) * 1000  # heavy ties, few values
    _check_bounds(np.repeat([1.0, 2.0], 5000), ties[:15_000] / 1000, 5)
    constant = np.full(12_000, 7.0)
    _check_bounds(constant, np.full(9000, 7.0), 3)
    with_nan = rng.normal(0, 1, 10_000)
    with_nan[::7] = np.nan
    with_nan[::11] = np.inf
    _check_bounds(rng.normal(0, 1, 10_000), with_nan, 2)


def test_all_nan_and_unseen_categories_are_reported_as_the_raw_engine_does() -> None:
    rng = np.random.default_rng(4)
    ref = {"x": rng.normal(0, 1, 500), "c": rng.choice(np.array(["a", "b"]), 500)}
    profile = reference_profile(ref, ["c"])
    cur = {"x": np.full(600, np.nan), "c": rng.choice(np.array(["z", "y"]), 600)}
    merged = compare_window(profile, window_of(profile, cur, 3))
    exact = drift.compare_profile(profile, raw_frame(cur))
    assert [(f.level, f.error) for f in merged] == [(f.level, f.error) for f in exact]
    assert merged[0].error == "x: no finite values in the current data"
    assert merged[1].level == "drift"
    table = np.array([[250, 250, 0, 0], [0, 0, 300, 300]])
    chi = compare_window(profile, window_of(profile, cur, 3), ["c"], method="chisquare")[0]
    assert chi.p_value == pytest.approx(chi2_contingency(table).pvalue)


@settings(max_examples=40, deadline=None)
@given(
    n_ref=st.integers(1, 3000),
    sizes=st.lists(st.integers(1, 4000), min_size=1, max_size=5),
    shift=st.floats(-2, 2),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_merged_windows_are_within_the_bound_for_any_batch_sizes(
    n_ref: int, sizes: list[int], shift: float, ties: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, n_ref)
    cur = rng.normal(shift, 1, sum(sizes))
    if ties:
        ref, cur = np.round(ref), np.round(cur)
    profile = reference_profile({"x": ref})
    bounds = np.cumsum(sizes)[:-1]
    window = Window([batch_profile({"x": part}, profile) for part in np.split(cur, bounds)])
    ks = compare_window(profile, window, method="ks")[0]
    w1 = compare_window(profile, window, method="wasserstein")[0]
    assert abs(ks.statistic - ks_2samp(ref, cur).statistic) <= ks.bound + 1e-12
    exact_w = wasserstein_distance(ref, cur) / max(ref.std(), 0.001)
    assert abs(w1.score - exact_w) <= w1.bound + 1e-9


def test_merged_mean_and_std_are_exact() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(50, 4, 30_000)
    window = Window([batch_profile({"x": p}) for p in np.array_split(values, 7)])
    mean, std = window.feature("x").mean_std()
    assert mean == pytest.approx(values.mean(), rel=1e-12)
    assert std == pytest.approx(values.std(), rel=1e-10)


def test_columns_profiled_one_after_another_in_one_scratch_keep_their_own_figures() -> None:
    """A thread's work arrays are reused from column to column (`Scratch`): a profile
    refers to nothing in them, whether the next column is longer, shorter or has gaps."""
    rng = np.random.default_rng(8)
    gaps = rng.normal(0, 1, 5000)
    gaps[::9] = np.nan
    gaps[::13] = -np.inf
    columns = [
        rng.normal(3, 2, 20_000),
        rng.integers(0, 12, 3000).astype(float),  # few values: a table of counts
        gaps,
        np.full(40_000, np.nan),
        rng.exponential(1, 30_000),
    ]
    edges = np.array([-1.0, 0.0, 1.0, 2.5])
    scratch = profiles.Scratch()
    shared = [profiles.numeric_profile(c, edges, scratch=scratch) for c in columns]
    for column, profile in zip(columns, shared, strict=True):
        alone = profiles.numeric_profile(column.copy(), edges)
        assert profile == alone


def test_label_summaries_merge_to_the_row_metrics() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 5000).astype(float)
    pred = np.where(rng.random(5000) < 0.8, y, rng.integers(0, 3, 5000)).astype(float)
    from lookout.scheduler.drift_job import _metrics

    parts = [
        batches.outcome_stats("classification", a, b)
        for a, b in zip(np.array_split(y, 4), np.array_split(pred, 4), strict=True)
    ]
    merged = batches.merge_stats("classification", parts)
    assert merged is not None
    got = batches.metrics_from_stats("classification", merged)
    want = _metrics("classification", y, pred)
    assert got == pytest.approx(want)
    yr, pr = rng.normal(10, 2, 3000), rng.normal(10, 2, 3000)
    parts = [
        batches.outcome_stats("regression", a, b)
        for a, b in zip(np.array_split(yr, 3), np.array_split(pr, 3), strict=True)
    ]
    merged = batches.merge_stats("regression", parts)
    assert merged is not None
    assert batches.metrics_from_stats("regression", merged) == pytest.approx(
        _metrics("regression", yr, pr)
    )


# -- the drift job reading a window from profiles -------------------------------------

CONFIG = """
[models.churn]
task = "classification"
target = "churned"
features = ["tenure", "plan"]
categorical = ["plan"]

[models.churn.drift]
window_rows = 100000
exact_rows = {exact}
"""


def _workspace(make_workspace, exact: int, name: str):
    w = make_workspace(CONFIG.format(exact=exact), name=name)
    rng = np.random.default_rng(7)
    ref = Frame(
        {
            "tenure": rng.normal(30, 10, 4000),
            "plan": rng.choice(np.array(["basic", "pro"]), 4000),
            "churned": rng.integers(0, 2, 4000).astype(float),
        },
        {"tenure": "number", "plan": "string", "churned": "integer"},
    )
    registry.ensure_model(w.store, "churn", "classification", "f1")
    profile = drift.build_profile(ref, ["tenure", "plan"], ["plan"], target="churned")
    registry.register_version(w.store, "churn", profile=profile)
    with w.store.write() as conn:
        registry.move_alias(conn, "churn", "production", 1, kind="promotion", actor="t")
    return w


def _log(w, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for b in range(4):
        n = 3000
        ids = [f"p{b}-{i}" for i in range(n)]
        pred = rng.integers(0, 2, n).astype(float)
        sdk.log_inferences(
            w,
            "churn",
            {"tenure": rng.normal(33, 10, n), "plan": rng.choice(["basic", "pro"], n).tolist()},
            prediction_ids=ids,
            predictions=pred,
        )
        truth = np.where(rng.random(n) < 0.7, pred, 1 - pred)
        sdk.log_labels(w, "churn", ids[: n // 2], truth[: n // 2])


def test_a_window_from_profiles_matches_the_exact_window(make_workspace) -> None:
    exact_ws = _workspace(make_workspace, 1_000_000, "exact")
    merged_ws = _workspace(make_workspace, 0, "merged")
    _log(exact_ws, 8)
    _log(merged_ws, 8)
    a, b = run_drift(exact_ws, "churn"), run_drift(merged_ws, "churn")
    assert a is not None and b is not None
    assert a.window["mode"] == "exact" and b.window["mode"] == "profiles"
    assert a.rows == b.rows == 12_000 and b.window["batches"] == 4
    assert a.level == b.level and a.share == b.share
    for fa, fb in zip(a.features, b.features, strict=True):
        assert (fa.name, fa.method, fa.level) == (fb.name, fb.method, fb.level)
        assert fb.score == pytest.approx(fa.score, abs=fb.bound or 1e-9)
    assert a.prediction["level"] == b.prediction["level"]
    assert a.performance["labelled_rows"] == b.performance["labelled_rows"] == 6000
    assert b.performance["value"] == pytest.approx(a.performance["value"])
    assert b.performance["metrics"] == pytest.approx(a.performance["metrics"])


def test_batches_logged_without_a_profile_are_profiled_from_their_rows(make_workspace) -> None:
    w = _workspace(make_workspace, 0, "backlog")
    rng = np.random.default_rng(9)
    cols = {"tenure": rng.normal(30, 10, 500), "plan": ["basic"] * 500}
    batch = drift_store.append_batch(w.store, "churn", cols)  # as an older Lookout wrote it
    assert drift_store.unprofiled_batches(w.store) == [batch]
    result = run_drift(w, "churn")
    assert result is not None and result.window["mode"] == "profiles" and result.rows == 500
    assert drift_store.unprofiled_batches(w.store) == []
    assert not math.isnan(result.features[0].score or math.nan)
