"""Promotion, approval and rollback (stub: the promotion issue fills this in).

The public functions and their signatures are fixed: the console, the CLI and
the pipelines call them.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.records import PromotionRequest
from storage.workspace import Workspace

ROLES = ("viewer", "operator", "approver", "admin")


class PromotionError(Exception):
    """A refused or failed promotion action; the message is one line for the user."""


@dataclass(frozen=True)
class Outcome:
    """What an action did: the request it touched and, if the alias moved, from/to."""

    ok: bool
    message: str
    request: PromotionRequest | None = None
    from_version: int | None = None
    to_version: int | None = None


def role_of(ws: Workspace, user: str) -> str:
    """The highest role the policy grants an OS account (viewer when none)."""
    return "viewer"


def on_version_registered(
    ws: Workspace, model: str, version: int, requested_by: str, request: bool = True
) -> PromotionRequest | None:
    """Called by a pipeline's register stage: make the version the `candidate` and,
    when `request` is true, open a promotion request to `production` with its gates."""
    return None


def request_promotion(
    ws: Workspace, model: str, version: int, actor: str, reason: str, alias: str = "production"
) -> Outcome:
    raise PromotionError("promotion is not available yet")


def approve(
    ws: Workspace, request_id: int, actor: str, reason: str, override: bool = False
) -> Outcome:
    raise PromotionError("approval is not available yet")


def reject(ws: Workspace, request_id: int, actor: str, reason: str) -> Outcome:
    raise PromotionError("rejection is not available yet")


def rollback(
    ws: Workspace, model: str, actor: str, reason: str, to_version: int | None = None
) -> Outcome:
    raise PromotionError("rollback is not available yet")
