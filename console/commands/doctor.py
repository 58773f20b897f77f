"""`lookout doctor [--json]`: is this workspace laid out so that it can be trusted?

For a shared workspace: owners, groups and modes of everything in it (as `lookout
init --shared` makes them), what would keep the daemon from starting (config or code
writable by others, or a directory above them), the socket and whether a daemon
answers it (and who it takes you for), the audit's key files, and whether anyone
else could change the Python that runs Lookout. For a personal one: that nobody
but its owner can write it. Each problem comes with the command that fixes it;
exit 1 when there is one.
"""

from __future__ import annotations

import argparse
import grp
import os
import stat
from pathlib import Path

from lookout.console.output import UsageError, echo, print_json
from lookout.scheduler import signing, strict
from lookout.scheduler.config import Config, ConfigError, load
from lookout.scheduler.daemon import SOCKET_MODE
from lookout.scheduler.door import changes
from lookout.scheduler.strict import Finding
from lookout.scheduler.workspace import locate, open_workspace, service_uid
from lookout.storage.db import StoreError

KEY_DIR_MODE = 0o700
KEY_MODE = 0o600


def _socket(cfg: Config, uid: int, gid: int) -> list[Finding]:
    path = cfg.root / "lookout.sock"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return [Finding(path, False, "no socket: the daemon is not running", "start the daemon")]
    if not stat.S_ISSOCK(st.st_mode):
        return [Finding(path, False, "is not a socket", f"stop the daemon, remove {path}")]
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != uid or st.st_gid != gid or mode != SOCKET_MODE:
        return [
            Finding(
                path,
                False,
                f"socket mode {mode:04o} (want {SOCKET_MODE:04o}, owned by the service account"
                " and the team's group)",
                "restart the daemon",
            )
        ]
    return [Finding(path, True, f"socket: {mode:04o}")]


def _daemon(root: Path) -> Finding:
    """Ask the daemon who it takes us for: proves it answers and reads the kernel's word."""
    try:
        ws = open_workspace(root)
    except (ConfigError, StoreError) as exc:
        return Finding(root, False, f"the store: {exc}")
    try:
        answer = changes(ws).perform("whoami")
    finally:
        ws.close()
    if not answer.ok:
        return Finding(ws.socket, False, answer.message, "start the daemon")
    return Finding(ws.socket, True, f"the daemon answers: you are {answer.message}")


def _keys(cfg: Config, uid: int) -> list[Finding]:
    """The audit's keys (`lookout.scheduler.signing`): only the service account may read
    the private one; the public one and the witness are for everyone to check against."""
    p = signing.paths(cfg)
    found = [
        strict.expect(p.key.parent, KEY_DIR_MODE, uid, None, "the audit key's folder"),
        strict.expect(p.key, KEY_MODE, uid, None, "the audit key"),
    ]
    if p.witness is None:
        found.append(
            Finding(cfg.path, True, "no audit.witness: cutting the record's end goes unseen")
        )
    elif p.witness.resolve().is_relative_to(cfg.root.resolve()):
        found.append(Finding(p.witness, False, "the witness is inside the workspace"))
    else:  # members must not be able to cut it either
        found += strict.chain(p.witness, {0, uid})
    return found


def _shared(cfg: Config) -> list[Finding]:
    uid = service_uid(cfg)
    try:
        gid = grp.getgrnam(cfg.workspace["group"]).gr_gid
    except KeyError:
        return [Finding(cfg.path, False, f"no group named {cfg.workspace['group']!r}")]
    found = [
        Finding(f.path, False, f"the daemon would refuse to start: {f.detail}", f.fix)
        for f in strict.refusals(cfg, uid)
    ]
    found += strict.layout(cfg, uid, gid)
    found += _socket(cfg, uid, gid)
    if found[-1].ok:
        found.append(_daemon(cfg.root))
    found += _keys(cfg, uid)
    found += [
        Finding(f.path, False, f"the Python that runs Lookout: {f.detail}", f.fix)
        for f in strict.python_environment({0, uid})
    ]
    return found


def _personal(cfg: Config) -> list[Finding]:
    """Only the owner writes a personal workspace (the group reads it when one is named)."""
    owner = os.stat(cfg.root).st_uid
    found = strict.chain(cfg.path, {0, owner})
    for p in (cfg.database, cfg.artifacts, cfg.code_path):
        if p.exists():
            found += strict.chain(p, {0, owner})
    if not found:
        found.append(Finding(cfg.root, True, "personal: only its owner can write it"))
    return found


def run(args: argparse.Namespace) -> int:
    root = locate(getattr(args, "workspace", None))
    try:
        cfg = load(root)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    found = _shared(cfg) if cfg.shared else _personal(cfg)
    problems = [f for f in found if not f.ok]
    if args.json:
        print_json(
            {
                "ok": not problems,
                "mode": cfg.workspace["mode"],
                "checks": [
                    {"path": str(f.path), "ok": f.ok, "detail": f.detail, "fix": f.fix or None}
                    for f in found
                ],
            }
        )
    else:
        for f in found:
            if f.ok and f.detail.startswith(("a file", "a folder", "the store", "the config")):
                continue  # the layout's sound paths: many, and the JSON lists them
            line = f"{'ok ' if f.ok else 'FIX'}  {f.path}: {f.detail}"
            if f.fix and not f.ok:
                line += f"  → {f.fix}"
            echo(line, 400)
        tally = f"{len(found)} paths checked"
        echo(f"{len(problems)} problem(s); {tally}" if problems else f"nothing to fix; {tally}")
    return 1 if problems else 0
