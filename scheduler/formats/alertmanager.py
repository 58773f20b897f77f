"""`format = "alertmanager"`: Prometheus Alertmanager's `POST /api/v2/alerts`.

Each event is one alert, labelled so Alertmanager's own routing and grouping
work on it (`alertname`, `severity`, `workspace`, `kind`, `subject`, and
`lookout_group`: the message it went out in). Alertmanager forgets an alert
that is not sent again (its `resolve_timeout`), so while an event is open its
alert is re-sent every `resend`, with `endsAt` four resends ahead as Prometheus
does; when it resolves (or, naming no condition, is acknowledged), one last send carries
`endsAt` = that time.
`url` is the full endpoint, e.g. http://127.0.0.1:9093/api/v2/alerts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from lookout.scheduler.formats.base import Message, cleared_at
from lookout.scheduler.validate import Key, duration
from lookout.storage.records import Event
from lookout.storage.text import sanitize

SEVERITY = {"error": "critical", "warn": "warning", "info": "info"}
AHEAD = 4  # resends an alert's endsAt lies ahead while it is open


def rfc3339(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def alertname(kind: str) -> str:
    return "Lookout" + "".join(part.capitalize() for part in kind.split("_"))


class Alertmanager:
    name: str = "alertmanager"
    keys: Mapping[str, Key] = {"resend": Key(duration, default=60.0)}
    default_url: str | None = None
    pages: bool = True
    resolve_each: bool = True

    def refresh(self, target: Mapping[str, Any]) -> float | None:
        return float(target["resend"])

    def _alert(self, e: Event, message: Message, target: Mapping[str, Any]) -> dict[str, Any]:
        cleared = cleared_at(e) if message.update else None
        ends = cleared if cleared is not None else message.at + AHEAD * target["resend"]
        return {
            "labels": {
                "alertname": alertname(e.kind),
                "severity": SEVERITY[e.severity],
                "workspace": sanitize(message.workspace, 100, single_line=True),
                "kind": e.kind,
                "subject": sanitize(e.subject, 200, single_line=True),
                "lookout_event": str(e.id),
                "lookout_group": message.key,
            },
            "annotations": {
                "summary": sanitize(f"{e.subject}: {e.message}", 1000, single_line=True),
                "description": sanitize(e.message, 2000),
                **(
                    {"audit_head": f"{message.audit_head.seq} {message.audit_head.hash}"}
                    if message.audit_head
                    else {}
                ),
            },
            "startsAt": rfc3339(e.at),
            "endsAt": rfc3339(ends),
        }

    def body(self, message: Message, target: Mapping[str, Any]) -> bytes:
        alerts = [self._alert(e, message, target) for e in message.events]
        return json.dumps(alerts, ensure_ascii=False, sort_keys=True).encode()


FORMAT = Alertmanager()
