"""Promotion, approval and rollback (stub: the promotion issue fills this in; signature fixed)."""

from __future__ import annotations

from storage.records import PromotionRequest
from storage.workspace import Workspace


def on_version_registered(
    ws: Workspace, model: str, version: int, requested_by: str, request: bool = True
) -> PromotionRequest | None:
    """Called by a pipeline's register stage: make the version the `candidate` and,
    when `request` is true, open a promotion request to `production` with its gates."""
    return None
