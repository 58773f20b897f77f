"""A real Airflow 3 for the Airflow connector's tests and bench: `airflow standalone` on loopback.

It lives in `.venv-airflow` (its own venv, built by the Makefile: Airflow pins many
packages) and starts once per test session with `examples/airflow/` as its DAG
folder, a SQLite metadata DB in a temporary AIRFLOW_HOME and the simple auth
manager. DAGs are unpaused when created, so the example DAG's daily schedule gives
one run started by Airflow itself at once. Its tasks register versions in the
Lookout workspace named by LOOKOUT_WORKSPACE. It runs in its own session (setsid)
and is stopped by killing the process group, or its parts linger.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.mlflow_server import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-airflow"
DAGS = ROOT / "examples" / "airflow"
STARTUP_DEADLINE = 300.0  # a cold start on a busy two-core machine took 85 s
DAG_ID = "lookout_wine"


def need_airflow() -> Path:
    """The `airflow` command of .venv-airflow, or a skip (a failure in CI) saying how to build it."""
    airflow = VENV / "bin" / "airflow"
    if not (VENV / ".installed").exists() or not airflow.exists():
        message = f"{VENV} is missing: `make .venv-airflow/.installed` builds it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return airflow


@dataclass
class Airflow:
    """A running `airflow standalone`."""

    url: str
    home: Path
    workspace: Path  # the Lookout workspace its tasks register versions in
    pgid: int

    @property
    def password(self) -> str:
        """The admin password the simple auth manager generated."""
        data = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        return str(data["admin"])

    def token(self) -> str:
        answer = httpx.post(
            f"{self.url}/auth/token",
            json={"username": "admin", "password": self.password},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def get(self, path: str) -> dict[str, object]:
        """One `/api/v2` read, as the tests check what Airflow itself holds."""
        answer = httpx.get(
            f"{self.url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )
        answer.raise_for_status()
        return dict(answer.json())

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Every Airflow process stopped (SIGSTOP): connections are accepted, nothing answers."""
        os.killpg(self.pgid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.pgid, signal.SIGCONT)


def _ready(url: str, home: Path, dag_id: str) -> bool:
    """Healthy, and the DAG parsed (so triggering it works)."""
    try:
        health = httpx.get(f"{url}/api/v2/monitor/health", timeout=2).json()
        if any(part.get("status") != "healthy" for part in health.values()):
            return False
        secret = home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(secret.read_text())["admin"]
        token = httpx.post(
            f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=5
        ).json()["access_token"]
        dag = httpx.get(
            f"{url}/api/v2/dags/{dag_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        return dag.status_code == 200
    except (httpx.HTTPError, OSError, ValueError, KeyError, AttributeError):
        return False


@dataclass
class Launched:
    """An `airflow standalone` that is starting; `ready()` waits for it."""

    proc: subprocess.Popen[bytes]
    url: str
    home: Path
    workspace: Path
    directory: Path
    dag_id: str

    def ready(self, deadline: float = STARTUP_DEADLINE) -> Airflow:
        """Wait until it answers healthy with the DAG parsed; raise with its log's tail if not."""
        until = time.monotonic() + deadline
        while not _ready(self.url, self.home, self.dag_id):
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited: {_tail(self.log)}")
            if time.monotonic() > until:
                raise RuntimeError(
                    f"airflow standalone not ready in {deadline:g}s: {_tail(self.log)}"
                )
            time.sleep(1)
        return Airflow(self.url, self.home, self.workspace, self.proc.pid)

    @property
    def log(self) -> Path:
        return self.directory / "airflow.log"

    def stop(self) -> None:
        _stop(self.proc)


def launch(
    directory: Path,
    workspace: Path,
    dags: Path = DAGS,
    dag_id: str = DAG_ID,
    settings: dict[str, str] | None = None,
) -> Launched:
    """Start `airflow standalone` on a free loopback port with `dags` as its DAG folder, in
    its own session; returns at once. `settings` are more AIRFLOW__SECTION__KEY variables
    (the bench's throughput settings)."""
    airflow = VENV / "bin" / "airflow"
    home = directory / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LOOKOUT"))}
    env.update(
        {
            # its parts start `airflow` from PATH (checked-facts.md)
            "PATH": f"{airflow.parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",  # two cores: a few task processes at a time
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            # workers reach the API server on this port, not the default 8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            # A busy two-core machine: SQLite's default 5 s wait for the write lock let
            # Airflow's scheduler die of "database is locked", and workers gave up on the
            # API server after 5 s.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db?timeout=60",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "LOOKOUT_WORKSPACE": str(workspace),
            **(settings or {}),
        }
    )
    with (directory / "airflow.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(airflow), "standalone"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=directory,
            start_new_session=True,
        )
    return Launched(proc, url, home, workspace, directory, dag_id)


@contextlib.contextmanager
def airflow_standalone(
    directory: Path,
    workspace: Path,
    dags: Path = DAGS,
    dag_id: str = DAG_ID,
    settings: dict[str, str] | None = None,
) -> Iterator[Airflow]:
    """`launch`, wait until ready, yield; then stop its process group."""
    started = launch(directory, workspace, dags, dag_id, settings)
    try:
        yield started.ready()
    finally:
        started.stop()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, then SIGKILL what is left a few seconds later."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGCONT)  # a stopped group cannot act on SIGTERM
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
