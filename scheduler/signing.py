"""The audit record's keys and witness: Ed25519 signatures with `cryptography`.

Three paths, from `[audit]` in lookout.toml (relative to the workspace):

- `key` (default `keys/audit.key`): the private key, PKCS#8 PEM, mode 0600 in a
  0700 directory. Only the writer reads it: the workspace's owner in personal mode,
  the service account in shared mode. It may live outside the workspace.
- `public_key` (default `audit.pub`): the public keys `lookout audit --verify`
  trusts, one `ed25519 BASE64` line each, newest first (older lines stay after a
  `--new-key` so the entries they signed still verify). Mode 0644, or 0640 with
  the workspace's group.
- `witness` (optional): a file outside the workspace to which every new audit head
  is appended as one JSON line. It is what shows entries cut from the end of the
  record; make it append-only (`chattr +a`) or keep it in a directory only root
  can write (README, "The audit record").

`lookout.storage.audit` calls a `WorkspaceSigner` through its protocol and never
imports this module; this module never writes SQL.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from lookout.scheduler.config import Config
from lookout.storage import audit
from lookout.storage.db import Store, StoreError
from lookout.storage.records import AuditHead, AuditVerification

log = logging.getLogger("lookout.audit")

PUBLIC_HEADER = (
    "# Lookout audit public keys: `lookout audit --verify` trusts these. The first signs\n"
    "# new entries; later lines signed older ones. Fingerprint: sha256 of the raw key.\n"
)
WITNESS_TAIL = 8192  # bytes read from the end of the witness to find its last line


class SigningError(StoreError):
    """A key or witness file that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Paths:
    key: Path
    public_key: Path
    witness: Path | None


