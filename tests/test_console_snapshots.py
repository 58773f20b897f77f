"""Every screen at 120×40 and 80×24 against its accepted SVG (update: --snapshot-update)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lookout.console.commands.screenshots import SCENES, SIZES, make_app
from lookout.console.showcase import seed
from lookout.scheduler.workspace import open_workspace

USER = "alice"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("snap") / "acme-ml"
    seed(root, USER).close()
    ws = open_workspace(root)
    yield ws
    ws.close()


@pytest.fixture(autouse=True)
def _quiet_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.mark.parametrize("size", list(SIZES.values()), ids=["120x40", "80x24"])
@pytest.mark.parametrize("scene", list(SCENES))
def test_screen(seeded: Any, snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(seeded), terminal_size=size, run_before=SCENES[scene])
