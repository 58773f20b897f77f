"""`lookout init [DIR]`: write a starter workspace whose config runs as it is.

`lookout init DIR --shared --group GROUP [--service-user USER]` (as root, or as the
service account) makes a team's workspace instead: every directory 2750 and every
file 0640, owned by the service account and the team's group, so only the daemon
(`lookout scheduler`, run as the service account) can change anything; then it
prints a systemd unit for the daemon.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import sys
from pathlib import Path

from lookout.console.output import UsageError, echo
from lookout.scheduler import signing, strict
from lookout.scheduler.config import CONFIG_NAME, Config, ConfigError, parse
from lookout.scheduler.workspace import SHARED_FILE_MODE, locate
from lookout.storage.db import Store, StoreError
from lookout.storage.identity import current_user

PERSONAL = """\
# Lookout workspace. Every key is described in the README's configuration reference.

[workspace]
name = "starter"
# database = "lookout.db"      # the store, relative to this file
# artifacts = "artifacts"      # model files and serving pointers
refresh = "2s"

# [code]
# path = "code"                # custom stages, dataset callables and checks load from here

[scheduler]
heartbeat = "5s"
lease = "30s"
misfire_grace = "5m"

[policy]
four_eyes = true               # a requester, or whoever started the run that asked,
                               # cannot approve the request
approvals_required = 1
metric_tolerance = 0.01        # candidate may be this much worse than production
[policy.roles]                 # OS accounts, or "group:NAME"; everyone else is a viewer
operator = ["{user}"]
approver = ["{user}"]
admin = ["{user}"]
"""

SHARED = """\
# A shared Lookout workspace: only its daemon (`lookout scheduler`, run as
# {service}) writes here; everyone else reads the store and asks the daemon for
# changes. Edit this file as {service} (or root) and restart the daemon.

[workspace]
name = "{name}"
mode = "shared"
service_user = "{service}"
group = "{group}"              # the team: may read the workspace and use the socket
refresh = "2s"

[code]
path = "code"                  # custom stages, dataset callables and checks load from here

[scheduler]
heartbeat = "5s"
lease = "30s"
misfire_grace = "5m"

[policy]
four_eyes = true               # a requester, or whoever started the run that asked,
                               # cannot approve the request
approvals_required = 1
metric_tolerance = 0.01
[policy.roles]                 # OS accounts, or "group:NAME"; everyone else is a viewer
reporter = []                  # log inference batches, record external runs and checks
operator = ["group:{group}"]   # run pipelines and checks, promote, roll back, acknowledge
approver = []                  # approve, reject, override failed gates: name two people
admin = []
"""

EXAMPLE = """
# The example dataset is scikit-learn's breast-cancer table.
[datasets.breast_cancer]
source = "lookout.scheduler.examples:breast_cancer"

[[datasets.breast_cancer.checks]]
name = "has_rows"
type = "row_count"
min = 100

[[datasets.breast_cancer.checks]]
name = "target_is_binary"
type = "allowed_values"
column = "target"
values = [0, 1]

[[datasets.breast_cancer.checks]]
name = "radius_in_range"
type = "range"
column = "mean radius"
min = 0
max = 50
severity = "warn"

[models.cancer]
task = "classification"
target = "target"
primary_metric = "roc_auc"

[pipelines.cancer_train]
dataset = "breast_cancer"
model = "cancer"
estimator = "sklearn.ensemble.RandomForestClassifier"
params = { n_estimators = 100, random_state = 0 }
schedule = "1h"
"""

UNIT = """\
# /etc/systemd/system/lookout-{name}.service
[Unit]
Description=Lookout daemon for {root}
After=network.target

