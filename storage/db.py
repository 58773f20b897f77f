"""Connections to the workspace store: pragmas, migrations, one connection per thread.

Every process (consoles, the scheduler, CLI commands) opens the same SQLite
file in WAL mode. Writes that read first go through `Store.write()`, which
runs `BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade.

A store opened to write may carry an audit signer (`lookout.storage.audit.Signer`,
made by `lookout.scheduler.signing`): its connections hand it to `audit.append`, and
`Store.commit` publishes the audit head to the witness once the entry is durable.

A reader that may not write the directory (a shared workspace's members) opens the
store with `mode=ro`: SQLite then keeps a private wal-index and still sees the
writer's commits. When the writer has stopped, SQLite has removed the `-wal` and
`-shm` files and `mode=ro` cannot open; the store is then read as last written
(`immutable=1`, `Store.stale`) until the writer is back, when it reopens `mode=ro`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lookout.storage.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from lookout.storage.audit import Signer

BUSY_TIMEOUT_MS = 30_000


class StoreError(Exception):
    """A store that cannot be opened or used; the message is one line for the user."""


def _create_file(path: Path, group: str | None, mode: int | None) -> None:
    """Create the database file with `mode`, else 0600 (0660 and the group when one is named)."""
    mode = mode if mode is not None else 0o660 if group else 0o600
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


def _not_a_file(path: Path) -> str | None:
    """What the path is when it exists and is not a regular file: SQLite would block on a
    FIFO, read nothing from /dev/null and fail obscurely on a directory."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the store: {exc.strerror}") from None
    if stat.S_ISREG(mode):
        return None
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((what for test, what in kinds.items() if test(mode)), "not a regular file")


class StoreConnection(sqlite3.Connection):
    """A store connection: it carries its Store's audit signer to `audit.append`, and
    remembers that an audit entry was written in the open transaction so that the head
    is published after COMMIT (never before: a rolled-back head must not be witnessed)."""

    signer: Signer | None = None
    audit_moved: bool = False


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def _connect(
    path: Path, readonly: bool, signer: Signer | None, immutable: bool = False
) -> StoreConnection:
    conn: StoreConnection
    if readonly:
        how = "immutable=1" if immutable else "mode=ro"
        uri = f"file:{urllib.parse.quote(str(path))}?{how}"
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, factory=StoreConnection
        )
    else:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, factory=StoreConnection
        )
    conn.row_factory = sqlite3.Row
    conn.signer = signer
    try:
        _configure(conn)
    except sqlite3.Error:
        conn.close()
        raise
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
            for step in MIGRATIONS[version - 1]:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


class Store:
    """A workspace database. Safe to share between threads: each gets its own connection.

    `signer` signs the audit entries this store writes (see `lookout.storage.audit`);
    without one, entries are written unsigned, which only a store whose record has
    never been signed accepts.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        readonly: bool = False,
        group: str | None = None,
        mode: int | None = None,
        signer: Signer | None = None,
    ):
        self.path = Path(path)
        self.readonly = readonly
        self.signer = None if readonly else signer
        self.stale = False  # read-only while no writer runs: the file as last written
        self._generation = 0  # bumped when every thread must reconnect
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        kind = _not_a_file(self.path)
        if kind is not None:
            raise StoreError(f"{self.path}: not a Lookout store (it is {kind})")
        if readonly:
            if not self.path.exists():
                raise StoreError(f"{self.path}: no store here (run `lookout init` first)")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    with contextlib.suppress(FileExistsError):
                        _create_file(self.path, group, mode)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot create the store: {exc.strerror}") from None
        try:
            if not readonly:
                conn = self.conn
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                    # before the first table: pages freed by retention go back to the
                    # file system a few at a time (`PRAGMA incremental_vacuum`)
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn, self.path)
            else:
                try:
                    version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                except sqlite3.OperationalError:
                    if self._wal.exists():
                        raise
                    self._reconnect(stale=True)  # no writer has it open: read it as it is
                    version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:  # an empty file, or some other program's database
                    raise StoreError(f"{self.path}: not a Lookout store (it has no Lookout tables)")
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: store has schema version {version}, this Lookout "
                        f"knows up to {SCHEMA_VERSION}; upgrade Lookout to open it"
                    )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a Lookout store ({exc})") from exc
        # A writer that died between a commit and its publication left the witness
        # behind: catch it up now.
        self.publish()

    @property
    def _wal(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def _reconnect(self, stale: bool) -> None:
        """Every thread opens a new connection on its next use (`immutable=1` when stale)."""
        with self._lock:
            self.stale = stale
            self._generation += 1

    def _writer_back(self) -> bool:
        """Read as last written, and a writer has opened the store again: `mode=ro` works."""
        if not self._wal.exists():
            return False
        try:
            probe = _connect(self.path, True, None)
            try:
                probe.execute("PRAGMA user_version").fetchone()
            finally:
                probe.close()
        except sqlite3.Error:
            return False
        return True

    @property
    def conn(self) -> StoreConnection:
        """This thread's connection, opened on first use."""
        if self.stale and self._writer_back():
            self._reconnect(stale=False)
        conn: StoreConnection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.generation != self._generation:
            with self._lock:
                self._all.remove(conn)
            conn.close()
            conn = None
        if conn is None:
            conn = _connect(self.path, self.readonly, self.signer, immutable=self.stale)
            self._local.conn = conn
            self._local.generation = self._generation
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
            self.commit(conn)
        except BaseException:
            # SQLite may have rolled back already (a full disk does that): then there is
            # nothing to roll back, and the error to report is the one that got us here.
            # A COMMIT that failed leaves the transaction open: close it, or the next
            # write on this thread would join a transaction that can never commit.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def commit(self, conn: StoreConnection) -> None:
        """COMMIT the open transaction, then publish the audit head if an entry was written.

        Every transaction this module or `registry.changing` opens ends here, so the
        witness hears of each new head right after it is durable. A crash in between is
        caught up by the next writable open (`__init__`).
        """
        conn.execute("COMMIT")
        if conn.audit_moved:
            conn.audit_moved = False
            self.publish()

    def publish(self) -> None:
        """Give the witness the current audit head if it extends the last one it saw."""
        if self.signer is None:
            return
        from lookout.storage import audit

        self.signer.publish(lambda seen: audit.publishable(self, seen))

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
