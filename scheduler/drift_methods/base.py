"""What a drift method is: one row of the method table. Nothing here loads NumPy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lookout.scheduler.drift import Comparison

NUMERIC = "numeric"
CATEGORICAL = "categorical"
# (score, test statistic when the score is a p-value and the test has one)
Score = tuple[float, float | None]


class FeatureError(Exception):
    """A feature that cannot be compared; the engine turns it into an `error` FeatureDrift."""


@dataclass(frozen=True)
class DriftMethod:
    """How one method compares a feature's current values with its reference profile.

    `kinds` are the profile kinds it can compare (NUMERIC, CATEGORICAL). `warn` and
    `drift` are its default thresholds on the score, which features may override in
    lookout.toml. With `p_value` the score is a test's p-value and lower is worse;
    otherwise it is a distance and higher is worse. Results record it as
    `FeatureDrift.p_value`, so stored results need no method table to be read.

    `score` gets the engine's `Comparison` of the feature and imports NumPy or SciPy
    inside, so that validating a config never loads them.
    """

    name: str
    kinds: frozenset[str]
    warn: float
    drift: float
    p_value: bool
    score: Callable[[Comparison], Score]

    def level(self, score: float, warn: float, drift: float) -> str:
        """ok, warn or drift for a finite score against the thresholds."""
        if self.p_value:
            return "drift" if score < drift else "warn" if score < warn else "ok"
        return "drift" if score >= drift else "warn" if score >= warn else "ok"
