"""chisquare: the chi-square test of the 2×k table of reference and current counts;
the score is its p-value, `statistic` holds χ².

scipy's `chi2_contingency` (Yates-corrected for 2×2) over the cells either side
has values in: categories, a few-valued numeric feature's values, or the
reference's decile bins (finite values only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookout.scheduler.drift_methods.base import CATEGORICAL, NUMERIC, DriftMethod, Score

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison


def score(c: Comparison) -> Score:
    import numpy as np
    from scipy.stats import chi2_contingency

    ref, cur = c.counts()
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    if table.shape[1] < 2:
        return 1.0, 0.0  # one category on both sides: nothing can differ
    res = chi2_contingency(table)
    return float(res.pvalue), float(res.statistic)


METHOD = DriftMethod(
    "chisquare", frozenset({NUMERIC, CATEGORICAL}), warn=0.1, drift=0.05, p_value=True, score=score
)
