"""Finding and opening a workspace: the directory with `lookout.toml` and its store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lookout.scheduler import config as config_mod
from lookout.scheduler import signing
from lookout.scheduler.config import Config
from lookout.storage.db import Store

ENV_VAR = "LOOKOUT_WORKSPACE"


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

    def close(self) -> None:
        self.store.close()


def open_workspace(
    explicit: str | os.PathLike[str] | None = None, readonly: bool = False
) -> Workspace:
    """Load the config and open (creating and migrating if needed) its store.

    A writable open signs the audit entries it writes with the workspace key
    (`lookout.scheduler.signing`), making the key pair if the workspace has none.
    """
    root = locate(explicit)
    cfg = config_mod.load(root)
    signer = None if readonly else signing.signer(cfg)
    store = Store(cfg.database, readonly=readonly, group=cfg.workspace.get("group"), signer=signer)
    return Workspace(root, cfg, store)
