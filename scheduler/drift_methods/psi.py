"""psi: population stability index, Σ (c − r)·ln(c / r) over shares of the same cells.

Numeric features use the reference's decile bins with a bin of its own for NaN
and ±inf in the open outer bins (a few-valued feature uses its values);
categorical features use their categories. Shares are floored at 1e-4 so an
empty cell does not make the index infinite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookout.scheduler.drift_methods.base import CATEGORICAL, NUMERIC, DriftMethod, Score

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison

FLOOR = 1e-4


def score(c: Comparison) -> Score:
    import numpy as np
    from lookout.scheduler.drift import shares

    ref, cur = c.counts(nonfinite=True)
    r = np.maximum(shares(ref), FLOOR)
    now = np.maximum(shares(cur), FLOOR)
    return float(np.sum((now - r) * np.log(now / r))), None


METHOD = DriftMethod(
    "psi", frozenset({NUMERIC, CATEGORICAL}), warn=0.1, drift=0.25, p_value=False, score=score
)
