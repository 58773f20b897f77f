"""Notifications: tell a chat, an incident tool or a pager about events on the timeline.

Each `[notifications.NAME]` target gets every event of the kinds (all kinds
when none are listed) and severities (`min_severity`) it asked for, in its
`format` (a row of `lookout.scheduler.formats.FORMATS`: json, slack,
pagerduty, alertmanager), signed when a secret is configured: Standard Webhooks
headers over `id.timestamp.body` (`lookout.scheduler.calls.signed`; the README says how
a receiver checks them), and for one more release the old `X-Lookout-Signature` over the
body alone, which a captured request keeps valid forever. Every outcome is recorded in
the store (`lookout.storage.deliveries`). Every message carries the audit record's
signed head (`audit_head`).

- Grouping: events raised by one run or one check pass (the same `batch`)
  go out as one message. A run still going may add to its batch, so its
  events wait up to `group_wait` for the run to end.
- Retries: a request is retried with backoff and jitter, after at least what a
  `Retry-After` asks (`lookout.scheduler.calls.call`); an event whose kind and
  subject the target already heard about within its `dedup` window is
  `suppressed`.
- Pages: for a format whose receiver pages (PagerDuty, Alertmanager), a
  delivered event stays open, and the receiver is told when it resolves
  (and, for Alertmanager, reminded every `resend` while it is open).
- One bad event never blocks the others: a message the receiver refuses, or
  one that cannot be built or sent (a header it cannot carry), is recorded as
  failed and the pass goes on; only a receiver that is down (no answer, 429,
  5xx) ends the pass for its target. Header values from events are made ASCII.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lookout.scheduler import calls
from lookout.scheduler.formats import FORMATS, Format, Message, NotSendable, cleared_at
from lookout.storage import audit, deliveries, pipelines
from lookout.storage.db import now
from lookout.storage.records import EVENT_SEVERITIES, Delivery, Event
from lookout.storage.text import sanitize

if TYPE_CHECKING:  # httpx (and the rich it loads) only when something is sent
    import httpx
    from lookout.scheduler.workspace import Workspace

SIGNATURE_HEADER = "X-Lookout-Signature"  # the body alone; kept for one release
BACKOFF = 0.25  # seconds before the first retry; doubles each time
NEW_TARGET_LOOKBACK = 3600.0  # a target seen for the first time hears about the last hour


@dataclass(frozen=True)
class Attempted:
    """How sending one payload went."""

    delivered: bool
    attempts: int
    code: int | None
    detail: str
    receiver_down: bool = False  # no answer, 429 or 5xx after the retries: the rest wait


def signature(secret: str, body: bytes) -> str:
    """`sha256=HEX`: HMAC-SHA256 of the raw body (the old `X-Lookout-Signature`)."""
    return "sha256=" + hmac.new(calls.hmac_key(secret), body, hashlib.sha256).hexdigest()


def send(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    retries: int,
    backoff: float = BACKOFF,
    sign: Callable[[], dict[str, str]] | None = None,
) -> Attempted:
    """POST, asking again on no answer, 429 and 5xx; other answers are final, and so is a
    request that cannot be sent at all. `sign` gives each attempt its own signature
    headers (their timestamp is the attempt's)."""
    import httpx

    def once() -> calls.Attempt[Attempted]:
        try:
            response = client.post(
                url, content=body, headers={**headers, **(sign() if sign else {})}
            )
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.LocalProtocolError):  # ours: asking again will not help
                return calls.Attempt(Attempted(False, 0, None, calls.failure(exc)))
            return calls.Attempt(Attempted(False, 0, None, calls.failure(exc), True), again=True)
        except (httpx.HTTPError, ValueError) as exc:  # a URL or header it cannot carry
            return calls.Attempt(Attempted(False, 0, None, calls.failure(exc)))
        code = response.status_code
        if response.is_success:
            return calls.Attempt(Attempted(True, 0, code, f"HTTP {code}"))
        detail = f"HTTP {code}: " + sanitize(response.text, 200, single_line=True)
        busy = code == 429 or code >= 500
        after = calls.retry_after(response.headers.get("Retry-After"))
        return calls.Attempt(
            Attempted(False, 0, code, detail.rstrip(": "), busy), again=busy, after=after
        )

    result, attempts = calls.call(once, retries, backoff)
    return replace(result, attempts=attempts)


