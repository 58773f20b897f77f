"""jensenshannon: the Jensen–Shannon distance (natural log) of reference and current shares.

Numeric features use the reference's decile bins (a few-valued feature its
values), finite values only; categorical features use their categories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookout.scheduler.drift_methods.base import (
    CATEGORICAL,
    NUMERIC,
    DriftMethod,
    FeatureError,
    Score,
)

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison


def score(c: Comparison) -> Score:
    from scipy.spatial.distance import jensenshannon

    ref, cur = c.counts()
    if ref.sum() == 0 or cur.sum() == 0:
        raise FeatureError("no values to compare")
    return float(jensenshannon(ref.astype(float), cur.astype(float))), None


METHOD = DriftMethod(
    "jensenshannon",
    frozenset({NUMERIC, CATEGORICAL}),
    warn=0.05,
    drift=0.1,
    p_value=False,
    score=score,
)
