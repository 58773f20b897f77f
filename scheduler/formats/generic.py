"""`format = "json"`: a plain JSON object for any receiver that reads JSON.

One event is the object `{source, workspace, id, at, kind, severity, subject,
message, audit_head}`. A message of several events (one run's or one check pass's
failures) is the same object for its first event, with the highest severity,
a subject and message that sum the events up, and `events`: each of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lookout.scheduler.formats.base import Message, event_fields
from lookout.scheduler.validate import Key


class Generic:
    name: str = "json"
    keys: Mapping[str, Key] = {}
    default_url: str | None = None
    pages: bool = False
    resolve_each: bool = False

    def refresh(self, target: Mapping[str, Any]) -> float | None:
        return None

    def body(self, message: Message, target: Mapping[str, Any]) -> bytes:
        first = message.events[0]
        out: dict[str, Any] = {"source": "lookout", "workspace": message.workspace}
        out.update(event_fields(first))
        out["audit_head"] = message.head_fields()
        if len(message.events) > 1:
            out.update(
                severity=message.severity,
                subject=message.subject(),
                message=message.summary(),
                key=message.key,
                events=[event_fields(e) for e in message.events],
            )
        return json.dumps(out, ensure_ascii=False, sort_keys=True).encode()


FORMAT = Generic()
