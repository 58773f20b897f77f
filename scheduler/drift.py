"""Drift engine (stub: the drift issue fills this in; the signature is fixed)."""

from __future__ import annotations

from typing import Any

from scheduler.frame import Frame


def build_profile(
    frame: Frame, features: list[str], categorical: list[str] | None = None
) -> dict[str, Any]:
    """A compact, JSON-serialisable reference profile of the training features."""
    return {"features": {}, "rows": frame.rows}
