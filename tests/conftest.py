"""Shared fixtures: real workspaces in temporary directories, the CLI run in-process."""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lookout.console.cli import main
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage.db import Store

MINIMAL = """
[workspace]
name = "test"
"""


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "lookout.db")
    yield s
    s.close()


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """Write a lookout.toml (MINIMAL by default) and open the workspace."""
    opened: list[Workspace] = []

    def make(text: str = MINIMAL, name: str = "ws") -> Workspace:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        (root / "lookout.toml").write_text(text)
        ws = open_workspace(root)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run `lookout ARGS` in this process and capture what it prints."""

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


PYTHON = sys.executable


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded console workspace (tests/seed.py), built once per test run."""
    from lookout.console.showcase import seed

    root = tmp_path_factory.mktemp("template") / "ws"
    seed(root, "alice").close()
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh copy of the seeded workspace (one request pending: churn v3 → v4 by the
    scheduler, its drift gate failed); logs and keymaps in the test's own dirs."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    w = open_workspace(root)
    yield w
    w.close()


@pytest.fixture(scope="session")
def team() -> Any:
    """A real group of OS accounts (service account, people, an outsider), made once per
    run and removed afterwards; see tests/accounts.py."""
    from tests import accounts

    accounts.need_root("create OS accounts")
    accounts.os_python()
    with accounts.team() as t:
        yield t