def paths(cfg: Config) -> Paths:
    """Where the key, the public key file and the witness are (for doctor and verify)."""
    witness = cfg.audit.get("witness")
    return Paths(
        cfg.resolve(cfg.audit["key"]),
        cfg.resolve(cfg.audit["public_key"]),
        Path(os.path.normpath(cfg.resolve(witness))) if witness else None,
    )


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, hex: what key entries and the witness name."""
    return hashlib.sha256(_raw(public_key)).hexdigest()


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- public keys ------------------------------------------------------------------


class PublicKeys:
    """The keys a workspace trusts (`lookout.storage.audit.Keys`)."""

    def __init__(self, keys: list[Ed25519PublicKey], source: Path | None = None):
        self.source = source
        self.keys = keys
        self.fingerprints = [fingerprint(k) for k in keys]
        self._by_fingerprint = dict(zip(self.fingerprints, keys, strict=True))

    def knows(self, fingerprint: str) -> bool:
        return fingerprint in self._by_fingerprint

    def holds(self, fingerprint: str, signature: bytes, message: bytes) -> bool:
        key = self._by_fingerprint.get(fingerprint)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def _parse_public(path: Path, text: str) -> list[Ed25519PublicKey]:
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if words[0] != "ed25519" or len(words) < 2:
                raise ValueError("expected `ed25519 BASE64`")
            keys.append(
                Ed25519PublicKey.from_public_bytes(base64.b64decode(words[1], validate=True))
            )
        except (ValueError, binascii.Error) as exc:
            raise SigningError(f"{path}:{n}: not an Ed25519 public key ({exc})") from None
    return keys


def public_keys(cfg: Config) -> PublicKeys:
    """The workspace's trusted keys; none when the file does not exist (yet)."""
    path = paths(cfg).public_key
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PublicKeys([], path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningError(f"{path}: cannot read the audit public keys: {exc}") from None
    return PublicKeys(_parse_public(path, text), path)


def _write_public(path: Path, keys: list[Ed25519PublicKey], group: str | None) -> None:
    lines = [f"ed25519 {base64.b64encode(_raw(k)).decode()}\n" for k in keys]
    _write_file(path, PUBLIC_HEADER + "".join(lines), 0o640 if group else 0o644, group)


def _write_file(path: Path, text: str, mode: int, group: str | None = None) -> None:
    """Write via a temporary file and rename, so a reader never sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # umask may have narrowed it
        if group:
            import grp

            os.chown(tmp, -1, grp.getgrnam(group).gr_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# -- the private key --------------------------------------------------------------


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_file(path, pem.decode(), 0o600)


def _present(path: Path) -> bool:
    """Whether something is at `path`; one this account may not look at counts."""
    try:
        path.stat()
    except PermissionError:
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def ensure_key(cfg: Config, seed: bytes | None = None) -> bool:
    """Make the workspace's key pair when it has none (`lookout init`, first writable open).

    Returns whether one was made. The private key goes in a 0700 directory
    (created here; an existing directory keeps its mode) as a 0600 file. `seed`
    (32 bytes) makes a fixed key, for reproducible demo scenes only.
    """
    p = paths(cfg)
    if _present(p.key) or _present(p.public_key):
        return False
    key = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
    try:
        _write_private(p.key, key)
        _write_public(p.public_key, [key.public_key()], cfg.workspace.get("group"))
    except (OSError, KeyError) as exc:
        raise SigningError(f"{p.key}: cannot create the audit signing key: {exc}") from None
    return True


def new_key(cfg: Config) -> str:
    """Start signing with a fresh key (`lookout audit --new-key`); returns its fingerprint.

    For a lost or exposed private key. The old public keys stay in the public key
    file, after the new one, so the entries they signed still verify; the next
    audited change records the new key in a `key` entry.
    """
    p = paths(cfg)
    old = public_keys(cfg)
    key = Ed25519PrivateKey.generate()
    try:
        _write_private(p.key, key)
        _write_public(p.public_key, [key.public_key(), *old.keys], cfg.workspace.get("group"))
    except (OSError, KeyError) as exc:
        raise SigningError(f"{p.key}: cannot write the new audit signing key: {exc}") from None
    return fingerprint(key.public_key())


# -- the witness --------------------------------------------------------------------


def _head_json(head: AuditHead, store: str) -> bytes:
    line = {
        "seq": head.seq,
        "hash": head.hash,
        "signature": head.signature,
        "key": head.key,
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "store": store,
    }
    return (json.dumps(line, sort_keys=True) + "\n").encode()


def read_witness(path: Path) -> AuditHead | None:
    """The last head in a witness file; None when it does not exist or is empty.

    A line cut short by a crash (no newline at the end) is skipped: the head
    before it still stands, and the next publication starts on a fresh line.
    """
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - WITNESS_TAIL))
            tail = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the audit witness: {exc}") from None
    lines = tail.split(b"\n")[:-1]  # the part after the last newline is unfinished
    for raw in reversed(lines):
        if raw.strip():
            try:
                d = json.loads(raw)
                return AuditHead(int(d["seq"]), str(d["hash"]), str(d["signature"]), str(d["key"]))
            except (ValueError, KeyError, TypeError):
                raise SigningError(f"{path}: the witness's last line is unreadable") from None
    return None


@contextlib.contextmanager
def _locked_append(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


class WorkspaceSigner(PublicKeys):
    """Signs audit entries with the workspace key and keeps the witness (`audit.Signer`)."""

    def __init__(
        self,
        key: Ed25519PrivateKey | None,
        trusted: list[Ed25519PublicKey],
        witness: Path | None,
        store: Path,
        problem: str | None = None,
    ):
        own = [key.public_key()] if key is not None else []
        super().__init__(own + trusted)
        self._key = key
        self.witness = witness
        self._store = str(store)
        self._problem = problem
        self._fingerprint = fingerprint(own[0]) if own else ""

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def problem(self) -> str | None:
        return self._problem

    def sign(self, message: bytes) -> bytes:
        if self._key is None:
            raise SigningError(self._problem or "no audit signing key")
        return self._key.sign(message)

    def witnessed(self) -> AuditHead | None:
        if self.witness is None:
            return None
        try:
            return read_witness(self.witness)
        except SigningError as exc:
            # Refusing every change over an unreadable witness would let whoever breaks
            # it stop the workspace; verify reports it instead.
            log.warning("%s", exc)
            return None

    def publish(self, head: Callable[[AuditHead | None], AuditHead | None]) -> None:
        """Append `head(last witnessed head)` to the witness, if it gives one.

        Under an exclusive lock on the witness, so two writers publishing at once
        leave the newest head last. `head` (`lookout.storage.audit.publishable`)
        gives only a newer head that extends the last one. Called after each commit
        that wrote an entry and at every writable open (a crash after a commit is
        caught up then). A failure is logged, not raised: the change it follows has
        committed.
        """
        if self.witness is None:
            return
        try:
            with _locked_append(self.witness) as fd:
                try:
                    last = read_witness(self.witness)
                except SigningError as exc:
                    log.warning("%s", exc)
                    return
                current = head(last)
                if current is None:
                    return
                size = os.fstat(fd).st_size
                os.write(fd, _fresh_line(self.witness, size) + _head_json(current, self._store))
                os.fsync(fd)
        except OSError as exc:
            log.warning("cannot publish the audit head to the witness %s: %s", self.witness, exc)


def _fresh_line(path: Path, size: int) -> bytes:
    """A newline to write first when a crash left the witness's last line unfinished."""
    if size == 0:
        return b""
    with open(path, "rb") as f:
        f.seek(size - 1)
        return b"" if f.read(1) == b"\n" else b"\n"


def signer(cfg: Config) -> WorkspaceSigner:
    """The signer a writable open of this workspace uses.

    Makes the key pair when the workspace has none. When a key file cannot be used
    (another account's workspace, a lost or damaged key), the signer carries the
    reason as `problem`: audited changes are refused with it, and everything else
    about the open works.
    """
    p = paths(cfg)
    try:
        ensure_key(cfg)
        trusted = public_keys(cfg)
        key = _private_key(p)
    except SigningError as exc:
        return WorkspaceSigner(None, [], p.witness, cfg.database, str(exc))
    if not p.public_key.exists():
        _write_public(p.public_key, [key.public_key()], cfg.workspace.get("group"))
        log.warning("%s was missing; wrote it again from %s", p.public_key, p.key)
    elif not trusted.knows(fingerprint(key.public_key())):
        log.warning(
            "%s does not list the key in %s: `lookout audit --verify` will fail",
            p.public_key,
            p.key,
        )
    return WorkspaceSigner(key, trusted.keys, p.witness, cfg.database)


def _private_key(p: Paths) -> Ed25519PrivateKey:
    try:
        pem = p.key.read_bytes()
    except FileNotFoundError:
        raise SigningError(
            f"{p.key}: the audit signing key is missing, but {p.public_key} names one:"
            " restore it, or start a new key with `lookout audit --new-key`"
        ) from None
    except PermissionError:
        raise SigningError(
            f"{p.key}: this account cannot read the audit signing key: changes are"
            " recorded by the workspace's owner, or in shared mode by its daemon"
        ) from None
    except OSError as exc:
        raise SigningError(f"{p.key}: cannot read the audit signing key: {exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{p.key}: not a private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{p.key}: not an Ed25519 private key")
    return key


# -- verifying a workspace --------------------------------------------------------


def verify(cfg: Config, store: Store, *, full: bool = False) -> AuditVerification:
    """`lookout.storage.audit.verify` against this workspace's public keys and witness.

    A public key file or witness that cannot be read, or a configured witness that
    has seen nothing while the record has signed entries, fails verification too.
    """
    p = paths(cfg)
    trouble: list[str] = []
    try:
        keys = public_keys(cfg)
    except SigningError as exc:
        keys = PublicKeys([], p.public_key)
        trouble.append(str(exc))
    seen = None
    if p.witness is not None:
        try:
            seen = read_witness(p.witness)
        except SigningError as exc:
            trouble.append(str(exc))
    result = audit.verify(store, keys, seen, full=full)
    if p.witness is not None and seen is None and not trouble and result.signed:
        trouble.append(
            f"{p.witness}: the witness has seen nothing, yet the record has {result.signed}"
            " signed entries (the writer publishes its head when it next opens the workspace)"
        )
    if trouble and result.verified:
        result = dataclasses.replace(result, verified=False, problem=trouble[0])
    return result
