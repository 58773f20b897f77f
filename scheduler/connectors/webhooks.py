"""Webhook notifications: tell a chat or an incident tool about events on the timeline.

Each `[notifications.NAME]` target gets every event of the kinds it asked for
(all kinds when none are listed), as a generic JSON object or a Slack-style
`{"text": ...}`, signed with HMAC-SHA256 when a secret is configured. A
delivery is retried with backoff, an event whose kind and subject the target
already heard about within its `dedup` window is `suppressed`, and every
outcome is recorded in the store (`lookout.storage.deliveries`).

Each payload also carries the audit record's signed head (`audit_head`: seq, hash,
signature, key), so every receiver keeps a copy outside the workspace: a record cut
back later no longer reaches a head someone else has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lookout.storage import audit, deliveries
from lookout.storage.db import now
from lookout.storage.records import AuditHead, Event, iso
from lookout.storage.text import sanitize

if TYPE_CHECKING:  # httpx (and the rich it loads) only when something is sent
    import httpx
    from lookout.scheduler.workspace import Workspace

SIGNATURE_HEADER = "X-Lookout-Signature"
BACKOFF = 0.25  # seconds before the first retry; doubles each time
NEW_TARGET_LOOKBACK = 3600.0  # a target seen for the first time hears about the last hour
TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Attempted:
    """How sending one payload went."""

    delivered: bool
    attempts: int
    code: int | None
    detail: str


def payload(event: Event, fmt: str, workspace: str, head: AuditHead | None = None) -> bytes:
    """The request body for one event; untrusted text is sanitized (and escaped for Slack).

    `head` is the audit record's newest signed entry: a field of the JSON body, and
    its seq and the start of its hash at the end of a Slack message.
    """
    subject = sanitize(event.subject, 200, single_line=True)
    message = sanitize(event.message, TEXT_LIMIT)
    if fmt == "slack":
        text = f"[{event.severity}] {event.kind} · {subject}: {message} ({workspace})"
        if head is not None:
            text += f" · audit head {head.seq} {head.hash[:16]}"
        body: dict[str, Any] = {"text": _slack_escape(text)}
    else:
        body = {
            "source": "lookout",
            "workspace": workspace,
            "id": event.id,
            "at": iso(event.at),
            "kind": event.kind,
            "severity": event.severity,
            "subject": subject,
            "message": message,
            "audit_head": None
            if head is None
            else {"seq": head.seq, "hash": head.hash, "signature": head.signature, "key": head.key},
        }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def _slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions (<!channel>); escape them as Slack documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, body: bytes) -> str:
    """`sha256=HEX`: HMAC-SHA256 of the raw body, for the receiver to check."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    retries: int,
    backoff: float = BACKOFF,
) -> Attempted:
    """POST with retries on connection errors, timeouts, 429 and 5xx; other answers are final."""
    import httpx

    code: int | None = None
    detail = ""
    attempts = 0
    for attempt in range(retries + 1):
        if attempt:
            threading.Event().wait(backoff * 2 ** (attempt - 1))
        attempts += 1
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            code, detail = None, "timed out"
            continue
        except httpx.HTTPError as exc:
            code, detail = None, sanitize(f"cannot connect: {exc}", 200, single_line=True)
            continue
        code = response.status_code
        if response.is_success:
            return Attempted(True, attempts, code, f"HTTP {code}")
        detail = f"HTTP {code}: " + sanitize(response.text, 200, single_line=True)
        if code != 429 and code < 500:
            break
    return Attempted(False, attempts, code, detail.rstrip(": "))


def _deliver(
    ws: Workspace,
    client: httpx.Client,
    name: str,
    target: dict[str, Any],
    delivery_id: int,
    event: Event,
    backoff: float,
) -> Attempted | None:
    """Send one event (None when it was not sent: suppressed, or no secret to sign with)."""
    store = ws.store
    if deliveries.recently_delivered(
        store, name, event.kind, event.subject, now() - target["dedup"], event.id
    ):
        deliveries.finish(
            store, delivery_id, "suppressed", 0, None, "same kind and subject sent recently"
        )
        return None
    body = payload(event, target["format"], ws.config.workspace["name"], audit.head(store))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "lookout",
        "X-Lookout-Event": event.kind,
        "X-Lookout-Delivery": str(delivery_id),
    }
    if target["secret_env"]:
        secret = os.environ.get(target["secret_env"])
        if not secret:
            # Sending unsigned would let a receiver that checks signatures be bypassed.
            detail = f"secret_env {target['secret_env']} is not set; not sent unsigned"
            deliveries.finish(store, delivery_id, "failed", 0, None, detail)
            return None
        headers[SIGNATURE_HEADER] = signature(secret, body)
    result = send(client, target["url"], body, headers, target["retries"], backoff)
    status = "delivered" if result.delivered else "failed"
    deliveries.finish(store, delivery_id, status, result.attempts, result.code, result.detail)
    return result


def deliver_pending(ws: Workspace, backoff: float = BACKOFF) -> int:
    """Offer every new event to every configured target; returns how many were delivered.

    A target that times out, cannot be reached or answers 5xx after its
    retries gets no more tries this pass: its other events stay pending for
    the next pass, so one dead receiver costs a pass at most about
    (timeout + backoff) × (retries + 1). Only the lease holder runs this.
    """
    delivered = 0
    for name, target in ws.config.notifications.items():
        work = deliveries.pending(ws.store, name)
        fresh = deliveries.undelivered(
            ws.store, name, target["events"], now() - NEW_TARGET_LOOKBACK
        )
        claimed = deliveries.claim(ws.store, name, [e.id for e in fresh])
        work += list(zip(claimed, fresh, strict=True))
        if not work:
            continue  # an idle pass opens no connection (a client costs ~0.1 s of CPU)
        import httpx

        with httpx.Client(timeout=target["timeout"], follow_redirects=False) as client:
            for delivery, event in work:
                result = _deliver(ws, client, name, target, delivery.id, event, backoff)
                if result is None:
                    continue
                if result.delivered:
                    delivered += 1
                elif result.code is None or result.code >= 500:
                    break  # the receiver is down; the rest wait for the next pass
    return delivered
