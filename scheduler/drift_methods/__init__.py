"""Drift methods: one module per method, one row each in METHODS (see ARCHITECTURE.md).

A method (`base.DriftMethod`) names the feature kinds it compares, its default
warn and drift thresholds, whether its score is a p-value (lower is worse) or
a distance, and its scorer. The engine (`lookout.scheduler.drift`) builds the
profiles and the `Comparison` a scorer reads; `auto` picks a method per
feature there. Adding a method is a module here plus a row below.

Nothing imported here loads NumPy or SciPy: `lookout.toml` is validated
against these names, and reading a config must stay light.
"""

from __future__ import annotations

from lookout.scheduler.drift_methods import chisquare, jensenshannon, ks, psi, wasserstein
from lookout.scheduler.drift_methods.base import DriftMethod

METHODS: dict[str, DriftMethod] = {
    m.name: m
    for m in (psi.METHOD, ks.METHOD, wasserstein.METHOD, jensenshannon.METHOD, chisquare.METHOD)
}
# What lookout.toml accepts as a method: "auto" lets the engine choose per feature.
CHOICES = ("auto", *METHODS)
