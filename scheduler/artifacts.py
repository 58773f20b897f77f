"""Model files runs write, and the ones left over when a run never registered its model.

The train stage writes `artifacts/MODEL/run-ID.joblib` (through a temporary
`.run-ID.joblib.PID.tmp`); the register stage records it as a version. A run
that is interrupted, cancelled or fails after training, or a re-run of a run
whose first attempt already registered, leaves a file no version refers to.
`orphaned_artifacts` lists them (for `lookout doctor`); the scheduler removes
them when it starts and every hour. Only names of this form, in a model's
folder, whose run has ended, are ever touched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lookout.scheduler import safefs
from lookout.scheduler.workspace import Workspace
from lookout.storage import pipelines, registry

_RUN_FILE = re.compile(r"^\.?run-(\d+)\.joblib(?:\.\d+\.tmp)?$")


def run_artifact(ws: Workspace, model: str, run_id: int) -> Path:
    """Where run `run_id` writes the model it trains."""
    return ws.config.artifacts / model / f"run-{run_id}.joblib"


def orphaned_artifacts(ws: Workspace) -> list[Path]:
    """Files runs wrote that no version refers to, whose run has ended."""
    base = ws.config.artifacts
    recorded = {os.path.normpath(ws.config.resolve(p)) for p in registry.artifact_paths(ws.store)}
    unfinished = pipelines.unfinished_run_ids(ws.store)
    found = []
    for folder in safefs.listdir(base, base):
        if folder == "serving":
            continue
        try:
            names = safefs.listdir(base, base / folder)
        except (OSError, safefs.UnsafePath):
            continue  # not a folder, or a symlink: not ours to judge
        for name in names:
            m = _RUN_FILE.match(name)
            path = base / folder / name
            if m is None or int(m.group(1)) in unfinished:
                continue
            if os.path.normpath(path) not in recorded:
                found.append(path)
    return sorted(found)


def remove_orphaned_artifacts(ws: Workspace) -> list[Path]:
    """Remove what `orphaned_artifacts` lists; returns what was removed."""
    removed = []
    for path in orphaned_artifacts(ws):
        try:
            if safefs.remove(ws.config.artifacts, path):
                removed.append(path)
        except (OSError, safefs.UnsafePath):
            continue
    return removed
