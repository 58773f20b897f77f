"""Reference profiles in the store: a compact BLOB that reads back exactly, and the JSON
text earlier versions of Lookout wrote still loads."""

from __future__ import annotations

import json
from array import array
from typing import Any

import numpy as np
from lookout.scheduler.drift import build_profile
from lookout.scheduler.frame import frame_from_columns
from lookout.storage import registry
from lookout.storage.db import Store


def plain(value: Any) -> Any:
    """A decoded profile with its array('d') samples as the lists build_profile made."""
    if isinstance(value, array):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def every_kind_of_feature() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    rows = 6000
    exact = np.full(rows, np.nan)
    exact[:50] = rng.normal(size=50) * 1e-300  # 50 values, kept as they are, tiny ones too
    odd = rng.normal(size=rows)
    odd[:10] = np.nan
    odd[10:12] = [np.inf, -np.inf]
    frame = frame_from_columns(
        {
            "sketched": rng.standard_t(2, size=rows),  # a 2000-point sketch
            "exact": exact,
            "odd": odd,
            "empty": np.full(rows, np.nan),  # no finite value: an empty sample
            "few": rng.integers(0, 3, size=rows).astype(float),  # a value table
            "city": rng.choice(np.array(["Oslo", "Lima", ""]), size=rows),
            "y": rng.normal(size=rows),
        }
    )
    names = ["sketched", "exact", "odd", "empty", "few", "city"]
    return build_profile(frame, names, categorical=["city"], target="y")


def stored_type(store: Store, version: int) -> str:
    row = store.conn.execute(
        "SELECT typeof(profile) FROM versions WHERE model = 'm' AND version = ?", (version,)
    ).fetchone()
    return str(row[0])


def test_a_profile_is_stored_compactly_and_reads_back_exactly(store: Store) -> None:
    registry.ensure_model(store, "m", "regression", "rmse")
    profile = every_kind_of_feature()
    v = registry.register_version(store, "m", profile=profile)
    assert stored_type(store, v.version) == "blob"
    size = store.conn.execute("SELECT length(profile) FROM versions").fetchone()[0]
    assert size < len(json.dumps(profile)) / 2

    got = registry.get_profile(store, "m", v.version)
    assert got is not None
    assert plain(got) == profile  # every number bit for bit (NaN is never in a sample)
    sample = got["features"]["sketched"]["sample"]
    assert isinstance(sample, array) and len(sample) == 2000
    assert np.asarray(sample, dtype=float).base is not None  # NumPy reads it without a copy
    assert got["features"]["empty"]["sample"] == []
    assert isinstance(got["target"]["sample"], array)

    # what get_profile returns can be stored again as it is
    registry.set_profile(store, "m", v.version, got)
    assert plain(registry.get_profile(store, "m", v.version)) == profile


def test_samples_that_are_not_floats_stay_as_they_were(store: Store) -> None:
    registry.ensure_model(store, "m", "regression", "rmse")
    odd = {
        "format": 2,
        "features": {
            "ints": {"kind": "numeric", "sample": [1, 2, 3]},
            "junk": {"kind": "numeric", "sample": ["x", None]},
            "bools": {"kind": "numeric", "sample": [True, False]},
            "nonsense": "nonsense",
            "floats": {"kind": "numeric", "sample": [0.5, -1.5]},
        },
        "target": {"kind": "numeric", "sample": [2.0]},
    }
    v = registry.register_version(store, "m", profile=odd)
    got = registry.get_profile(store, "m", v.version)
    assert got == {
        **odd,
        "features": {
            **odd["features"],
            "floats": {"kind": "numeric", "sample": array("d", [0.5, -1.5])},
        },
        "target": {"kind": "numeric", "sample": array("d", [2.0])},
    }
    assert type(got["features"]["ints"]["sample"][0]) is int


def test_profiles_written_as_json_text_by_earlier_versions_still_load(store: Store) -> None:
    registry.ensure_model(store, "m", "regression", "rmse")
    profile = every_kind_of_feature()
    old = registry.register_version(store, "m")
    new = registry.register_version(store, "m", profile=profile)
    with store.write() as conn:  # exactly what Lookout wrote before profiles were BLOBs
        conn.execute("UPDATE versions SET profile = ? WHERE id = ?", (json.dumps(profile), old.id))
    assert stored_type(store, old.version) == "text"
    assert registry.get_profile(store, "m", old.version) == profile
    assert plain(registry.get_profile(store, "m", new.version)) == profile
    assert registry.get_profile(store, "m", 99) is None
