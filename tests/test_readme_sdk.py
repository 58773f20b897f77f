"""The README's SDK examples run as written, against a workspace made by `lookout init`.

Each ```python block that imports the SDK is run in a fresh interpreter, with the README's
`/srv/lookout` pointing at the new workspace and a `model.joblib` in the working directory.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lookout.storage import drift, pipelines, registry
from lookout.storage.db import Store

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [
    b
    for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    if "from lookout.scheduler import sdk" in b
]


def test_the_readme_has_sdk_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_an_sdk_example_runs_as_written(block: str, cli: Any, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).code == 0
    (tmp_path / "model.joblib").write_bytes(b"weights")
    done = subprocess.run(
        [sys.executable, "-c", block.replace("/srv/lookout", str(ws))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    store = Store(ws / "lookout.db", readonly=True)
    try:
        if "record_run" in block:
            (run,) = pipelines.list_runs(store)
            assert (run.pipeline, run.status, run.trigger) == (
                "nightly_churn",
                "succeeded",
                "airflow",
            )
            assert registry.get_version(store, "churn", 1) is not None
        if "log_inferences" in block:
            assert drift.logged_rows(store, "cancer") == 3
            assert drift.logged_rows(store, "cancer", "labels") == 3
    finally:
        store.close()
