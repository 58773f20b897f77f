"""Outbound HTTP calls (notifications, reload hooks, MLflow): how they are retried, how a
receiver can trust them, and what may be said when one fails.

- Retries: `call` asks again while an attempt says it may help, waiting an exponential
  backoff with jitter (each wait drawn between half and all of it, so senders that failed
  together do not come back together). A server's `Retry-After` is honoured; when it asks
  for longer than the cap, the call gives up for now (the next pass tries again) rather
  than hold a scheduler thread. One helper rather than tenacity or stamina: the loops
  retry on answers (429, 5xx) as much as on exceptions, must re-sign every attempt and must
  give up on a long Retry-After; that is these forty lines, without a dependency every
  install would carry.
- Signatures: `signed` adds the Standard Webhooks headers (`webhook-id`,
  `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 over `id.timestamp.body`), so a
  receiver can refuse a request that was changed, or replayed outside its tolerance.
- Failures: an exception's text can hold what was being sent — httpx quotes an illegal
  header, a bearer token with a line break in it, whole. `failure` describes a transport
  error by its kind; only the operating system's words for a refused connection are kept.
  `bad_credential` refuses such a token before it is ever sent.
- Secrets: `secret_from_env` and `secret_from_file` read a connector's credential, naming
  the variable or file when they refuse it, never its content.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import os
import random
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from lookout.storage.text import sanitize

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
CAP = 30.0  # seconds: the longest wait between two attempts
SECRET_PREFIX = "whsec_"  # a Standard Webhooks secret: the key, base64-encoded


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """How one try went: its value, whether asking again may help, and how long the
    server asked us to wait first (`Retry-After`), if it did."""

    value: T
    again: bool = False
    after: float | None = None


def delay(attempt: int, backoff: float, cap: float = CAP, after: float | None = None) -> float:
    """The wait before retry number `attempt` (0 for the first): backoff × 2^attempt, capped,
    with jitter; at least what the server asked for."""
    base = min(cap, backoff * 2**attempt)
    wait = random.uniform(base / 2, base)
    return max(wait, after) if after is not None else wait


def call(
    once: Callable[[], Attempt[T]],
    retries: int,
    backoff: float,
    cap: float = CAP,
    stop: threading.Event | None = None,
) -> tuple[T, int]:
    """Try `once` up to `retries` more times while it says asking again may help; returns its
    last value and how many attempts were made. A Retry-After beyond `cap`, or `stop` set
    while waiting, ends it early."""
    waiter = stop or threading.Event()
    attempts = 0
    while True:
        got = once()
        attempts += 1
        if not got.again or attempts > retries:
            return got.value, attempts
        if got.after is not None and got.after > cap:
            return got.value, attempts  # the server wants a longer pause than a pass may take
        if waiter.wait(delay(attempts - 1, backoff, cap, got.after)):
            return got.value, attempts  # stopping


def retry_after(value: str | None, at: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (a number or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if at is None else at))


class Told(Exception):
    """A failure told in Lookout's own words (a connector's refusal, say): `failure` keeps
    its text, where it names any other exception by kind only."""


def failure(exc: BaseException) -> str:
    """What went wrong with a request, in words that cannot hold what was sent."""
    import httpx

    if isinstance(exc, Told):
        return sanitize(str(exc), 300, single_line=True)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc).rpartition("] ")[2] or "connection failed"
        return "cannot connect: " + sanitize(reason, 100, single_line=True)
    if isinstance(exc, httpx.LocalProtocolError | UnicodeError):
        return "the request could not be sent as HTTP (a header or URL it cannot carry)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke off the HTTP exchange"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "not a URL it can call"
    return f"the request failed ({type(exc).__name__})"


def sent(
    request: Callable[[], httpx.Response],
    who: str,
    timeout: float,
    error: Callable[[str], Exception],
    secrets: list[str],
) -> httpx.Response | Attempt[Any]:
    """One request to a connector's server (`who`: "MLflow at host:port"): its response, or
    the `Attempt` a failure to get one calls for. A timeout or an unreachable server is
    asked again; a request that cannot be sent as HTTP is not. Told by kind, never by the
    exception's text, which can quote the Authorization header (`failure`)."""
    import httpx

    try:
        return request()
    except httpx.TimeoutException:
        return Attempt(error(f"{who} did not answer within {timeout:g}s"), again=True)
    except httpx.LocalProtocolError as exc:  # ours to fix: asking again will not help
        return Attempt(error(f"{who}: {failure(exc)}"))
    except httpx.TransportError as exc:
        return Attempt(error(scrub(f"{who} is unreachable ({failure(exc)})", secrets)), again=True)
    except (httpx.HTTPError, ValueError) as exc:  # a URL or header it cannot carry
        return Attempt(error(f"{who}: {failure(exc)}"))


def shown_url(url: str) -> str:
    """A URL as messages may show it: scheme, host, port and path; never a user name,
    password, query or fragment, where tokens travel."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "(an invalid URL)"
    return sanitize(urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")), 100)


def bad_credential(value: str) -> str | None:
    """Why a token, user name or password cannot go in a header (None: it can). Never
    says what the value is."""
    if any(c in value for c in "\r\n"):
        return "holds a line break"
    if not value.isascii():
        return "holds characters other than ASCII"
    if not value.isprintable() or any(c.isspace() for c in value):
        return "holds spaces or control characters"
    return None


def scrub(text: str, secrets: list[str]) -> str:
    """A server's answer made safe to show and store: the secrets sent to it blanked out,
    one sanitized line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return sanitize(text, 300, single_line=True)


class SecretError(ValueError):
    """A credential that cannot be read; one line naming where it was looked for."""


def secret_from_env(name: str, section: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SecretError(f"environment variable {name} (named in [{section}]) is not set")
    return value


def secret_from_file(path: Path, section: str) -> str:
    """A secret from a file only its owner can read; a file others can read is refused."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretError(f"{path}: readable by others (mode {mode:04o}); run chmod 600 {path}")
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"{path}: cannot read the [{section}] secret ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SecretError(f"{path}: the [{section}] secret is not text") from None
    if not secret:
        raise SecretError(f"{path}: the [{section}] secret file is empty")
    return secret


def header_value(text: str, limit: int = 200) -> str:
    """Untrusted text (an event kind from the SDK) as a header value: one line of ASCII,
    anything else percent-encoded."""
    return urllib.parse.quote(sanitize(text, limit, single_line=True), safe=" !#$&'()*+,/:;=?@[]~")


def hmac_key(secret: str) -> bytes:
    """The HMAC key a secret names: a `whsec_` secret is its base64 key, as Standard
    Webhooks serializes it; any other string is its own UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :] + "==", validate=False)
        except ValueError:
            pass
    return secret.encode("utf-8")


def signed(secret: str, msg_id: str, body: bytes, at: float | None = None) -> dict[str, str]:
    """Standard Webhooks headers for one attempt: the message id (the same on every retry),
    the attempt's time, and `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    stamp = str(int(time.time() if at is None else at))
    mac = hmac.new(hmac_key(secret), f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode("ascii"),
    }