def message_key(events: list[Event]) -> str:
    """The key a message goes out under, the same every time it is sent: its batch when
    it holds several events, else the event's de-duplication key (the condition), else
    the event itself."""
    if len(events) > 1 and events[0].batch:
        return events[0].batch
    e = events[0]
    return e.dedup_key or f"event:{e.id}"


def _groups(fresh: list[Event]) -> Iterator[list[Event]]:
    """Events by batch, in the order of each batch's first event (no batch: alone)."""
    groups: dict[str, list[Event]] = {}
    for e in fresh:
        groups.setdefault(e.batch or f"event:{e.id}", []).append(e)
    yield from groups.values()


class _Target:
    """One pass over one notification target."""

    def __init__(self, ws: Workspace, name: str, target: dict[str, Any], backoff: float):
        self.ws = ws
        self.store = ws.store
        self.name = name
        self.target = target
        self.fmt: Format = FORMATS[target["format"]]
        self.backoff = backoff
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        """Opened at the first request: an idle pass opens none (a client costs ~0.1 s)."""
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.target["timeout"], follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- new events ----------------------------------------------------------------

    def claim_fresh(self) -> list[tuple[Delivery, Event]]:
        """Claim the events not offered yet, each under its message's key.

        A batch whose run is still going waits (up to `group_wait` after its
        first event) so the run's failures go out together; events are
        offered in id order, so everything after it waits too.
        """
        t = self.target
        wanted = EVENT_SEVERITIES[EVENT_SEVERITIES.index(t["min_severity"]) :]
        fresh = deliveries.undelivered(
            self.store,
            self.name,
            t["events"],
            now() - NEW_TARGET_LOOKBACK,
            severities=() if len(wanted) == len(EVENT_SEVERITIES) else wanted,
        )
        held = [g[0].id for g in _groups(fresh) if self._still_gathering(g)]
        if held:
            fresh = [e for e in fresh if e.id < min(held)]
        keys = {e.id: message_key(g) for g in _groups(fresh) for e in g}
        claimed = deliveries.claim(self.store, self.name, [e.id for e in fresh], keys)
        return list(zip(claimed, fresh, strict=True))

    def _still_gathering(self, group: list[Event]) -> bool:
        batch = group[0].batch or ""
        if not batch.startswith("run:") or now() - group[0].at >= self.target["group_wait"]:
            return False
        run = pipelines.get_run(self.store, int(batch.split(":", 1)[1]))
        return run is not None and run.status in ("queued", "running")

    def send_new(self, work: list[tuple[Delivery, Event]]) -> int:
        """Send claimed events, one message per key; returns how many events were delivered."""
        messages: dict[str, list[tuple[Delivery, Event]]] = {}
        for d, e in work:
            messages.setdefault(d.message or f"event:{e.id}", []).append((d, e))
        delivered = 0
        for key, rows in messages.items():
            rows = [(d, e) for d, e in rows if not self._suppressed(d, e)]
            if not rows:
                continue
            result = self._post_rows(key, rows, update=False)
            if result is None:
                continue
            status = "delivered" if result.delivered else "failed"
            for d, _ in rows:
                deliveries.finish(
                    self.store,
                    d.id,
                    status,
                    result.attempts,
                    result.code,
                    result.detail,
                    open=result.delivered and self.fmt.pages,
                )
            if result.delivered:
                delivered += len(rows)
            elif result.receiver_down:
                break  # the receiver is down; the rest wait for the next pass
        return delivered

    def _suppressed(self, d: Delivery, e: Event) -> bool:
        since = now() - self.target["dedup"]
        if not deliveries.recently_delivered(self.store, self.name, e.kind, e.subject, since, e.id):
            return False
        deliveries.finish(
            self.store, d.id, "suppressed", 0, None, "same kind and subject sent recently"
        )
        return True

    # -- pages: resolutions and reminders ----------------------------------------------

    def follow_up(self) -> None:
        """Tell a paging receiver what resolved (and remind it of what has not)."""
        refresh = self.fmt.refresh(self.target)
        pages: dict[str, list[tuple[Delivery, Event]]] = {}
        for d, e in deliveries.open_pages(self.store, self.name):
            pages.setdefault(d.message or f"event:{e.id}", []).append((d, e))
        t = now()
        for key, rows in pages.items():
            resolved = [d.id for d, e in rows if cleared_at(e) is not None]
            if self.fmt.resolve_each:
                due = bool(resolved) or (
                    refresh is not None and min(d.at for d, _ in rows) <= t - refresh
                )
            else:
                due = len(resolved) == len(rows)
            if not due:
                continue
            result = self._post_rows(key, rows, update=True)
            ids = [d.id for d, _ in rows]
            if result is None:  # cannot be built: stop owing it
                deliveries.page_sent(self.store, ids, ids, "follow-up not sent")
            elif result.delivered:
                closed = resolved if self.fmt.resolve_each else ids
                deliveries.page_sent(self.store, ids, closed, f"follow-up: {result.detail}")
            elif result.receiver_down:
                break  # try again next pass
            else:  # refused: it will not be taken later either
                deliveries.page_sent(self.store, ids, ids, f"follow-up refused: {result.detail}")

    # -- one request -------------------------------------------------------------------

    def _post_rows(
        self, key: str, rows: list[tuple[Delivery, Event]], update: bool
    ) -> Attempted | None:
        """Build and post one message; None (and the rows failed) when it cannot be built."""
        message = Message(
            key,
            tuple(e for _, e in rows),
            self.ws.config.workspace["name"],
            now(),
            update,
            audit.head(self.store),
        )
        try:
            body = self.fmt.body(message, self.target)
            headers, sign = self._headers(rows, body, update)
        except NotSendable as exc:
            self._fail(rows, str(exc), update)
            return None
        except Exception as exc:  # one event that cannot be rendered must not stop the rest
            detail = f"cannot build the message ({type(exc).__name__})"
            self._fail(rows, detail, update)
            return None
        return send(
            self.client,
            self.target["url"],
            body,
            headers,
            self.target["retries"],
            self.backoff,
            sign,
        )

    def _headers(
        self, rows: list[tuple[Delivery, Event]], body: bytes, update: bool
    ) -> tuple[dict[str, str], Callable[[], dict[str, str]] | None]:
        """The headers every attempt carries, and the signer that adds each attempt's
        signature. The message id is the same on every retry, in this pass or a later
        one (its first delivery's id); a follow-up on a page is a message of its own."""
        first = rows[0][0]
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "lookout",
            "X-Lookout-Event": calls.header_value(rows[0][1].kind),
            "X-Lookout-Delivery": str(first.id),
        }
        variable = self.target["secret_env"]
        if not variable:
            return headers, None
        secret = os.environ.get(variable)
        if not secret:
            # Sending unsigned would let a receiver that checks signatures be bypassed.
            raise NotSendable(f"secret_env {variable} is not set; not sent unsigned")
        headers[SIGNATURE_HEADER] = signature(secret, body)
        msg_id = f"lookout_{first.id}" + (f"_update_{int(now())}" if update else "")
        return headers, lambda: calls.signed(secret, msg_id, body)

    def _fail(self, rows: list[tuple[Delivery, Event]], detail: str, update: bool) -> None:
        if update:
            return  # the caller closes the page
        for d, _ in rows:
            deliveries.finish(self.store, d.id, "failed", 0, None, detail)


def deliver_pending(ws: Workspace, backoff: float = BACKOFF) -> int:
    """Offer every new event to every configured target, then follow up on open pages;
    returns how many events were delivered.

    A target that times out, cannot be reached or answers 5xx after its
    retries gets no more tries this pass: its other messages stay pending for
    the next pass, so one dead receiver costs a pass at most about
    (timeout + backoff) × (retries + 1). Only the lease holder runs this.
    """
    delivered = 0
    broken: list[str] = []
    for name, target in ws.config.notifications.items():
        one = _Target(ws, name, target, backoff)
        try:
            work = deliveries.pending(ws.store, name) + one.claim_fresh()
            delivered += one.send_new(work)
            if one.fmt.pages:
                one.follow_up()
        except Exception as exc:  # the other targets still get their pass
            broken.append(f"{name}: {calls.failure(exc)}")
        finally:
            one.close()
    if broken:  # the ledger records the pass as failed, in words that hold no secret
        raise RuntimeError("notifications failed: " + "; ".join(broken))
    return delivered
