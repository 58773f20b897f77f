"""`format = "slack"`: an incoming-webhook message, `{"text": ...}`.

One line per event; a message of several events starts with a line that
sums them up. Slack reads `<...>` as links and mentions (`<!channel>`), so
the text is escaped as Slack documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lookout.scheduler.formats.base import Message
from lookout.scheduler.validate import Key
from lookout.storage.records import Event
from lookout.storage.text import sanitize

TEXT_LIMIT = 2000
LINES = 10  # events listed in one message before "and N more"


def _line(e: Event, workspace: str) -> str:
    subject = sanitize(e.subject, 200, single_line=True)
    message = sanitize(e.message, TEXT_LIMIT)
    return f"[{e.severity}] {e.kind} · {subject}: {message} ({workspace})"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack:
    name: str = "slack"
    keys: Mapping[str, Key] = {}
    default_url: str | None = None
    pages: bool = False
    resolve_each: bool = False

    def refresh(self, target: Mapping[str, Any]) -> float | None:
        return None

    def body(self, message: Message, target: Mapping[str, Any]) -> bytes:
        ws = message.workspace
        if len(message.events) == 1:
            text = _line(message.events[0], ws)
        else:
            head = f"[{message.severity}] {len(message.events)} events · {message.subject()} ({ws})"
            lines = [_line(e, ws) for e in message.events[:LINES]]
            more = len(message.events) - LINES
            text = "\n".join([head, *lines] + ([f"… and {more} more"] if more > 0 else []))
        if message.audit_head is not None:
            text += f" · audit head {message.audit_head.seq} {message.audit_head.hash[:16]}"
        return json.dumps({"text": escape(text)}, ensure_ascii=False, sort_keys=True).encode()


FORMAT = Slack()
