"""Frames on the wire: a 4-byte big-endian length, then msgpack of ``[kind, src, body]``.

Used by regions (asyncio streams) and the blocking :class:`~minide.replication.client.Client`.
A frame longer than :data:`MAX_FRAME` or one that does not decode is a
:class:`~minide.errors.NetworkError` (the peer sent garbage), never a crash of the region.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import msgpack

from minide.errors import InvalidArgumentError, NetworkError

MAX_FRAME = 64 << 20
_LEN = struct.Struct(">I")
Frame = tuple[str, str, dict[str, Any]]


def encode(kind: str, src: str, body: dict[str, Any]) -> bytes:
    payload = msgpack.packb([kind, src, body], use_bin_type=True)
    return _LEN.pack(len(payload)) + payload


def decode(payload: bytes) -> Frame:
    try:
        kind, src, body = msgpack.unpackb(payload, raw=False)
    except Exception as e:  # msgpack raises several unrelated exception types
        raise NetworkError(f"replication frame does not decode: {e}") from None
    if not (isinstance(kind, str) and isinstance(src, str) and isinstance(body, dict)):
        raise NetworkError("replication frame is not [kind, src, body]")
    return kind, src, body


def _check_len(n: int) -> int:
    if n > MAX_FRAME:
        raise NetworkError(f"replication frame of {n} bytes exceeds {MAX_FRAME}")
    return n


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at a clean end of stream."""
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError:
        return None
    (n,) = _LEN.unpack(head)
    return decode(await reader.readexactly(_check_len(n)))


def send_frame(sock: socket.socket, kind: str, src: str, body: dict[str, Any]) -> None:
    sock.sendall(encode(kind, src, body))


def recv_frame(sock: socket.socket) -> Frame:
    def exactly(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise NetworkError("replication connection closed by the region")
            buf += chunk
        return bytes(buf)

    (n,) = _LEN.unpack(exactly(4))
    return decode(exactly(_check_len(n)))


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgumentError(f"address must be HOST:PORT, got {addr!r}")
    return host or "127.0.0.1", int(port)
