"""Who could change what a shared workspace's daemon trusts: its config, its code, its files.

Like sshd's StrictModes, the daemon refuses to start when `lookout.toml`, the code
folder (`[code] path`, and everything in it) or any directory above them is owned
by anyone but the service account or root, or is writable by a group or by
others: whoever could write them could make themselves admin or run code as the
service account. A root-owned sticky directory such as `/tmp` is allowed above
them, since nobody but an entry's owner may rename or remove it there.

`layout` goes further for `lookout doctor`: the store, the artifacts, the socket,
the audit keys and the Python that runs Lookout, each with the command that fixes it.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lookout.scheduler.config import Config
from lookout.scheduler.workspace import SOCKET_NAME


@dataclass(frozen=True)
class Finding:
    """One thing `lookout doctor` looked at; `fix` says what to run when it is wrong."""

    path: Path
    ok: bool
    detail: str
    fix: str = ""


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def writers(path: Path, trusted: set[int], st: os.stat_result | None = None) -> Finding | None:
    """Why someone untrusted could change `path` itself, or None."""
    st = st or os.stat(path)
    if st.st_uid not in trusted:
        owner = _name(st.st_uid)
        return Finding(path, False, f"owned by {owner}", f"chown {_name(max(trusted))} {path}")
    if st.st_mode & 0o022:
        sticky = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and st.st_uid == 0
        if not sticky:
            who = (
                "its group and others"
                if st.st_mode & 0o022 == 0o022
                else ("its group" if st.st_mode & 0o020 else "others")
            )
            mode = stat.S_IMODE(st.st_mode)
            return Finding(
                path, False, f"mode {mode:04o} lets {who} write it", f"chmod go-w {path}"
            )
    return None


def chain(path: Path, trusted: set[int]) -> list[Finding]:
    """`writers` for a path and every directory above it (symlinks resolved)."""
    found = []
    real = path.resolve()
    for p in (real, *real.parents):
        try:
            f = writers(p, trusted)
        except OSError as exc:
            f = Finding(p, False, f"cannot be examined: {exc.strerror}")
        if f is not None:
            found.append(f)
    return found


def tree(folder: Path, trusted: set[int]) -> list[Finding]:
    """`writers` for everything under a folder; a symlink is followed, with its parents."""
    found: list[Finding] = []
    for top, dirs, files in os.walk(folder):
        for entry in [*dirs, *files]:
            p = Path(top) / entry
            if p.is_symlink():
                found.extend(chain(p, trusted))
                continue
            f = writers(p, trusted, os.lstat(p))
            if f is not None:
                found.append(f)
    return found


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[Path] = set()
    out = []
    for f in findings:
        if f.path not in seen:
            seen.add(f.path)
            out.append(f)
    return out


def refusals(cfg: Config, service_uid: int) -> list[Finding]:
    """What keeps a shared workspace's daemon from starting (empty: it may start)."""
    trusted = {0, service_uid}
    found = chain(cfg.path, trusted)
    code = cfg.code_path
    if code.exists():
        found += chain(code, trusted) + tree(code, trusted)
    return _unique(found)


# -- lookout doctor -----------------------------------------------------------------------


def expect(path: Path, want: int, owner: int, gid: int | None, what: str) -> Finding:
    """A file or directory the daemon owns: owner, group and mode as `lookout init` makes them."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Finding(path, True, f"{what}: not there yet")
    except PermissionError:  # in a folder closed to this account, as the key's is
        return Finding(path, True, f"{what}: hidden from you (root or the owner can check it)")
    except OSError as exc:
        return Finding(path, False, f"{what}: cannot be examined: {exc.strerror}")
    if stat.S_ISLNK(st.st_mode):
        return Finding(
            path, False, f"{what}: is a symbolic link", f"replace {path} with a real file"
        )
    problems, fixes = [], []
    if st.st_uid != owner:
        problems.append(f"owned by {_name(st.st_uid)}")
        fixes.append(f"chown {_name(owner)} {path}")
    if gid is not None and st.st_gid != gid:
        problems.append(f"group {_group(st.st_gid)}")
        fixes.append(f"chgrp {_group(gid)} {path}")
    mode = stat.S_IMODE(st.st_mode)
    extra = mode & ~want & 0o7777
    if extra & 0o777:
        problems.append(f"mode {mode:04o} (want {want:04o})")
        fixes.append(f"chmod {want:04o} {path}")
    if problems:
        return Finding(path, False, f"{what}: " + ", ".join(problems), "; ".join(fixes))
    return Finding(path, True, f"{what}: {_name(st.st_uid)}:{_group(st.st_gid)} {mode:04o}")


def layout(cfg: Config, service_uid: int, gid: int) -> list[Finding]:
    """Everything in a shared workspace, checked against how `lookout init --shared` makes
    it: directories 2750 and files 0640 (or stricter), owned by the service account and
    the team's group; the store (with its batch folder), the artifacts and the code
    folder even where they lie outside the workspace directory."""
    found = [expect(cfg.path, 0o640, service_uid, gid, "the config")]
    db = cfg.database
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if p.exists() or p == db:
            found.append(expect(p, 0o640, service_uid, gid, "the store"))
    batches = db.with_name(db.name + "-batches")  # logged batches' raw rows
    for folder in (cfg.root, cfg.artifacts, cfg.code_path, *([batches] * batches.is_dir())):
        found.append(expect(folder, 0o2750, service_uid, gid, "a folder"))
        if not folder.is_dir() or folder.is_symlink():
            continue
        for top, dirs, files in os.walk(folder):
            for d in dirs:
                found.append(expect(Path(top) / d, 0o2750, service_uid, gid, "a folder"))
            for f in files:
                p = Path(top) / f
                if p.name != SOCKET_NAME or p.parent != cfg.root:  # the socket is 0660
                    found.append(expect(p, 0o640, service_uid, gid, "a file"))
    return _unique(found)


def python_environment(trusted: set[int]) -> list[Finding]:
    """Who could change the Python that runs Lookout: its prefix, its site-packages and
    Lookout's own files (a member who can write them runs code as the service account)."""
    paths = [Path(sys.prefix), *(Path(p) for p in sys.path if p.endswith("site-packages"))]
    found = [f for p in paths if p.exists() for f in chain(p, trusted)]
    rooms = Path(__file__).resolve().parent.parent  # storage/, scheduler/ and console/
    for room in ("storage", "scheduler", "console"):
        found += chain(rooms / room, trusted) + tree(rooms / room, trusted)
    return _unique(found)
