"""What goes over a shared workspace's socket: length-prefixed JSON frames, and columns.

A request is one frame of JSON, `{"v": 1, "action": ..., "args": {...}}`; a log
batch adds `"payload": [{"name", "type", "size"}, ...]` and sends its columns as a
second, binary frame (numbers as little-endian float64, text as zlib-compressed
JSON, the encoding of `lookout.storage.drift`). The reply is one JSON frame,
`{"ok", "message", "data"}`. A frame is a 4-byte big-endian length and its bytes.
Sizes are bounded and every read has a deadline, so a client can neither exhaust
the daemon's memory nor hold it waiting. Nothing here names who is asking: the
daemon learns that from the kernel.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
import zlib
from array import array
from collections.abc import Mapping
from typing import Any

from lookout.storage.drift import F8, TEXT, encode_column

VERSION = 1
MAX_FRAME = 1 << 20  # a request's or a reply's JSON
MAX_PAYLOAD = 256 << 20  # a log batch's columns, as sent
MAX_TEXT = 256 << 20  # one text column, inflated
HEADER = struct.Struct(">I")


class WireError(Exception):
    """A frame that could not be sent or read in time, or does not fit; one line."""


def send_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(HEADER.pack(len(data)))
    sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WireError("timed out")
        sock.settimeout(left)
        try:
            k = sock.recv_into(view[got:], n - got)
        except TimeoutError:
            raise WireError("timed out") from None
        if k == 0:
            raise WireError("the other side closed the connection")
        got += k
    return bytes(buf)


def recv_frame(sock: socket.socket, limit: int, deadline: float) -> bytes:
    (size,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if size > limit:
        raise WireError(f"a frame of {size} bytes is over the limit of {limit}")
    return _recv_exact(sock, size, deadline)


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as JSON sees them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, default=_plain, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise WireError("not a JSON frame") from None
    if not isinstance(obj, dict):
        raise WireError("a frame must hold a JSON object")
    return obj


# -- columns ------------------------------------------------------------------------------


def pack_columns(columns: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bytes]:
    """(layout, bytes) for a batch's columns; BatchError for a column that is not one."""
    layout: list[dict[str, Any]] = []
    parts: list[bytes | memoryview] = []
    for name, values in columns.items():
        kind, data, _ = encode_column(name, values)
        layout.append({"name": name, "type": kind, "size": len(data)})
        parts.append(data)
    return layout, b"".join(parts)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT)
    except zlib.error:
        raise WireError("a text column is not valid zlib data") from None
    if inflater.unconsumed_tail:
        raise WireError(f"a text column inflates past {MAX_TEXT} bytes")
    return out


def unpack_columns(layout: Any, blob: bytes) -> dict[str, Any]:
    """The columns a client sent: float64 arrays and lists of strings."""
    if not isinstance(layout, list):
        raise WireError("payload: expected a list of columns")
    out: dict[str, Any] = {}
    offset = 0
    for col in layout:
        if not isinstance(col, dict):
            raise WireError("payload: expected a list of columns")
        name, kind, size = col.get("name"), col.get("type"), col.get("size")
        if not isinstance(name, str) or kind not in (F8, TEXT) or not isinstance(size, int):
            raise WireError("payload: each column needs a name, a type and a size")
        if size < 0 or offset + size > len(blob):
            raise WireError(f"payload: column {name!r} runs past the data")
        chunk = blob[offset : offset + size]
        offset += size
        if kind == F8:
            if size % 8:
                raise WireError(f"payload: column {name!r} is not whole float64 values")
            numbers = array("d")
            numbers.frombytes(chunk)
            if sys.byteorder == "big":
                numbers.byteswap()
            out[name] = numbers
        else:
            try:
                values = json.loads(_inflate(chunk))
            except ValueError:
                raise WireError(f"payload: column {name!r} is not a JSON list") from None
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise WireError(f"payload: column {name!r} must be a list of strings")
            out[name] = values
    if offset != len(blob):
        raise WireError("payload: more data than the columns describe")
    return out
