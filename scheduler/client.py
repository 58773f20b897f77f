"""Asking a shared workspace's daemon for a change over its socket.

`Remote.perform` is `lookout.scheduler.door.changes(ws)` for a shared workspace: it
sends the action and its arguments (never who is asking: the daemon reads that from
the kernel) and turns every failure to reach the daemon into one line.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookout.scheduler import wire
from lookout.scheduler.door import INVALID, UNAVAILABLE, Actor, Outcome, process_actor, refused
from lookout.storage.drift import BatchError

CONNECT_TIMEOUT = 5.0
ANSWER_TIMEOUT = 120.0  # a promotion may wait for its reload hook's retries


@dataclass
class Remote:
    """The daemon of a shared workspace, reached at `path` (WORKSPACE/lookout.sock)."""

    path: Path
    group: str | None = None
    timeout: float = ANSWER_TIMEOUT
    # who the daemon will see (it asks the kernel, not us): shown in the console's header
    actor: Actor = field(default_factory=process_actor)

    def perform(self, action: str, **args: Any) -> Outcome:
        request: dict[str, Any] = {"v": wire.VERSION, "action": action, "args": args}
        blob = b""
        if "columns" in args:
            try:
                request["payload"], blob = wire.pack_columns(args.pop("columns"))
            except BatchError as exc:
                return refused(str(exc), INVALID)
            if len(blob) > wire.MAX_PAYLOAD:
                return refused(
                    f"the batch is {len(blob)} bytes, over the limit of {wire.MAX_PAYLOAD};"
                    " send it in smaller batches",
                    INVALID,
                )
        try:
            frame = wire.encode(request)
        except (TypeError, ValueError) as exc:
            return refused(f"{action}: arguments that are not JSON: {exc}", INVALID)
        try:
            reply = self._ask(frame, blob)
        except (FileNotFoundError, ConnectionRefusedError):
            return refused(
                f"the Lookout daemon is not running: nothing listens on {self.path}", UNAVAILABLE
            )
        except PermissionError:
            who = f"members of {self.group}" if self.group else "the workspace's group"
            return refused(
                f"cannot reach the Lookout daemon at {self.path}: permission denied"
                f" (only {who} may ask it for changes)",
                UNAVAILABLE,
            )
        except (TimeoutError, wire.WireError, OSError) as exc:
            detail = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            return refused(
                f"the Lookout daemon at {self.path} did not answer: {detail}", UNAVAILABLE
            )
        data = reply.get("data")
        return Outcome(
            bool(reply.get("ok")),
            str(reply.get("message", "")),
            data if isinstance(data, dict) else {},
        )

    def _ask(self, frame: bytes, blob: bytes) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(str(self.path))
            wire.send_frame(sock, frame)
            if blob:
                sock.settimeout(self.timeout)
                wire.send_frame(sock, blob)
            return wire.decode(
                wire.recv_frame(sock, wire.MAX_FRAME, time.monotonic() + self.timeout)
            )
