"""``mr.Client("127.0.0.1:PORT")``: a blocking client of one region.

Keys are str or bytes, values bytes. ``put`` and ``delete`` return the new causal context
(opaque: pass it to the next write); ``get`` returns values (siblings, ``[]`` if absent) and the
context to write with.
"""

from __future__ import annotations

import itertools
import socket
from typing import Any

from minide.errors import InvalidArgumentError, MinideIOError, NetworkError, by_name
from minide.replication import wire
from minide.replication.replica import GetResult, as_key
from minide.replication.values import VectorClock


class Client:
    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)

    def _call(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        body["id"] = next(self._ids)
        try:
            if self._sock is None:
                self._sock = socket.create_connection(wire.parse_addr(self.address), self.timeout)
                self._sock.settimeout(self.timeout)
            wire.send_frame(self._sock, kind, "client", body)
            rkind, _, out = wire.recv_frame(self._sock)
        except (OSError, MinideIOError) as e:
            # unreachable, dropped, timed out or a broken frame: the connection is unusable
            self.close()
            raise NetworkError(f"region at {self.address}: {e}") from None
        if rkind == "c_err":
            # the region's error class by name (InvalidArgumentError stays InvalidArgumentError)
            raise by_name(str(out.get("cls", "")))(f"region at {self.address}: {out.get('msg')}")
        return out

    def put(
        self, key: str | bytes, value: bytes, context: VectorClock | None = None
    ) -> VectorClock:
        if not isinstance(value, bytes):
            raise InvalidArgumentError(f"values are bytes, got {type(value).__name__}")
        ctx = context.to_bytes() if context is not None else None
        out = self._call("c_put", {"k": as_key(key), "v": value, "c": ctx})
        return VectorClock.from_bytes(out["c"])

    def get(self, key: str | bytes, read_repair: bool = False) -> GetResult:
        out = self._call("c_get", {"k": as_key(key), "rr": read_repair})
        return GetResult(list(out["v"]), VectorClock.from_bytes(out["c"]))

    def delete(self, key: str | bytes, context: VectorClock | None = None) -> VectorClock:
        ctx = context.to_bytes() if context is not None else None
        out = self._call("c_del", {"k": as_key(key), "c": ctx})
        return VectorClock.from_bytes(out["c"])

    def state(self) -> dict[str, Any]:
        """The region's actor, Merkle root, key count, pending hints, connected peers."""
        return self._call("c_state", {})

    def metrics(self, reset: bool = False) -> dict[str, Any]:
        """Lag percentiles per peer, hints pending, conflicts, bytes sent per link; ``reset``
        clears the lag samples after reading them."""
        return self._call("c_metrics", {"reset": reset})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
