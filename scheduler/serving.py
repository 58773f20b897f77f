"""What serves: the serving pointer of a local model and its optional reload hook.

The pointer `artifacts/serving/MODEL/ALIAS` is a small JSON file naming the
version, its artifact and the artifact's sha256. It is only ever replaced whole
(staged beside it, flushed, renamed over it: `Switch`), so a reader sees the old
pointer or the new one, never half of each. The artifact's sha256 is checked
before the pointer moves, so a tampered or truncated file never starts serving,
and again before any artifact is unpickled (`load_verified`). Everything under
the artifacts directory is reached without following symlinks
(`lookout.scheduler.safefs`).

Which version a pointer must name is the store's business: promotion moves it
inside the transaction that records the decision, and reconcile
(`lookout.scheduler.reconcile`) puts back any pointer that disagrees.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookout.scheduler import calls, safefs
from lookout.scheduler.workspace import Workspace
from lookout.storage.db import now
from lookout.storage.records import Version

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
BACKOFF = 0.2  # seconds before the first retry of a reload hook; doubles each time
BACKOFF_MAX = 5.0  # the longest wait between attempts (and the longest Retry-After honoured)


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


def _load_pointer(data: bytes) -> Pointer | None:
    try:
        obj = json.loads(data.decode("utf-8"))
        return Pointer(**{k: obj[k] for k in Pointer.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        return None


def read_pointer(ws: Workspace, model: str, alias: str = "production") -> Pointer | None:
    """The current pointer, or None when nothing serves (or the file is unreadable)."""
    try:
        return _load_pointer(safefs.read_bytes(ws.config.artifacts, pointer_path(ws, model, alias)))
    except (OSError, ServingError, safefs.UnsafePath):
        return None


def pointed(ws: Workspace) -> list[tuple[str, str]]:
    """(model, alias) of every pointer file there is."""
    base = ws.config.artifacts
    found: list[tuple[str, str]] = []
    for model in safefs.listdir(base, base / "serving"):
        if not valid_name(model):
            continue
        try:
            names = safefs.listdir(base, base / "serving" / model)
        except (OSError, safefs.UnsafePath):
            continue
        found.extend((model, alias) for alias in names if valid_name(alias))
    return sorted(found)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_artifact(ws: Workspace, path: Path) -> bytes:
    """An artifact's bytes: below the artifacts directory without following symlinks,
    elsewhere (an SDK-registered file) as it is, but never through a final symlink."""
    base = ws.config.artifacts
    if safefs.inside(base, path):
        return safefs.read_bytes(base, path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _artifact_sha256(ws: Workspace, path: Path) -> str:
    base = ws.config.artifacts
    if safefs.inside(base, path):
        return safefs.sha256(base, path)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_fingerprint(ws: Workspace, path: Path) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime) of an artifact, to notice it changed without hashing."""
    base = ws.config.artifacts
    try:
        if safefs.inside(base, path):
            return safefs.fingerprint(base, path)
        st = os.stat(path, follow_symlinks=False)
    except safefs.UnsafePath as exc:
        raise ServingError(str(exc)) from None
    except FileNotFoundError:
        raise ServingError(f"artifact {path} is missing") from None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _check_recorded(version: Version) -> str:
    label = f"{version.model} v{version.version}"
    if not version.artifact_path:
        raise ServingError(f"{label} has no artifact recorded; nothing to serve")
    if not version.artifact_sha256:
        raise ServingError(f"{label} has no recorded sha256; its artifact cannot be verified")
    return version.artifact_sha256


def _unreadable(version: Version, path: Path, exc: Exception) -> ServingError:
    label = f"{version.model} v{version.version}"
    if isinstance(exc, FileNotFoundError):
        return ServingError(f"{label}: artifact {path} is missing")
    if isinstance(exc, safefs.UnsafePath):
        return ServingError(f"{label}: {exc}")
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return ServingError(f"{label}: artifact {path} is a symlink; refusing to follow it")
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ServingError(f"{label}: cannot read artifact {path}: {detail}")


def _mismatch(version: Version, path: Path, actual: str) -> ServingError:
    expected = str(version.artifact_sha256)
    return ServingError(
        f"{version.model} v{version.version}: artifact {path} does not match its recorded sha256"
        f" (expected {expected[:12]}…, found {actual[:12]}…); refusing to serve it"
    )


