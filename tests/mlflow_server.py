"""Real servers for the MLflow connector's tests: `mlflow server` on loopback, and one that hangs.

Versions are registered and aliases moved with MLflow's own client, as a team
using MLflow would; Lookout itself only ever talks REST to the server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

STARTUP_DEADLINE = 180.0  # a cold `mlflow server` on a busy two-core machine is slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def mlflow_server(directory: Path) -> Iterator[str]:
    """Start `mlflow server` with a SQLite backend on a free port; yield its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",  # no background job runner to start
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (directory / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{directory / 'mlflow.db'}",
            "--default-artifact-root",
            str(directory / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        waited = threading.Event()
        deadline = time.monotonic() + STARTUP_DEADLINE
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {_tail(directory / 'server.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not start: {_tail(directory / 'server.log')}"
                )
            waited.wait(0.25)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)  # the CLI and the uvicorn worker it started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(10)
        log.close()


def _tail(path: Path) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-5:])


def client(url: str):  # -> mlflow.MlflowClient (imported late: mlflow is slow to import)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def register(
    url: str, model: str, metrics: dict[str, float], tags: dict[str, str] | None = None
) -> int:
    """Log a run with these metrics and register it as the model's next version."""
    c = client(url)
    with contextlib.suppress(Exception):  # already registered
        c.create_registered_model(model)
    run = c.create_run(experiment_id="0")
    for key, value in metrics.items():
        c.log_metric(run.info.run_id, key, value)
    c.log_param(run.info.run_id, "max_depth", "4")
    c.set_terminated(run.info.run_id)
    version = c.create_model_version(
        model, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags=tags or {}
    )
    return int(version.version)


def mlflow_alias(url: str, model: str, alias: str) -> int | None:
    """Where an alias points in MLflow, read with MLflow's own client."""
    c = client(url)
    aliases = c.get_registered_model(model).aliases
    return int(aliases[alias]) if alias in aliases else None


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """An HTTP server that accepts requests and never answers while the test runs."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(30)

        do_POST = do_GET
        do_DELETE = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def echo_server(status: int = 403) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server that records request headers and refuses with MLflow's error shape,
    echoing the Authorization header back (as a careless proxy might)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            body = (
                '{"error_code": "PERMISSION_DENIED", "message": "bad credentials: '
                + self.headers.get("Authorization", "")
                + '\\u001b[31m"}'
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
