"""`format = "pagerduty"`: PagerDuty's Events API v2.

A message opens (or joins) one alert: `event_action` "trigger" with the
message's stable `dedup_key`, so a send repeated after a crash is merged, not
paged twice. When every event in it has resolved, the same key goes out with
"resolve". The integration (routing) key is read from the environment
variable `routing_key_env` names, never from lookout.toml.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from lookout.scheduler.formats.base import Message, NotSendable, cleared_at, event_fields
from lookout.scheduler.validate import Key, nonempty
from lookout.storage.records import iso

ENQUEUE = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"error": "error", "warn": "warning", "info": "info"}


class PagerDuty:
    name: str = "pagerduty"
    keys: Mapping[str, Key] = {"routing_key_env": Key(nonempty, required=True)}
    default_url: str | None = ENQUEUE
    pages: bool = True
    resolve_each: bool = False

    def refresh(self, target: Mapping[str, Any]) -> float | None:
        return None

    def body(self, message: Message, target: Mapping[str, Any]) -> bytes:
        variable = target["routing_key_env"]
        routing_key = os.environ.get(variable)
        if not routing_key:
            raise NotSendable(f"routing_key_env {variable} is not set; not sent")
        out: dict[str, Any] = {
            "routing_key": routing_key,
            "dedup_key": message.dedup_key,
        }
        if message.update and all(cleared_at(e) is not None for e in message.events):
            out["event_action"] = "resolve"
        else:
            first = message.events[0]
            out["event_action"] = "trigger"
            out["client"] = "Lookout"
            out["payload"] = {
                "summary": f"{message.subject()}: {message.summary()}"[:1024],
                "source": f"lookout:{message.workspace}",
                "severity": SEVERITY[message.severity],
                "timestamp": iso(first.at),
                "component": message.subject(),
                "group": first.batch or first.kind,
                "class": first.kind,
                "custom_details": {
                    "events": [event_fields(e) for e in message.events],
                    "audit_head": message.head_fields(),
                },
            }
        return json.dumps(out, ensure_ascii=False, sort_keys=True).encode()


FORMAT = PagerDuty()