def verify_artifact(ws: Workspace, version: Version) -> Path:
    """The version's artifact path after checking it exists and matches its sha256."""
    _check_recorded(version)
    path = ws.config.resolve(str(version.artifact_path))
    try:
        actual = _artifact_sha256(ws, path)
    except (OSError, safefs.UnsafePath) as exc:
        raise _unreadable(version, path, exc) from None
    if actual != version.artifact_sha256:
        raise _mismatch(version, path, actual)
    return path


def load_verified(ws: Workspace, version: Version) -> bytes:
    """The artifact's bytes, read once and checked against the recorded sha256 before
    anyone unpickles them (so the file cannot be swapped between the check and the load)."""
    _check_recorded(version)
    path = ws.config.resolve(str(version.artifact_path))
    try:
        data = read_artifact(ws, path)
    except (OSError, safefs.UnsafePath) as exc:
        raise _unreadable(version, path, exc) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != version.artifact_sha256:
        raise _mismatch(version, path, actual)
    return data


def pointer_bytes(version: Version, alias: str, artifact: Path, actor: str) -> bytes:
    pointer = Pointer(
        version.model,
        alias,
        version.version,
        str(artifact),
        str(version.artifact_sha256),
        now(),
        actor,
    )
    return (json.dumps(pointer.__dict__, indent=2) + "\n").encode()


def agrees(pointer: Pointer | None, version: Version | None, ws: Workspace) -> bool:
    """Whether a pointer says what the store says: the same version, artifact and sha256."""
    if pointer is None or version is None:
        return pointer is None and version is None
    return (
        pointer.version == version.version
        and pointer.sha256 == version.artifact_sha256
        and version.artifact_path is not None
        and os.path.normpath(pointer.artifact)
        == os.path.normpath(ws.config.resolve(version.artifact_path))
    )


class Switch:
    """Moving one pointer in steps that can each be undone without writing new data.

    `prepare()` writes the new pointer beside the old one (`.ALIAS.TAG.new`, flushed)
    and keeps the old one under a second name (`.ALIAS.TAG.old`, a hard link: no new
    space); `apply()` renames the new one into place; `undo()` renames the old one
    back; `finish()` or `discard()` removes what is left. A process killed at any
    step leaves the pointer whole (old or new), and reconcile removes the leftovers.
    """

    def __init__(self, ws: Workspace, model: str, alias: str, tag: str):
        self.base = ws.config.artifacts
        self.path = pointer_path(ws, model, alias)
        self.new = f".{alias}.{tag}.new"
        self.old = f".{alias}.{tag}.old"
        self.had_old = False
        self.applied = False
        self.data: bytes | None = None

    def prepare(self, data: bytes | None) -> None:
        """Stage `data` as the next pointer (None: the pointer is to be removed)."""
        try:
            with safefs.directory(self.base, self.path.parent, create=True) as dfd:
                for name in (self.new, self.old):
                    safefs.unlink(dfd, name)
                try:
                    os.link(
                        self.path.name,
                        self.old,
                        src_dir_fd=dfd,
                        dst_dir_fd=dfd,
                        follow_symlinks=False,
                    )
                    self.had_old = True
                except FileNotFoundError:
                    self.had_old = False
                self.data = data
                if data is not None:
                    safefs.write_new(dfd, self.new, data)
        except safefs.UnsafePath as exc:
            raise ServingError(f"cannot write serving pointer {self.path}: {exc}") from None
        except OSError as exc:
            self.discard()
            raise ServingError(f"cannot write serving pointer {self.path}: {_why(exc)}") from None

    def apply(self) -> None:
        try:
            with safefs.directory(self.base, self.path.parent) as dfd:
                if self.data is None:
                    safefs.unlink(dfd, self.path.name)
                    os.fsync(dfd)
                else:
                    safefs.rename(dfd, self.new, self.path.name)
        except (OSError, safefs.UnsafePath) as exc:
            raise ServingError(f"cannot switch serving pointer {self.path}: {_why(exc)}") from None
        self.applied = True

    def undo(self) -> None:
        """Put the old pointer back (rename only: works on a full disk)."""
        if not self.applied:
            return
        with safefs.directory(self.base, self.path.parent) as dfd:
            if self.had_old:
                safefs.rename(dfd, self.old, self.path.name)
            else:
                safefs.unlink(dfd, self.path.name)
                os.fsync(dfd)
        self.applied = False

    def discard(self) -> None:
        """Remove the staged files (after `finish`, or when nothing was applied)."""
        with (
            contextlib.suppress(OSError, safefs.UnsafePath),
            safefs.directory(self.base, self.path.parent) as dfd,
        ):
            safefs.unlink(dfd, self.new)
            safefs.unlink(dfd, self.old)

    finish = discard


