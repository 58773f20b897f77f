"""What serves: the serving pointer of a local model and its optional reload hook.

The pointer `artifacts/serving/MODEL/ALIAS` is a small JSON file naming the
version and its artifact. It is only ever replaced whole (write a new file,
then rename over the old one), so a reader sees the old pointer or the new
one, never half of each. The artifact's sha256 is checked before the pointer
moves, so a tampered or truncated file never starts serving.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookout.scheduler.workspace import Workspace
from lookout.storage.db import now
from lookout.storage.records import Version

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
BACKOFF = 0.2  # seconds before the first retry of a reload hook; doubles each time
BACKOFF_MAX = 5.0


class ServingError(Exception):
    """The pointer cannot be switched (missing or tampered artifact); one line."""


@dataclass(frozen=True)
class Pointer:
    model: str
    alias: str
    version: int
    artifact: str
    sha256: str
    at: float
    by: str


@dataclass(frozen=True)
class HookResult:
    ok: bool
    attempts: int
    detail: str


def valid_name(name: str) -> bool:
    """Whether a model or alias name is safe as one path component."""
    return bool(_SAFE.match(name)) and ".." not in name


def pointer_path(ws: Workspace, model: str, alias: str = "production") -> Path:
    for part in (model, alias):
        if not valid_name(part):
            raise ServingError(f"{part!r} cannot be used in a serving path")
    return ws.config.artifacts / "serving" / model / alias


def read_pointer(ws: Workspace, model: str, alias: str = "production") -> Pointer | None:
    """The current pointer, or None when nothing serves (or the file is unreadable)."""
    try:
        data = json.loads(pointer_path(ws, model, alias).read_text(encoding="utf-8"))
        return Pointer(**{k: data[k] for k in Pointer.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError, ServingError):
        return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_artifact(ws: Workspace, version: Version) -> Path:
    """The version's artifact path after checking it exists and matches its sha256."""
    label = f"{version.model} v{version.version}"
    if not version.artifact_path:
        raise ServingError(f"{label} has no artifact recorded; nothing to serve")
    if not version.artifact_sha256:
        raise ServingError(f"{label} has no recorded sha256; its artifact cannot be verified")
    path = ws.config.resolve(version.artifact_path)
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        raise ServingError(f"{label}: artifact {path} is missing") from None
    except OSError as exc:
        raise ServingError(f"{label}: cannot read artifact {path}: {exc.strerror}") from None
    if actual != version.artifact_sha256:
        raise ServingError(
            f"{label}: artifact {path} does not match its recorded sha256"
            f" (expected {version.artifact_sha256[:12]}…, found {actual[:12]}…); refusing to serve it"
        )
    return path


def _replace(path: Path, data: bytes | None) -> None:
    """Put `data` at `path` atomically (write a temporary file, fsync, rename); None removes."""
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def switch(ws: Workspace, version: Version, alias: str, actor: str) -> Callable[[], None]:
    """Point `alias` at a verified version; returns a function that puts the old pointer back."""
    artifact = verify_artifact(ws, version)
    path = pointer_path(ws, version.model, alias)
    try:
        previous: bytes | None = path.read_bytes()
    except FileNotFoundError:
        previous = None
    except OSError as exc:
        raise ServingError(f"cannot read serving pointer {path}: {exc.strerror}") from None
    pointer = Pointer(
        version.model,
        alias,
        version.version,
        str(artifact),
        str(version.artifact_sha256),
        now(),
        actor,
    )
    try:
        _replace(path, (json.dumps(pointer.__dict__, indent=2) + "\n").encode())
    except OSError as exc:
        raise ServingError(f"cannot write serving pointer {path}: {exc.strerror}") from None
    return lambda: _replace(path, previous)


def call_reload_hook(url: str, payload: dict[str, Any], timeout: float, retries: int) -> HookResult:
    """POST the change to the serving system; retry errors and 5xx with backoff.

    A 4xx answer is not retried: asking again will not change it. httpx is
    imported here so commands that never call a hook start quickly.
    """
    import httpx

    wait = threading.Event()
    detail = ""
    attempts = 0
    for attempt in range(retries + 1):
        if attempt:
            wait.wait(min(BACKOFF * 2 ** (attempt - 1), BACKOFF_MAX))
        attempts += 1
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
        except httpx.TimeoutException:
            detail = f"no answer within {timeout:g}s"
            continue
        except httpx.HTTPError as exc:
            detail = f"unreachable ({type(exc).__name__}: {exc})"
            continue
        except (httpx.InvalidURL, ValueError) as exc:  # asking again will not fix the URL
            return HookResult(False, attempts, f"invalid URL {url!r}: {exc}")
        if response.is_success:
            return HookResult(True, attempts, f"answered {response.status_code}")
        detail = f"answered {response.status_code}"
        if response.status_code < 500:
            break
    return HookResult(False, attempts, detail)
