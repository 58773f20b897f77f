"""Finding and opening a workspace: the directory with `lookout.toml` and its store.

In a personal workspace (the default) every process of its owner opens the store to
write. In a shared one (`[workspace] mode = "shared"`) only the daemon, running as
`service_user`, writes; everyone else opens the store read-only and asks the daemon
for every change over `lookout.sock` (`lookout.scheduler.client`).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from lookout.scheduler import config as config_mod
from lookout.scheduler import signing
from lookout.scheduler.config import Config, ConfigError
from lookout.storage.db import Store, StoreError
from lookout.storage.identity import current_user
from lookout.storage.schema import SCHEMA_VERSION

ENV_VAR = "LOOKOUT_WORKSPACE"
SOCKET_NAME = "lookout.sock"
CONFIG_SUBJECT = "lookout.toml"  # the audit subject of config loads
SHARED_FILE_MODE = 0o640  # files the daemon writes: the team's group reads them


def locate(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--workspace`, then $LOOKOUT_WORKSPACE, then the current directory."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path.cwd().resolve()


@dataclass
class Workspace:
    root: Path
    config: Config
    store: Store

    @property
    def shared(self) -> bool:
        return self.config.shared

    @property
    def socket(self) -> Path:
        """Where the daemon of a shared workspace listens."""
        return self.root / SOCKET_NAME

    def close(self) -> None:
        self.store.close()


def service_uid(cfg: Config) -> int:
    """The uid of a shared workspace's `service_user`; ConfigError when there is no such account."""
    name = cfg.workspace["service_user"]
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise ConfigError(
            f"{cfg.path}: workspace.service_user: no account named {name!r} on this host"
        ) from None


def open_workspace(
    explicit: str | os.PathLike[str] | None = None, readonly: bool = False, daemon: bool = False
) -> Workspace:
    """Load the config and open its store (creating and migrating it if this process writes).

    In a shared workspace only the daemon (`daemon=True`, which must run as the
    service account) opens the store to write; every other process reads it. A
    writable open signs the audit entries it writes with the workspace key
    (`lookout.scheduler.signing`), making the key pair if the workspace has none.
    """
    root = locate(explicit)
    cfg = config_mod.load(root)
    if cfg.shared:
        if daemon and os.getuid() != service_uid(cfg):
            raise ConfigError(
                f"{cfg.path}: the daemon of a shared workspace runs as"
                f" {cfg.workspace['service_user']} (workspace.service_user), not as {current_user()}"
            )
        readonly = readonly or not daemon
        if readonly and not cfg.database.exists():
            raise StoreError(
                f"{cfg.database}: no store yet: the daemon makes it when it starts"
                f" (`lookout scheduler`, as {cfg.workspace['service_user']})"
            )
    elif readonly and not cfg.database.exists():
        # A personal workspace whose config was written by hand (or copied) has no store
        # yet: make it, so that reading shows "nothing yet" rather than a dead end.
        Store(cfg.database, signer=signing.signer(cfg)).close()
    signer = None if readonly else signing.signer(cfg)

    def store() -> Store:
        return Store(
            cfg.database,
            readonly=readonly,
            group=cfg.workspace.get("group"),
            mode=SHARED_FILE_MODE if cfg.shared else None,
            signer=signer,
        )

    opened = store()
    version = opened.schema_version()
    if version < SCHEMA_VERSION:  # read-only, an older Lookout's store: reads would miss tables
        opened.close()
        if cfg.shared:
            raise StoreError(
                f"{cfg.database}: store has schema version {version}, this Lookout needs"
                f" {SCHEMA_VERSION}; the daemon upgrades it when it restarts"
            )
        # A personal store: upgrade it, as any writable open would.
        Store(cfg.database, signer=signing.signer(cfg)).close()
        opened = store()
    return Workspace(root, cfg, opened)


def record_config(ws: Workspace, actor: str) -> None:
    """Put the config's sha256 in the audit when it differs from the last one recorded, and
    what changed in `[policy]` when that did: who may do what is part of the record.

    The writer calls this when it starts (`Scheduler.prepare`), so the audit shows
    which config was in force from when.
    """
    from lookout.storage import audit

    policy = ws.config.policy
    with ws.store.write() as conn:
        loads = [e for e in audit.entries(ws.store, subject=CONFIG_SUBJECT) if e.action == "config"]
        last = loads[0] if loads else None
        if last is not None and last.details.get("sha256") == ws.config.sha256:
            return
        audit.append(
            conn,
            actor,
            "config",
            CONFIG_SUBJECT,
            "loaded",
            {"sha256": ws.config.sha256, "path": str(ws.config.path), "policy": policy},
        )
        before = None if last is None else last.details.get("policy")
        if before is not None and before != policy:
            changed = {
                key: {"before": before.get(key), "after": policy.get(key)}
                for key in sorted(set(before) | set(policy))
                if before.get(key) != policy.get(key)
            }
            audit.append(conn, actor, "policy", CONFIG_SUBJECT, "policy changed", changed)