def leftovers(ws: Workspace, model: str, alias: str) -> list[str]:
    """Staged files a killed change left beside a pointer (`.ALIAS.*.new|old|tmp`)."""
    base = ws.config.artifacts
    try:
        names = safefs.listdir(base, pointer_path(ws, model, alias).parent)
    except (OSError, safefs.UnsafePath, ServingError):
        return []
    prefix = f".{alias}."
    return [n for n in names if n.startswith(prefix) and n.endswith((".new", ".old", ".tmp"))]


def remove_leftovers(ws: Workspace, model: str, alias: str, names: list[str]) -> None:
    base = ws.config.artifacts
    with (
        contextlib.suppress(OSError, safefs.UnsafePath, ServingError),
        safefs.directory(base, pointer_path(ws, model, alias).parent) as dfd,
    ):
        for name in names:
            safefs.unlink(dfd, name)


def restore_from(ws: Workspace, model: str, alias: str, name: str, version: Version) -> bool:
    """Put a kept copy (`name`, beside the pointer) back as the pointer when it names
    `version`: a rename, so it works when the disk is full. False when it does not fit."""
    base = ws.config.artifacts
    path = pointer_path(ws, model, alias)
    try:
        kept = _load_pointer(safefs.read_bytes(base, path.parent / name))
        if not agrees(kept, version, ws):
            return False
        with safefs.directory(base, path.parent) as dfd:
            safefs.rename(dfd, name, path.name)
    except (OSError, safefs.UnsafePath):
        return False
    return True


def put(ws: Workspace, model: str, alias: str, version: Version | None, actor: str) -> None:
    """Make the pointer say `version` (verified first), or remove it for None."""
    path = pointer_path(ws, model, alias)
    base = ws.config.artifacts
    try:
        if version is None:
            safefs.remove(base, path)
            return
        artifact = verify_artifact(ws, version)
        safefs.write_atomic(
            base, path, pointer_bytes(version, alias, artifact, actor), f"{os.getpid()}"
        )
    except safefs.UnsafePath as exc:
        raise ServingError(str(exc)) from None
    except OSError as exc:
        raise ServingError(f"cannot write serving pointer {path}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def call_reload_hook(
    url: str, payload: dict[str, Any], timeout: float, retries: int, secret: str | None = None
) -> HookResult:
    """POST the change to the serving system; ask again on no answer, 429 and 5xx, with
    backoff, jitter and Retry-After (`lookout.scheduler.calls`).

    With a `secret` the request carries Standard Webhooks signature headers, the same as
    notifications, so the serving system can refuse one it did not get from Lookout or
    one replayed later. A 4xx answer is final: asking again will not change it. The hook
    is named by scheme, host and path only: its URL may carry a token. httpx is imported
    here so commands that never call a hook start quickly.
    """
    import httpx

    body = json.dumps(payload).encode("utf-8")
    msg_id = "reload_" + uuid.uuid4().hex  # the same on every attempt
    shown = calls.shown_url(url)

    def once() -> calls.Attempt[tuple[bool, str]]:
        headers = {"Content-Type": "application/json", "User-Agent": "lookout"}
        if secret:
            headers.update(calls.signed(secret, msg_id, body))
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return calls.Attempt((False, f"no answer within {timeout:g}s"), again=True)
        except httpx.TransportError as exc:
            again = not isinstance(exc, httpx.LocalProtocolError)
            return calls.Attempt((False, f"unreachable ({calls.failure(exc)})"), again=again)
        except (httpx.InvalidURL, httpx.HTTPError, ValueError) as exc:  # will not fix itself
            return calls.Attempt((False, f"invalid URL {shown}: {calls.failure(exc)}"))
        code = response.status_code
        if response.is_success:
            return calls.Attempt((True, f"answered {code}"))
        busy = code == 429 or code >= 500
        after = calls.retry_after(response.headers.get("Retry-After"))
        return calls.Attempt((False, f"answered {code}"), again=busy, after=after)

    (ok, detail), attempts = calls.call(once, retries, BACKOFF, BACKOFF_MAX)
    return HookResult(ok, attempts, detail)
