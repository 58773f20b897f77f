"""The socket a shared workspace's daemon serves: the only way its members change anything.

`lookout scheduler`, run as the workspace's service account, listens on
WORKSPACE/lookout.sock (mode 0660, the team's group; the kernel refuses everyone
else). For each connection it asks the kernel who is on the other end
(`SO_PEERCRED`: uid → account → groups, never anything the client says), reads one
request (`lookout.scheduler.wire`), runs `door.perform` for that account and
answers. Each connection has its own thread and a deadline for every read and
write, and `perform` runs on a small pool (one store connection per worker), so a
slow or silent client holds up nobody but itself.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import grp
import logging
import os
import socket
import stat
import struct
import threading
import time
from typing import Any

from lookout.scheduler import door, wire
from lookout.scheduler.workspace import Workspace

log = logging.getLogger("lookout.daemon")

WORKERS = 4  # changes run at once (they serialize on the store's write lock anyway)
MAX_CONNECTIONS = 64  # connections being served; more are told the daemon is busy
READ_TIMEOUT = 10.0  # to read a request (a log batch's payload gets PAYLOAD_TIMEOUT more)
PAYLOAD_TIMEOUT = 60.0
WRITE_TIMEOUT = 10.0
SOCKET_MODE = 0o660
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class DaemonError(Exception):
    """The socket cannot be served; one line naming the path."""


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end, as the kernel recorded it at connect."""
    _, uid, _ = _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return int(uid)


class Daemon:
    """Serves `door.perform` on a shared workspace's socket; `start()`, then `stop()`."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.path = ws.socket
        self._listener: socket.socket | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._active = 0

    # -- starting and stopping --------------------------------------------------------------

    def start(self) -> None:
        """Bind the socket (0660, the workspace's group) and accept in a thread."""
        if len(os.fsencode(self.path)) >= 108:
            raise DaemonError(f"{self.path}: the path is too long for a Unix socket")
        self._clear_stale()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, SOCKET_MODE)
            group = self.ws.config.workspace.get("group")
            if group:
                os.chown(self.path, -1, grp.getgrnam(group).gr_gid)
            listener.listen(128)
        except (OSError, KeyError) as exc:
            listener.close()
            raise DaemonError(f"{self.path}: cannot serve the socket: {exc}") from None
        listener.settimeout(0.5)  # so stop() is noticed
        self._listener = listener
        self._pool = concurrent.futures.ThreadPoolExecutor(
            WORKERS, thread_name_prefix="lookout-door"
        )
        self._thread = threading.Thread(target=self._accept, name="lookout-daemon", daemon=True)
        self._thread.start()
        log.info("listening on %s", self.path)

    def _clear_stale(self) -> None:
        """A socket left by a daemon that died is removed; anything else there is refused."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise DaemonError(f"{self.path}: exists and is not a socket; remove it")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(self.path))
            except OSError:
                self.path.unlink()
                return
        raise DaemonError(f"{self.path}: another daemon is listening")

    def stop(self) -> None:
        """Stop accepting, let changes in flight finish, remove the socket."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- serving --------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("accept failed")
                time.sleep(0.1)
                continue
            with self._lock:
                busy = self._active >= MAX_CONNECTIONS
                if not busy:
                    self._active += 1
            if busy:
                threading.Thread(target=self._busy, args=(conn,), daemon=True).start()
                continue
            threading.Thread(
                target=self._serve, args=(conn,), name="lookout-daemon-conn", daemon=True
            ).start()

    def _busy(self, conn: socket.socket) -> None:
        with conn:
            self._reply(
                conn, door.refused("the Lookout daemon is busy; try again", door.UNAVAILABLE)
            )

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._reply(conn, self._answer(conn))
        finally:
            with self._lock:
                self._active -= 1

    def _answer(self, conn: socket.socket) -> door.Outcome:
        try:
            actor = door.Actor.of_uid(peer_uid(conn))
            deadline = time.monotonic() + READ_TIMEOUT
            request = wire.decode(wire.recv_frame(conn, wire.MAX_FRAME, deadline))
            if request.get("v") != wire.VERSION:
                return door.refused(
                    f"this daemon speaks protocol {wire.VERSION}, not {request.get('v')!r}:"
                    " use the same Lookout version as the daemon",
                    door.INVALID,
                )
            action, args = request.get("action"), request.get("args")
            if not isinstance(action, str) or not isinstance(args, dict):
                return door.refused("a request needs an action and its args", door.INVALID)
            if "payload" in request:
                blob = wire.recv_frame(conn, wire.MAX_PAYLOAD, deadline + PAYLOAD_TIMEOUT)
                args["columns"] = wire.unpack_columns(request["payload"], blob)
        except wire.WireError as exc:
            return door.refused(f"bad request: {exc}", door.INVALID)
        except OSError as exc:
            return door.refused(f"bad request: {exc}", door.INVALID)
        return self._perform(actor, action, args)

    def _perform(self, actor: door.Actor, action: str, args: dict[str, Any]) -> door.Outcome:
        pool = self._pool
        if pool is None:
            return door.refused("the Lookout daemon is stopping", door.UNAVAILABLE)
        outcome = pool.submit(door.perform, self.ws, actor, action, args).result()
        if outcome.ok:
            log.info("%s by %s: %s", action, actor.name, outcome.message)
        return outcome

    def _reply(self, conn: socket.socket, outcome: door.Outcome) -> None:
        frame = wire.encode({"ok": outcome.ok, "message": outcome.message, "data": outcome.data})
        conn.settimeout(WRITE_TIMEOUT)
        with contextlib.suppress(OSError):  # the client went away: the change stands
            wire.send_frame(conn, frame)
