"""Loopback stand-ins for PagerDuty's Events API v2 and Alertmanager's alerts API.

Each keeps the state its real counterpart would (incidents by dedup key; alerts by
label set, firing until their endsAt) and answers as it does, so tests assert what
an on-call person would see, not just what was posted.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Incident:
    dedup_key: str
    status: str  # triggered | resolved
    triggers: int  # trigger events merged into it (a repeat is de-duplicated, not paged)
    payload: dict[str, Any]


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    posts: list[Any] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # subjects answered with HTTP 400
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@dataclass
class PagerDuty(Receiver):
    routing_key: str = "R0UTINGKEY"
    incidents: dict[str, Incident] = field(default_factory=dict)
    opened: int = 0  # incidents ever opened

    @property
    def url(self) -> str:
        return self.base + "/v2/enqueue"

    def take(self, body: Any) -> tuple[int, Any]:
        if body.get("routing_key") != self.routing_key:
            return 400, {"status": "invalid event", "errors": ["invalid routing key"]}
        key, action = body.get("dedup_key"), body.get("event_action")
        if not key or action not in ("trigger", "resolve"):
            return 400, {"status": "invalid event", "errors": ["bad dedup_key or action"]}
        current = self.incidents.get(key)
        if action == "trigger":
            payload = body["payload"]
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    return 400, {"status": "invalid event", "errors": [f"missing {name}"]}
            if payload["component"] in self.refuse:
                return 400, {"status": "invalid event", "errors": ["refused"]}
            if current is None or current.status == "resolved":
                self.incidents[key] = Incident(key, "triggered", 1, payload)
                self.opened += 1
            else:
                current.triggers += 1
        elif current is not None:
            current.status = "resolved"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.status == "triggered"]


def _parse_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Alertmanager(Receiver):
    alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.base + "/api/v2/alerts"

    def take(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, list):
            return 400, {"message": "expected a list of alerts"}
        for alert in body:
            labels = alert.get("labels") or {}
            if not labels.get("alertname"):
                return 400, {"message": "alertname missing"}
            if labels.get("subject") in self.refuse:
                return 400, {"message": "refused"}
            starts, ends = _parse_time(alert["startsAt"]), _parse_time(alert["endsAt"])
            if ends < starts:
                return 400, {"message": "endsAt before startsAt"}
            self.alerts[tuple(sorted(labels.items()))] = {**alert, "ends": ends}
        return 200, ""

    def firing(self, at: float) -> list[dict[str, str]]:
        return [dict(k) for k, a in self.alerts.items() if a["ends"] > at]


@contextmanager
def serving(kind: type[PagerDuty] | type[Alertmanager]) -> Iterator[Any]:
    holder: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = holder[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw)
            with rec.lock:
                rec.posts.append(body)
                code, answer = rec.take(body)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(kind(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
