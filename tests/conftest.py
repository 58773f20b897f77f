"""Shared fixtures: real workspaces in temporary directories, the CLI run in-process."""

from __future__ import annotations

import io
import json
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`lookout demo DIR --no-tui`, built once per run by the real parts (a failing check,
    a drifted model, promotions, a rollback, a pending request): copy it before changing it."""
    import subprocess

    root = tmp_path_factory.mktemp("demo") / "ws"
    built = subprocess.run(
        [PYTHON, "-m", "lookout.console.cli", "demo", str(root), "--no-tui"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert built.returncode == 0, built.stderr
    return root


@pytest.fixture(scope="session")
def team() -> Any:
    """A real group of OS accounts (service account, people, an outsider), made once per
    run and removed afterwards; see tests/accounts.py."""
    from tests import accounts

    accounts.need_root("create OS accounts")
    accounts.os_python()
    with accounts.team() as t:
        yield t


# -- webhook receivers on loopback ----------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver whose answer to the n-th request is `answer(n, request)`: a status
    code, or a status code and headers to send with it."""

    answer: Callable[[int, Received], int | tuple[int, dict[str, str]]]
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(answer: Callable[[int, Received], int | tuple[int, dict[str, str]]]) -> Receiver:
        rec = Receiver(answer)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got = Received(dict(self.headers.items()), body)
                rec.requests.append(got)
                answer = rec.answer(len(rec.requests), got)
                code, headers = answer if isinstance(answer, tuple) else (answer, {})
                if code == 0:  # hang until the test ends
                    rec.release.wait(30)
                    return
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        rec.server.daemon_threads = True
        threading.Thread(target=rec.server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(rec)
        return rec

    yield start
    for rec in started:
        rec.release.set()
        assert rec.server is not None
        rec.server.shutdown()
        rec.server.server_close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cases against the real Airflow run last, so that its start (launched with the first
    test, below) overlaps the rest of the suite instead of adding to it."""
    items.sort(key=lambda item: "airflow" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def _airflow_launch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """Launch `airflow standalone` (tests/airflow_server.py) with the first test of a run that
    has Airflow cases; stop its process group at the end."""
    from tests.airflow_server import VENV, launch

    wanted = any("airflow" in getattr(i, "fixturenames", ()) for i in request.session.items)
    if not wanted or not (VENV / ".installed").exists():
        yield None
        return
    base = tmp_path_factory.mktemp("airflow")
    root = base / "ws"
    root.mkdir()
    (root / "lookout.toml").write_text(MINIMAL)
    started = launch(base, root)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def airflow(_airflow_launch: Any) -> Any:
    """A real Airflow 3, started once per run with the example DAGs (examples/airflow/); its
    tasks register versions in the workspace `airflow.workspace`."""
    from tests.airflow_server import need_airflow

    need_airflow()
    return _airflow_launch.ready()
