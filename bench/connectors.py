"""Connector benchmark: webhook delivery throughput and the cost of an MLflow sync.

- Webhooks: 300 events to a loopback receiver that answers 200 at once.
- MLflow: a loopback server answering MLflow's REST shapes for 50 models x 10
  versions (the real `mlflow server` takes most of a minute to start, and what
  is measured here is Lookout's side: requests, parsing, the one write
  transaction). First sync (everything is new) and a steady sync (nothing
  changed, the every-30s case).

Prints medians of several runs.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lookout.scheduler.connectors import mlflow, webhooks
from lookout.scheduler.workspace import Workspace, open_workspace
from lookout.storage import events

RUNS = 3
EVENTS = 300
MODELS = 50
VERSIONS = 10


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _answer(path: str, query: dict[str, list[str]]) -> dict[str, object]:
    if path.endswith("registered-models/search"):
        return {"registered_models": [{"name": f"m{i}"} for i in range(MODELS)]}
    if path.endswith("registered-models/get"):
        return {
            "registered_model": {
                "name": query["name"][0],
                "aliases": [
                    {"alias": "champion", "version": "9"},
                    {"alias": "challenger", "version": "10"},
                ],
            }
        }
    if path.endswith("model-versions/search"):
        name = query["filter"][0].split("'")[1]
        return {
            "model_versions": [
                {
                    "name": name,
                    "version": str(v),
                    "run_id": f"{name}-{v}",
                    "status": "READY",
                    "tags": [{"key": "team", "value": "risk"}],
                }
                for v in range(1, VERSIONS + 1)
            ]
        }
    if path.endswith("runs/get"):
        return {
            "run": {
                "data": {
                    "metrics": [{"key": "f1", "value": 0.8}, {"key": "auc", "value": 0.9}],
                    "params": [{"key": "max_depth", "value": "4"}],
                }
            }
        }
    return {}


class FakeMlflow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        body = json.dumps(_answer(parts.path, parse_qs(parts.query))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def workspace(root: Path, toml: str) -> Workspace:
    root.mkdir(parents=True)
    (root / "lookout.toml").write_text(toml)
    return open_workspace(root)


def bench_webhooks(tmp: Path) -> float:
    rates = []
    with serve(Receiver) as url:
        for run in range(RUNS):
            ws = workspace(tmp / f"hooks{run}", f'[notifications.ops]\nurl = "{url}/hook"\n')
            for i in range(EVENTS):
                events.record(ws.store, "drift", f"model{i}", "drift on 3 of 5 features")
            started = time.perf_counter()
            sent = webhooks.deliver_pending(ws)
            while sent:  # 100 per pass
                sent = webhooks.deliver_pending(ws)
            rates.append(EVENTS / (time.perf_counter() - started))
            ws.close()
    return statistics.median(rates)


def bench_mlflow(tmp: Path) -> tuple[float, float]:
    first, steady = [], []
    with serve(FakeMlflow) as url:
        for run in range(RUNS):
            ws = workspace(tmp / f"mlflow{run}", f'[mlflow]\ntracking_uri = "{url}"\n')
            started = time.perf_counter()
            report = mlflow.sync(ws)
            first.append(time.perf_counter() - started)
            assert report.ok and report.versions_added == MODELS * VERSIONS, report
            started = time.perf_counter()
            assert mlflow.sync(ws).ok
            steady.append(time.perf_counter() - started)
            ws.close()
    return statistics.median(first), statistics.median(steady)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rate = bench_webhooks(tmp)
        print(
            f"webhooks: {rate:,.0f} events/s delivered to a loopback receiver ({EVENTS} events, median of {RUNS})"
        )
        first, steady = bench_mlflow(tmp)
        n = MODELS * VERSIONS
        print(
            f"mlflow sync, {MODELS} models x {VERSIONS} versions: first {first:.2f} s ({n} versions imported), "
            f"steady {steady * 1000:.0f} ms (median of {RUNS})"
        )


if __name__ == "__main__":
    main()
