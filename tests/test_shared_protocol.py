"""The daemon's socket protocol, served in this process: frames, limits, payloads, and one
line for every way a request can be wrong. (Real accounts: test_shared_mode.py.)"""

from __future__ import annotations

import json
import socket
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lookout.scheduler import door, wire
from lookout.scheduler.client import Remote
from lookout.scheduler.daemon import Daemon
from lookout.scheduler.workspace import Workspace
from lookout.storage import drift, events

CONFIG = """
[workspace]
name = "t"
[models.m]
task = "classification"
target = "y"
features = ["a", "b"]
"""


@pytest.fixture
def served(make_workspace: Callable[..., Workspace], tmp_path: Path) -> Iterator[Workspace]:
    ws = make_workspace(CONFIG, name="w")  # short: a socket path has at most 107 bytes
    daemon = Daemon(ws)
    daemon.start()
    try:
        yield ws
    finally:
        daemon.stop()


def ask(ws: Workspace, *frames: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(str(ws.socket))
        for f in frames:
            s.sendall(f)
        size = struct.unpack(">I", s.recv(4))[0]
        data = b""
        while len(data) < size:
            data += s.recv(size - len(data))
    return dict(json.loads(data))


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_a_change_through_the_socket_is_the_kernels_account(served: Workspace) -> None:
    e = events.record(served.store, "run_failed", "p", "failed", "error")
    remote = Remote(served.socket)
    done = remote.perform("acknowledge", event=e.id, note="seen")
    me = door.process_actor().name
    assert done.ok and done.message == f"event {e.id} acknowledged by {me}"
    assert events.get_event(served.store, e.id).acked_by == me  # type: ignore[union-attr]
    assert remote.perform("whoami").data == {"actor": me, "role": "admin"}


def test_a_batch_travels_as_columns(served: Workspace) -> None:
    remote = Remote(served.socket)
    cols = {"a": [0.5, 1.5, None], "b": [1.0, 2.0, 3.0], "prediction_id": ["x", "y", "z"]}
    done = remote.perform("log", model="m", columns=cols)
    assert done.ok, done.message
    (batch,) = drift.load_window(served.store, "m")
    assert batch.rows == 3
    missing = remote.perform("log", model="m", columns={"a": [1.0]})
    assert not missing.ok and missing.message == 'feature column "b" is missing'
    assert missing.data == {"error": door.INVALID}


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([struct.pack(">I", wire.MAX_FRAME + 1)], "is over the limit"),
        ([frame(b"not json")], "bad request: not a JSON frame"),
        ([frame(b"[1, 2]")], "a frame must hold a JSON object"),
        ([frame(json.dumps({"v": 9, "action": "whoami", "args": {}}).encode())], "protocol 1"),
        (
            [frame(json.dumps({"v": 1, "action": "whoami"}).encode())],
            "needs an action and its args",
        ),
        (
            [
                frame(
                    json.dumps(
                        {
                            "v": 1,
                            "action": "log",
                            "args": {"model": "m"},
                            "payload": [{"name": "a", "type": "str", "size": 30}],
                        }
                    ).encode()
                ),
                frame(b"\x00" * 30),
            ],
            "text column is not valid zlib data",
        ),
    ],
    ids=["too big", "not json", "not an object", "old protocol", "no args", "bad payload"],
)
def test_every_bad_request_gets_one_line(
    served: Workspace, frames: list[bytes], message: str
) -> None:
    reply = ask(served, *frames)
    assert reply["ok"] is False and message in str(reply["message"]), reply
    assert "\n" not in str(reply["message"])


def test_a_text_column_cannot_inflate_past_the_limit(
    served: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "MAX_TEXT", 1 << 20)  # the daemon runs in this process
    bomb = zlib.compress(b"[" + b'"x",' * (1 << 20) + b'"x"]', 9)
    assert len(bomb) < 10_000
    head = {
        "v": 1,
        "action": "log",
        "args": {"model": "m"},
        "payload": [{"name": "a", "type": "str", "size": len(bomb)}],
    }
    reply = ask(served, frame(json.dumps(head).encode()), frame(bomb))
    assert reply["ok"] is False and "inflates past" in str(reply["message"])


def test_nobody_listening_is_one_line(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(CONFIG, name="quiet")
    done = Remote(ws.socket).perform("whoami")
    assert not done.ok and done.data == {"error": door.UNAVAILABLE}
    assert done.message == f"the Lookout daemon is not running: nothing listens on {ws.socket}"
