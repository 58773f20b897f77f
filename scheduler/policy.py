"""Who may do what: roles from `[policy.roles]` in lookout.toml.

Roles nest: admin ⊇ approver ⊇ operator ⊇ reporter ⊇ viewer. A role is granted
to OS account names or to "group:NAME"; everyone else is a viewer (anyone who can
read the store), and a viewer changes nothing. Service identities such as
"pipeline:NAME" are not people: they never hold a role, and the promotion module
lets them open requests only through `on_version_registered`.

A personal workspace whose `[policy.roles]` names nobody belongs to one person:
the account that owns the workspace directory is its admin, so a workspace made by
hand keeps working for its owner. A shared workspace grants only what it names.
"""

from __future__ import annotations

import os
import pwd

from lookout.scheduler.workspace import Workspace
from lookout.storage.identity import user_groups

ROLES = ("viewer", "reporter", "operator", "approver", "admin")

# Every change anyone can ask for, and the least role it needs. The one permission
# table: the door (`lookout.scheduler.door`) enforces it for every caller, the console
# hides what a role may not do, and the README's "who may do what" mirrors it.
NEEDS = {
    # anyone who may look: the scheduler fetches a mirrored stage's log for them
    "fetch_log": "viewer",
    # the serving side's and an external scheduler's service accounts
    "log": "reporter",
    "start_run": "reporter",
    "start_stage": "reporter",
    "finish_stage": "reporter",
    "finish_run": "reporter",
    "record_checks": "reporter",
    "register_version": "reporter",
    # people on call
    "promote": "operator",
    "rollback": "operator",
    "acknowledge": "operator",
    "run": "operator",
    "cancel": "operator",
    "run_checks": "operator",
    "run_drift": "operator",
    # people who decide
    "approve": "approver",
    "reject": "approver",
    "override": "approver",
}


class PermissionDenied(Exception):
    """An actor lacks the role an action needs; the message names both."""


def _granted(
    entries: list[str], user: str, groups: set[str] | None
) -> tuple[bool, set[str] | None]:
    """Whether a role list names the user, looking groups up only when a list needs them."""
    for entry in entries:
        if entry.startswith("group:"):
            if groups is None:
                groups = user_groups(user)
            if entry[len("group:") :] in groups:
                return True, groups
        elif entry == user:
            return True, groups
    return False, groups


def owner(ws: Workspace) -> str | None:
    """The account that owns the workspace directory."""
    try:
        return pwd.getpwuid(os.stat(ws.root).st_uid).pw_name
    except (OSError, KeyError):
        return None


def role_of(ws: Workspace, user: str) -> str:
    """The highest role the policy grants an OS account (viewer when none)."""
    roles = ws.config.policy.get("roles") or {}
    if not ws.config.shared and not any(roles.get(r) for r in ROLES[1:]):
        return "admin" if user == owner(ws) else "viewer"
    groups: set[str] | None = None
    for role in reversed(ROLES[1:]):
        granted, groups = _granted(list(roles.get(role) or []), user, groups)
        if granted:
            return role
    return "viewer"


def allows(role: str, action: str) -> bool:
    """Whether a role may take an action of NEEDS."""
    return ROLES.index(role) >= ROLES.index(NEEDS[action])


def can(ws: Workspace, user: str, action: str) -> bool:
    """Whether `user` may perform `action` (a key of NEEDS)."""
    return allows(role_of(ws, user), action)


def require(ws: Workspace, user: str, action: str) -> None:
    """Refuse with a message naming the role needed, e.g. "promote needs the operator role"."""
    if not can(ws, user, action):
        role = role_of(ws, user)
        article = "an" if role[0] in "aeiou" else "a"
        raise PermissionDenied(
            f"{action} needs the {NEEDS[action]} role; {user} is {article} {role}"
        )