[Service]
User={service}
Group={group}
UMask=0027
ExecStart={lookout} scheduler --workspace {root}
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target"""

DIR_MODE = 0o2750  # setgid: what the daemon creates belongs to the team's group


def _config(text: str, path: Path) -> Config:
    try:
        return parse(text, path)  # the starters must always be valid
    except ConfigError as exc:  # pragma: no cover - guarded by tests
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    root = locate(args.dir or getattr(args, "workspace", None))
    path = root / CONFIG_NAME
    if path.exists():
        raise UsageError(
            f"{path}: already exists; not overwriting it (`lookout status -w {root}` reads it)"
        )
    if args.shared:
        return _shared(args, root, path)
    if args.group or args.service_user:
        raise UsageError("init: --group and --service-user go with --shared")
    text = PERSONAL.format(user=current_user()) + EXAMPLE
    cfg = _config(text, path)
    try:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        Store(cfg.database).close()
        signing.ensure_key(cfg)
        cfg.artifacts.mkdir(parents=True, exist_ok=True)
    except (OSError, StoreError) as exc:
        raise UsageError(f"{root}: cannot create the workspace: {exc}") from None
    echo(f"wrote {path}")
    echo(f"next: lookout run cancer_train --workspace {root} --wait")
    return 0


def _accounts(args: argparse.Namespace) -> tuple[pwd.struct_passwd, grp.struct_group]:
    if not args.group:
        raise UsageError("init --shared: --group GROUP is required (the team's OS group)")
    try:
        group = grp.getgrnam(args.group)
    except KeyError:
        raise UsageError(f"init --shared: no group named {args.group!r}") from None
    me = os.geteuid()
    if args.service_user is None and me == 0:
        raise UsageError("init --shared: as root, name the daemon's account with --service-user")
    name = args.service_user or pwd.getpwuid(me).pw_name
    try:
        service = pwd.getpwnam(name)
    except KeyError:
        raise UsageError(f"init --shared: no account named {name!r}") from None
    if me not in (0, service.pw_uid):
        raise UsageError(
            f"init --shared: run this as root or as {service.pw_name}, who will own the workspace"
        )
    if me != 0 and group.gr_gid not in os.getgroups() and group.gr_gid != service.pw_gid:
        raise UsageError(f"init --shared: {service.pw_name} is not in the group {group.gr_name}")
    return service, group


def _shared(args: argparse.Namespace, root: Path, path: Path) -> int:
    service, group = _accounts(args)
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root}: exists and is not empty; a shared workspace starts empty")
    text = SHARED.format(name=root.name, service=service.pw_name, group=group.gr_name) + EXAMPLE
    cfg = _config(text, path)
    uid, gid = service.pw_uid, group.gr_gid

    def own(p: Path, mode: int) -> None:
        os.chown(p, uid, gid)
        os.chmod(p, mode)

    try:
        root.mkdir(parents=True, exist_ok=True)
        own(root, DIR_MODE)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, SHARED_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        own(path, SHARED_FILE_MODE)
        for folder in (cfg.artifacts, cfg.code_path):
            folder.mkdir(parents=True, exist_ok=True)
            own(folder, DIR_MODE)
        Store(cfg.database, group=group.gr_name, mode=SHARED_FILE_MODE).close()
        own(cfg.database, SHARED_FILE_MODE)
        signing.ensure_key(cfg)  # the private key: the service account's alone (0700, 0600)
        keys = signing.paths(cfg)
        for p in (keys.key.parent, keys.key, keys.public_key):
            os.chown(p, uid, gid)
    except (OSError, StoreError) as exc:
        raise UsageError(f"{root}: cannot create the workspace: {exc}") from None
    echo(f"wrote {path}: a shared workspace of {group.gr_name}, written by {service.pw_name}")
    for problem in strict.refusals(cfg, uid):
        echo(f"fix first: {problem.path}: {problem.detail} ({problem.fix})")
    lookout = Path(sys.executable).with_name("lookout")
    unit = UNIT.format(
        name=root.name,
        root=root,
        service=service.pw_name,
        group=group.gr_name,
        lookout=lookout if lookout.exists() else "lookout",
    )
    for line in unit.splitlines():
        echo(line)
    echo(f"next: start that unit, or `lookout scheduler --workspace {root}` as {service.pw_name}")
    return 0
