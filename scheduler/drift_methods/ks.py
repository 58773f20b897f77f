"""ks: the two-sample Kolmogorov–Smirnov test; the score is its p-value, `statistic` holds D.

Numeric features only, finite values only. Against an exact reference sample
and up to EXACT_MAX exact current values it is scipy's `ks_2samp`; otherwise D
comes from the sketches (within 1/(2m) of the exact one for a sketch of m
points on either side, see `lookout.scheduler.drift` and
`lookout.scheduler.profiles`; the result's `bound`) and the p-value from
Smirnov's distribution for the true sizes.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from lookout.scheduler.drift_methods.base import NUMERIC, DriftMethod, Score

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison

EXACT_MAX = 10_000  # scipy's ks_2samp uses the exact distribution up to this many rows

# scipy falls back to the asymptotic KS p-value by itself when the exact one fails; saying so
# on stderr of the scheduler helps nobody (catch_warnings would not be thread-safe here)
warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)


def score(c: Comparison) -> Score:
    import numpy as np

    exact = c.exact_values()
    if exact is not None and len(exact[1]) <= EXACT_MAX:
        from scipy.stats import ks_2samp

        res = ks_2samp(*exact)
        c.bound = 0.0
        return float(res.pvalue), float(res.statistic)
    from scipy.stats import kstwo

    d = c.ks_statistic()
    big, small = sorted([float(c.profile["count"]), float(c.current_count())], reverse=True)
    p = float(np.clip(kstwo.sf(d, np.round(big * small / (big + small))), 0, 1))
    return p, d


METHOD = DriftMethod("ks", frozenset({NUMERIC}), warn=0.1, drift=0.05, p_value=True, score=score)
