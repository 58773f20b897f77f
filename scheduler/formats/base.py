"""What every notification format shares: the message it renders and the protocol it keeps.

A message is one or more events that go out together (the failures of one run
or one check pass), under a key that stays the same however often it is sent:
PagerDuty de-duplicates on it, Alertmanager groups by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lookout.scheduler.validate import Key
from lookout.storage.records import EVENT_SEVERITIES, AuditHead, Event, iso
from lookout.storage.text import sanitize

SUMMARY_LIMIT = 1000
SHOWN = 5  # events named in a summary before "and N more"


class NotSendable(Exception):
    """The target's settings cannot produce a request (a missing secret): one line, not sent."""


@dataclass(frozen=True)
class Message:
    """Events going out together to one target.

    `update` is False the first time a message is sent (every event is news)
    and True when a paging receiver is told how it stands now (which events
    resolved). `at` is when it is sent. `audit_head` is the audit record's newest
    signed entry, so every receiver keeps a copy outside the workspace (a record
    cut back later no longer reaches a head someone else has seen).
    """

    key: str
    events: tuple[Event, ...]
    workspace: str
    at: float
    update: bool = False
    audit_head: AuditHead | None = None

    def head_fields(self) -> dict[str, str | int] | None:
        h = self.audit_head
        return (
            None
            if h is None
            else {"seq": h.seq, "hash": h.hash, "signature": h.signature, "key": h.key}
        )

    @property
    def severity(self) -> str:
        return max((e.severity for e in self.events), key=EVENT_SEVERITIES.index)

    @property
    def dedup_key(self) -> str:
        """What a receiver de-duplicates on: the workspace and the message key."""
        ws = sanitize(self.workspace, 60, single_line=True)
        return f"lookout:{ws}:{self.key}"[:255]

    def subject(self) -> str:
        subjects = list(dict.fromkeys(e.subject for e in self.events))
        text = subjects[0] if len(subjects) == 1 else f"{subjects[0]} and {len(subjects) - 1} more"
        return sanitize(text, 200, single_line=True)

    def summary(self) -> str:
        """One line: the event's message, or how many failed and the first few of them."""
        if len(self.events) == 1:
            return sanitize(self.events[0].message, SUMMARY_LIMIT, single_line=True)
        shown = "; ".join(sanitize(e.message, 200, single_line=True) for e in self.events[:SHOWN])
        more = len(self.events) - SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        return sanitize(f"{len(self.events)} events: {shown}{tail}", SUMMARY_LIMIT)


def cleared_at(event: Event) -> float | None:
    """When a page for this event may close: when its condition resolved, or, for an event
    that names no condition (a rollback, an interrupted run), when someone acknowledged it."""
    if event.resolved_at is not None:
        return event.resolved_at
    return event.acked_at if event.dedup_key is None else None


def event_fields(event: Event) -> dict[str, Any]:
    """One event as the JSON formats show it (untrusted text sanitized)."""
    return {
        "id": event.id,
        "at": iso(event.at),
        "kind": event.kind,
        "severity": event.severity,
        "subject": sanitize(event.subject, 200, single_line=True),
        "message": sanitize(event.message, SUMMARY_LIMIT),
    }


class Format(Protocol):
    """How one kind of receiver wants to hear about events; one row in FORMATS."""

    name: str  # the value of `format` in [notifications.NAME]
    keys: Mapping[str, Key]  # settings only this format takes
    default_url: str | None  # where it posts when the target gives no `url`
    pages: bool  # the receiver keeps an alert firing until told it resolved
    resolve_each: bool  # each event resolves on its own (else the message as a whole)

    def refresh(self, target: Mapping[str, Any]) -> float | None:
        """Seconds after which an open page is sent again (None: never)."""
        ...

    def body(self, message: Message, target: Mapping[str, Any]) -> bytes:
        """The request body; raises NotSendable when the settings cannot produce one."""
        ...
