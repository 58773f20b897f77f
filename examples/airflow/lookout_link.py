"""The one place the example DAG talks to Lookout.

Lookout's SDK (`lookout.scheduler.sdk`) records the trained version in the
workspace named by `$LOOKOUT_WORKSPACE` in the Airflow workers' environment,
with the DAG run as its lineage. Lookout's scheduler then makes it the
`candidate` and opens the gated promotion request, as for its own pipelines.
Airflow parses this folder for DAGs; this module holds none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV = "LOOKOUT_WORKSPACE"


def workspace() -> Path:
    """The Lookout workspace this Airflow reports to."""
    path = os.environ.get(ENV, "").strip()
    if not path:
        raise RuntimeError(f"set {ENV} in the Airflow workers' environment to a Lookout workspace")
    return Path(path).expanduser()


def artifact_dir(model: str) -> Path:
    """Where a trained model file goes: under the workspace's artifacts, which Lookout serves from."""
    from lookout.scheduler import config

    folder = config.load(workspace()).artifacts / "airflow" / model
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def register(
    model: str,
    artifact: str,
    metrics: dict[str, float],
    params: dict[str, Any],
    lineage: dict[str, Any],
    reference: dict[str, list[float]],
    target: str,
) -> int:
    """Record a new version of `model` as the account this worker runs as (it needs the
    reporter role in the workspace); returns its number."""
    from lookout.scheduler import sdk

    with sdk.connect(workspace()) as lk:
        return sdk.register_version(
            lk,
            model,
            metrics=metrics,
            params=params,
            lineage=lineage,
            artifact_path=artifact,
            reference=reference,
            target=target,
        )
