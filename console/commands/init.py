"""`lookout init [DIR]`: write a starter workspace whose config runs as it is."""

from __future__ import annotations

import argparse

from lookout.console.output import UsageError
from lookout.scheduler import signing
from lookout.scheduler.config import CONFIG_NAME, ConfigError, parse
from lookout.scheduler.workspace import locate
from lookout.storage.db import Store, StoreError

STARTER = """\
# Lookout workspace. Every key is described in the README's configuration reference.

[workspace]
name = "starter"
# database = "lookout.db"      # the store, relative to this file
# artifacts = "artifacts"      # model files and serving pointers
# group = "mlops"              # share the store with a group (file mode 0660)
refresh = "2s"

[scheduler]
heartbeat = "5s"
lease = "30s"
misfire_grace = "5m"

[policy]
four_eyes = true               # a requester cannot approve their own request
approvals_required = 1
metric_tolerance = 0.01        # candidate may be this much worse than production
[policy.roles]                 # OS accounts, or "group:NAME"; everyone else is a viewer
operator = ["{user}"]
approver = ["{user}"]
admin = ["{user}"]

# The example dataset is scikit-learn's breast-cancer table, written to
# data/breast_cancer.csv by the callable below on first run.
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
params = {{ n_estimators = 100, random_state = 0 }}
schedule = "1h"
"""


def run(args: argparse.Namespace) -> int:
    root = locate(args.dir or getattr(args, "workspace", None))
    path = root / CONFIG_NAME
    if path.exists():
        raise UsageError(f"{path}: already exists; not overwriting it")
    from lookout.storage.identity import current_user

    text = STARTER.format(user=current_user())
    try:
        cfg = parse(text, path)  # the starter must always be valid
    except ConfigError as exc:  # pragma: no cover - guarded by tests
        raise UsageError(str(exc)) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        Store(cfg.database).close()
        signing.ensure_key(cfg)
        cfg.artifacts.mkdir(parents=True, exist_ok=True)
    except (OSError, StoreError) as exc:
        raise UsageError(f"{root}: cannot create the workspace: {exc}") from None
    print(f"wrote {path}")
    print(f"next: lookout run cancer_train --workspace {root} --wait")
    return 0
