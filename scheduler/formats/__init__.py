"""Notification formats: how each kind of receiver wants to hear about events.

Each format is a module here with an object implementing `Format` (its own
settings, where it posts by default, whether the receiver pages and so must
be told when things resolve, and the request body), and one row in FORMATS
(see ARCHITECTURE.md). `[notifications.NAME] format = "..."` picks a row;
`lookout.scheduler.connectors.webhooks` groups events into messages, sends
them, and follows up on pages.
"""

from __future__ import annotations

from lookout.scheduler.formats import alertmanager, generic, pagerduty, slack
from lookout.scheduler.formats.base import Format, Message, NotSendable, cleared_at

FORMATS: dict[str, Format] = {
    f.name: f for f in (generic.FORMAT, slack.FORMAT, pagerduty.FORMAT, alertmanager.FORMAT)
}

__all__ = ["FORMATS", "Format", "Message", "NotSendable", "cleared_at"]
