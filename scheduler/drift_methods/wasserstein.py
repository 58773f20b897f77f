"""wasserstein: the Wasserstein-1 distance between reference and current values,
divided by max(reference std, STD_FLOOR) so one threshold suits every scale.

Numeric features only, finite values only. The distance to the profile's
sample is exact; for a sketch its error is at most the profile's `sketch_w1`
(see `lookout.scheduler.drift`), plus the window's for merged batch profiles
(`lookout.scheduler.profiles`); the result's `bound` holds it, normed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookout.scheduler.drift_methods.base import NUMERIC, DriftMethod, Score

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison

STD_FLOOR = 0.001


def score(c: Comparison) -> Score:
    scale = max(float(c.profile["std"]), STD_FLOOR)
    distance = c.wasserstein()
    if c.bound is not None:
        c.bound /= scale
    return distance / scale, None


METHOD = DriftMethod(
    "wasserstein", frozenset({NUMERIC}), warn=0.05, drift=0.1, p_value=False, score=score
)
