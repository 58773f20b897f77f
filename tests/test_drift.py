"""The drift engine against scipy, the sketch's error bound, and batch storage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lookout.scheduler import drift
from lookout.scheduler.drift_methods import METHODS
from lookout.scheduler.frame import Frame
from lookout.storage import drift as drift_store
from lookout.storage.db import Store
from lookout.storage.records import FeatureDrift
from scipy import stats
from scipy.spatial.distance import jensenshannon

# scipy warns when its exact KS p-value fails and it falls back to the asymptotic one
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")


def frame(**cols: object) -> Frame:
    arrays = {k: np.asarray(v) for k, v in cols.items()}
    kinds = {k: "string" if a.dtype.kind in "US" else "number" for k, a in arrays.items()}
    return Frame(
        {k: a if a.dtype.kind in "US" else a.astype(float) for k, a in arrays.items()}, kinds
    )


def one(ref: object, cur: object, method: str = "auto", categorical: bool = False, **kw: object):
    prof = drift.build_profile(frame(x=ref), ["x"], ["x"] if categorical else None, **kw)
    (result,) = drift.compare_profile(prof, frame(x=cur), method=method)
    return result, prof


def finite(a: object) -> np.ndarray:
    x = np.asarray(a, dtype=float)
    return x[np.isfinite(x)]


values = st.lists(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([0.0, 1.0, 1.0, 2.5, -3.0]),  # ties
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=50, deadline=None)
@given(values, values)
def test_ks_equals_scipy_on_any_small_samples(ref: list[float], cur: list[float]) -> None:
    r, _ = one(ref, cur, "ks")
    expected = stats.ks_2samp(ref, cur)
    assert r.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert r.score == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(values, values)
def test_wasserstein_equals_scipy_normed_by_reference_std(
    ref: list[float], cur: list[float]
) -> None:
    r, _ = one(ref, cur, "wasserstein")
    expected = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
    assert r.score == pytest.approx(expected, rel=1e-7, abs=1e-6)


def test_ks_and_wasserstein_on_large_current_windows_match_scipy() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=800)
    cur = rng.normal(0.1, 1.2, size=30_000)
    r, _ = one(ref, cur, "ks")
    exp = stats.ks_2samp(ref, cur)  # asymptotic p-value above 10 000 rows
    assert r.statistic == pytest.approx(exp.statistic)
    assert r.score == pytest.approx(exp.pvalue, rel=1e-9)
    w, _ = one(ref, cur, "wasserstein")
    assert w.score == pytest.approx(stats.wasserstein_distance(ref, cur) / ref.std(), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(values, values)
def test_wasserstein_by_merging_and_by_cells_agree(ref: list[float], cur: list[float]) -> None:
    """Small windows merge with the sample, large ones sum over its cells: the same distance."""
    sample, current = np.sort(ref), drift.Sorted(np.sort(cur))
    merged = drift._wasserstein_merged(sample, current.c)
    scale = 1 + max(abs(x) for x in ref + cur)
    assert merged == pytest.approx(drift._wasserstein_cells(sample, current), abs=1e-12 * scale)
    assert merged == pytest.approx(stats.wasserstein_distance(ref, cur), abs=1e-12 * scale)


def test_wasserstein_merges_small_windows_and_sums_cells_of_large_ones() -> None:
    rng = np.random.default_rng(11)
    sample = np.sort(np.round(rng.normal(size=2000), 2))  # ties, as a drift gate's profile
    for size in (500, 2000 * drift.MERGE_MAX, 2000 * drift.MERGE_MAX + 1, 50_000):
        cur = drift.Sorted(np.sort(np.round(rng.normal(0.1, 1.2, size=size), 2)))
        exact = stats.wasserstein_distance(sample, cur.c)
        assert drift.wasserstein(sample, cur) == pytest.approx(exact, rel=1e-12)
        assert drift._wasserstein_merged(sample, cur.c) == pytest.approx(exact, rel=1e-12)
        assert drift._wasserstein_cells(sample, cur) == pytest.approx(exact, rel=1e-12)


@settings(max_examples=12, deadline=None)
@given(
    st.integers(2001, 30_000),
    st.integers(1, 5000),
    st.floats(-2, 2),
    st.floats(0.2, 5),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_sketch_error_stays_within_the_documented_bound(
    n: int, m: int, shift: float, scale: float, seed: int, heavy: bool
) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.standard_t(2, size=n) if heavy else rng.normal(size=n)
    ref = np.round(ref, 2)  # ties too
    cur = shift + scale * rng.normal(size=m)
    ks, prof = one(ref, cur, "ks")
    p = prof["features"]["x"]
    assert not p["exact"] and len(p["sample"]) == drift.SKETCH_SIZE
    bound = 1 / (2 * drift.SKETCH_SIZE) + 1e-12  # exact in reals; floats add an ulp
    assert abs(ks.statistic - stats.ks_2samp(ref, cur).statistic) <= bound
    w, _ = one(ref, cur, "wasserstein")
    norm = max(float(ref.std()), 0.001)
    exact = stats.wasserstein_distance(ref, cur) / norm
    assert abs(w.score - exact) <= p["sketch_w1"] / norm + 1e-9
    assert p["sketch_w1"] <= (p["max"] - p["min"]) / (2 * drift.SKETCH_SIZE) + 1e-9


def test_the_profile_never_holds_the_raw_reference() -> None:
    ref = np.random.default_rng(0).normal(size=100_000)
    prof = drift.build_profile(frame(x=ref), ["x"])
    assert len(prof["features"]["x"]["sample"]) == drift.SKETCH_SIZE
    assert len(json.dumps(prof)) < 100_000
    assert prof["features"]["x"]["mean"] == pytest.approx(ref.mean())
    assert prof["features"]["x"]["std"] == pytest.approx(ref.std())


def test_psi_on_decile_bins_with_a_nan_bin() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=10_000)
    cur = np.concatenate([rng.normal(0.5, 1, 9000), np.full(1000, np.nan)])
    r, prof = one(ref, cur, "psi")
    edges = np.array(prof["features"]["x"]["edges"])
    assert len(edges) == 9
    rc = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=10) / len(ref)
    cc = np.bincount(np.searchsorted(edges, cur[:9000], side="right"), minlength=10) / len(cur)
    rs = np.maximum(np.append(rc, 0), 1e-4)
    cs = np.maximum(np.append(cc, 0.1), 1e-4)
    assert r.score == pytest.approx(float(np.sum((cs - rs) * np.log(cs / rs))))
    assert r.level == "drift"
    same, _ = one(ref, rng.normal(size=10_000), "psi")
    assert same.level == "ok" and same.threshold == 0.25 and same.warn_threshold == 0.1


def test_chisquare_and_jensenshannon_on_categories_match_scipy_with_unseen_ones() -> None:
    ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    cur = ["a"] * 20 + ["b"] * 30 + ["d"] * 10 + [""] * 5  # "d" unseen, "" missing
    chi, _ = one(ref, cur, "chisquare", categorical=True)
    table = np.array([[50, 30, 20, 0], [20, 30, 0, 10]])
    assert chi.score == pytest.approx(stats.chi2_contingency(table).pvalue)
    assert chi.level == "drift"
    js, _ = one(ref, cur, "jensenshannon", categorical=True)
    assert js.score == pytest.approx(jensenshannon([50, 30, 20, 0], [20, 30, 0, 10]))


def test_two_by_two_tables_use_scipys_yates_correction() -> None:
    r, _ = one(["a"] * 30 + ["b"] * 10, ["a"] * 20 + ["b"] * 20, "chisquare", categorical=True)
    assert r.score == pytest.approx(stats.chi2_contingency([[30, 10], [20, 20]]).pvalue)


def test_auto_chooses_as_evidently_does() -> None:
    rng = np.random.default_rng(2)
    assert one(rng.normal(size=1000), rng.normal(size=50))[0].method == "ks"
    assert one(rng.normal(size=1001), rng.normal(size=50))[0].method == "wasserstein"
    assert one(rng.integers(0, 4, 500), rng.integers(0, 4, 50))[0].method == "chisquare"
    assert one(rng.integers(0, 4, 5000), rng.integers(0, 4, 50))[0].method == "jensenshannon"
    cats = rng.choice(["x", "y"], 1000)
    assert one(cats, cats[:10], categorical=True)[0].method == "chisquare"
    assert one(np.tile(cats, 2), cats[:10], categorical=True)[0].method == "jensenshannon"


def test_constant_columns_single_rows_and_ties() -> None:
    r, _ = one([5.0] * 100, [5.0] * 10, "wasserstein")
    assert r.score == 0.0 and r.level == "ok"
    r, _ = one([5.0] * 100, [6.0], "wasserstein")  # std floored at 0.001
    assert r.score == pytest.approx(1000.0) and r.level == "drift"
    r, _ = one([1.0], [1.0], "ks")
    assert r.score == pytest.approx(stats.ks_2samp([1.0], [1.0]).pvalue)
    r, _ = one([3.0] * 10, [3.0] * 10, "chisquare")
    assert r.score == 1.0 and r.level == "ok"


def test_infinities_and_nan() -> None:
    ref = [1.0, 2.0, 3.0, np.inf, 4.0, np.nan, 5.0]
    cur = [1.5, -np.inf, 2.5, 3.5, np.nan, 9.0]
    r, _ = one(ref, cur, "ks")
    exp = stats.ks_2samp(finite(ref), finite(cur))
    assert r.statistic == pytest.approx(exp.statistic) and r.score == pytest.approx(exp.pvalue)
    w, _ = one(ref, cur, "wasserstein")
    assert w.score == pytest.approx(
        stats.wasserstein_distance(finite(ref), finite(cur)) / finite(ref).std()
    )
    psi, _ = one(ref, cur, "psi")
    assert math.isfinite(psi.score)


def test_all_nan_gives_an_error_naming_the_feature() -> None:
    r, _ = one([1.0, 2.0], [np.nan, np.nan])
    assert r.level == "error" and r.error.startswith("x:") and "no finite values" in r.error
    r, _ = one([np.nan], [1.0])
    assert r.level == "error" and "reference" in r.error


def test_bad_input_is_an_error_result_not_an_exception() -> None:
    prof = drift.build_profile(frame(x=[1.0, 2.0, 3.0], c=["a", "b", "a"]), ["x", "c"], ["c"])
    results = drift.compare_profile(prof, frame(c=["a"], y=[1.0]), ["x", "c", "nope"])
    assert [r.level for r in results] == ["error", "ok", "error"]
    assert "missing" in results[0].error and results[2].error.startswith("nope:")
    (text,) = drift.compare_profile(prof, frame(x=["a", "b"]), ["x"])
    assert text.level == "error" and "text" in text.error
    (wrong,) = drift.compare_profile(prof, frame(c=["a"]), ["c"], method="ks")
    assert wrong.level == "error" and "categorical" in wrong.error


def test_overrides_choose_method_and_thresholds_and_are_checked() -> None:
    rng = np.random.default_rng(4)
    prof = drift.build_profile(frame(x=rng.normal(size=5000)), ["x"])
    cur = frame(x=rng.normal(0.2, 1, 5000))
    (r,) = drift.compare_profile(prof, cur, overrides={"x": {"method": "psi", "drift": 0.01}})
    assert r.method == "psi" and r.threshold == 0.01 and r.level == "drift"
    (bad,) = drift.compare_profile(prof, cur, overrides={"x": {"warn": 0.5, "drift": 0.2}})
    assert bad.level == "error" and "warn threshold" in bad.error


def test_summary_share_and_levels() -> None:
    def f(level: str) -> drift.FeatureDrift:
        return drift.FeatureDrift("f", "psi", 0.0, 0.25, level)

    assert drift.summarize([f("drift"), f("ok")]) == ("drift", 0.5)
    assert drift.summarize([f("drift"), f("ok"), f("ok")]) == ("warn", pytest.approx(1 / 3))
    assert drift.summarize([f("ok"), f("error")]) == ("error", 0.0)
    assert drift.summarize([f("ok")]) == ("ok", 0.0)


def test_shifted_columns_drift_and_unshifted_ones_do_not() -> None:
    rng = np.random.default_rng(5)
    ref = {f"f{i}": rng.normal(size=20_000) for i in range(6)}
    cur = {f"f{i}": rng.normal(0.5 if i % 2 else 0.0, 1, 20_000) for i in range(6)}
    prof = drift.build_profile(frame(**ref), list(ref))
    levels = [r.level for r in drift.compare_profile(prof, frame(**cur))]
    assert levels == ["ok", "drift"] * 3


# -- batch storage --------------------------------------------------------------------


def test_batches_round_trip_numbers_and_text_zero_copy(store: Store) -> None:
    x = np.arange(10, dtype=float)
    drift_store.append_batch(
        store, "m", {"x": x, "n": [1, None, 3] * 3 + [4], "s": np.array(list("abcdefghij"))}
    )
    (batch,) = drift_store.load_window(store, "m")
    assert isinstance(batch.columns["x"], memoryview)
    back = np.frombuffer(batch.columns["x"], dtype="<f8")
    assert np.array_equal(back, x) and not back.flags.owndata
    n = np.frombuffer(batch.columns["n"], dtype="<f8")
    assert np.isnan(n[1]) and n[9] == 4
    assert batch.columns["s"] == list("abcdefghij")


def test_window_reads_the_newest_batches_covering_the_rows(store: Store) -> None:
    for i in range(5):
        drift_store.append_batch(store, "m", {"x": np.full(100, float(i))})
    window = drift_store.load_window(store, "m", max_rows=150)
    assert [np.frombuffer(b.columns["x"])[0] for b in window] == [3.0, 4.0]
    assert drift_store.logged_rows(store, "m") == 500


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x": [1.0, 2.0], "y": [1.0]}, 'column "y" has 1 rows'),
        ({"x": []}, "empty"),
        ({}, "no columns"),
        ({"x": np.zeros((2, 2))}, "not one-dimensional"),
    ],
)
def test_bad_batches_store_nothing(store: Store, columns: dict, message: str) -> None:
    drift_store.append_batch(store, "m", {"x": [1.0]})
    with pytest.raises(drift_store.BatchError, match=message):
        drift_store.append_batch(store, "m", columns)
    assert drift_store.logged_rows(store, "m") == 1


def test_batches_are_checked_against_expected_features(store: Store) -> None:
    expected = {"x": "numeric", "c": "categorical"}
    with pytest.raises(drift_store.BatchError, match='"c" is missing'):
        drift_store.append_batch(store, "m", {"x": [1.0]}, expected=expected)
    with pytest.raises(drift_store.BatchError, match='"x" should hold numbers'):
        drift_store.append_batch(store, "m", {"x": ["a"], "c": ["b"]}, expected=expected)
    drift_store.append_batch(store, "m", {"x": [1.0], "c": [3]}, expected=expected)
    assert drift_store.logged_rows(store, "m") == 1


def test_numeric_jensenshannon_and_categorical_psi_use_the_profile_bins() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=5000), rng.normal(0.3, 1, 3000)
    r, prof = one(ref, cur, "jensenshannon")
    edges = np.array(prof["features"]["x"]["edges"])
    rc = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=10)
    cc = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=10)
    assert r.score == pytest.approx(jensenshannon(rc, cc))
    psi, _ = one(["a"] * 80 + ["b"] * 20, ["a"] * 50 + ["b"] * 50, "psi", categorical=True)
    r_, c_ = np.array([0.8, 0.2]), np.array([0.5, 0.5])
    assert psi.score == pytest.approx(float(np.sum((c_ - r_) * np.log(c_ / r_))))


def test_a_profile_in_an_unknown_format_is_an_error_not_a_crash() -> None:
    old = {"features": {"x": {"kind": "number", "edges": [0, 1], "counts": [3]}}}
    (r,) = drift.compare_profile(old, frame(x=[0.5]))
    assert r.level == "error" and "unknown format" in r.error


def test_a_window_reads_only_the_columns_asked_for(store: Store) -> None:
    drift_store.append_batch(store, "m", {"x": [1.0, 2.0], "y": [3.0, 4.0], "s": ["a", "b"]})
    (batch,) = drift_store.load_window(store, "m", columns=["y", "s"])
    assert set(batch.columns) == {"y", "s"}
    assert list(np.frombuffer(batch.columns["y"])) == [3.0, 4.0] and batch.columns["s"] == [
        "a",
        "b",
    ]


def test_categories_beyond_the_cap_are_compared_as_one_other_bucket(monkeypatch) -> None:
    monkeypatch.setattr(drift, "CATEGORY_CAP", 2)
    ref = ["a"] * 40 + ["b"] * 30 + ["c"] * 20 + ["d"] * 10
    r, prof = one(ref, ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["e"], "chisquare", categorical=True)
    assert prof["features"]["x"]["freq"] == {"a": 40, "b": 30}
    assert prof["features"]["x"]["other_count"] == 30
    assert r.score == pytest.approx(stats.chi2_contingency([[40, 30, 30], [4, 3, 3]]).pvalue)


def test_strength_ranks_every_method_on_one_scale() -> None:
    def strength(feature: FeatureDrift) -> float | None:
        return feature.strength

    def f(method: str, score: float, threshold: float) -> FeatureDrift:
        # as the engine records a result: a p-value method's score is its p-value too
        p_value = score if METHODS[method].p_value else None
        return FeatureDrift("x", method, score, threshold, "ok", p_value=p_value)

    assert strength(f("ks", 0.05, 0.05)) == pytest.approx(1.0)
    assert strength(f("ks", 0.0025, 0.05)) == pytest.approx(2.0)
    strong, weak = strength(f("ks", 1e-12, 0.05)), strength(f("chisquare", 0.9, 0.05))
    assert strong is not None and weak is not None and strong > weak
    assert strength(f("psi", 0.5, 0.25)) == pytest.approx(2.0)
    assert (strength(f("ks", 0.0, 0.05)) or 0) > 100
    assert strength(FeatureDrift("x", "psi", None, 0.25, "error")) is None
