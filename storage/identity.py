"""Who is acting: the operating-system account of this process, not `$USER`."""

from __future__ import annotations

import grp
import os
import pwd


def current_user() -> str:
    """The account name from the password database for the real uid."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def user_groups(user: str) -> set[str]:
    """The groups an account belongs to (primary and supplementary)."""
    groups: set[str] = set()
    try:
        primary = pwd.getpwnam(user).pw_gid
        groups.add(grp.getgrgid(primary).gr_name)
    except KeyError:
        pass
    for g in grp.getgrall():
        if user in g.gr_mem:
            groups.add(g.gr_name)
    return groups
