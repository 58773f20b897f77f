"""Connections to the workspace store: pragmas, migrations, one connection per thread.

Every process (consoles, the scheduler, CLI commands) opens the same SQLite
file in WAL mode. Writes that read first go through `Store.write()`, which
runs `BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lookout.storage.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000


class StoreError(Exception):
    """A store that cannot be opened or used; the message is one line for the user."""


def _create_file(path: Path, group: str | None) -> None:
    """Create the database file with 0600 (0660 and the group when one is named)."""
    mode = 0o660 if group else 0o600
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    os.close(fd)
    os.chmod(path, mode)  # umask may have narrowed it
    if group:
        import grp

        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError as exc:
            path.unlink()
            raise StoreError(f"{path}: group {group!r} does not exist") from exc
        os.chown(path, -1, gid)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _configure(conn)
    return conn


def migrate(conn: sqlite3.Connection, path: Path | str, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to `target`; refuse a store written by a newer Lookout."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: store has schema version {current}, this Lookout knows up to "
            f"{SCHEMA_VERSION}; upgrade Lookout to open it"
        )
    if current >= target:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(current + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


class Store:
    """A workspace database. Safe to share between threads: each gets its own connection."""

    def __init__(self, path: Path | str, *, readonly: bool = False, group: str | None = None):
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if readonly:
            if not self.path.exists():
                raise StoreError(f"{self.path}: no store here (run `lookout init` first)")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                with contextlib.suppress(FileExistsError):
                    _create_file(self.path, group)
        try:
            conn = self.conn
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn, self.path)
            else:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: store has schema version {version}, this Lookout "
                        f"knows up to {SCHEMA_VERSION}; upgrade Lookout to open it"
                    )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a Lookout store ({exc})") from exc

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self.readonly)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that takes the write lock up front (BEGIN IMMEDIATE).

        Nested use joins the outer transaction, so a function that writes can
        be called on its own or as part of a larger atomic change.
        """
        if self.readonly:
            raise StoreError("the store is open read-only")
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'did anything change?'."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


def now() -> float:
    """Wall-clock seconds since the epoch; every stored time uses this."""
    return time.time()
