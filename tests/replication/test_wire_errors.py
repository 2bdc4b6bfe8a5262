"""Errors keep their class across the network: regions as real processes on loopback
(``LocalCluster``), a blocking ``Client``, and a fake region that answers garbage."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import minide.replication as mr
import pytest
from minide.errors import (
    CorruptFileError,
    InvalidArgumentError,
    MinideError,
    MinideIOError,
    NetworkError,
    by_name,
)
from minide.replication import wire

pytestmark = pytest.mark.timeout(120)


def test_remote_errors_arrive_as_the_same_class(tmp_path: Path) -> None:
    with (
        mr.LocalCluster(regions=["us", "eu"], base_dir=tmp_path) as cluster,
        cluster.client("us") as c,
    ):
        c.put("k", b"v")
        # an unknown request: the region raises InvalidArgumentError, so does the client
        with pytest.raises(InvalidArgumentError, match="unknown client request") as e1:
            c._call("c_nope", {})
        # a context that does not decode: the region's CorruptFileError, not a bare
        # MinideError (and not a NetworkError: the frame itself was fine)
        with pytest.raises(CorruptFileError, match="region at") as e2:
            c._call("c_put", {"k": b"k", "v": b"v", "c": b"\xff\xfe\xfd"})
        # a request missing its key: a bad argument, answered (the connection stays up)
        with pytest.raises(InvalidArgumentError, match="malformed c_get") as e3:
            c._call("c_get", {})
        for e in (e1, e2, e3):
            assert type(e.value) is not MinideError and not isinstance(e.value, NetworkError)
        assert c.get("k").values == [b"v"], "the connection survives remote errors"


def _fake_region(answer: bytes) -> tuple[str, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))
    addr = f"127.0.0.1:{srv.getsockname()[1]}"

    def serve() -> None:
        conn, _ = srv.accept()
        with conn, srv:
            conn.recv(65536)
            conn.sendall(answer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return addr, t


@pytest.mark.parametrize(
    "answer",
    [
        b"\x00\x00\x00\x03\xc1\xff\xff",  # a frame whose body is not msgpack
        wire.encode("c_ok", "x", {})[:4] + b"\x93\x01\x02\x03",  # not [kind, src, body]
        b"\xff\xff\xff\xff",  # a length above MAX_FRAME
        b"\x00\x00\x00\x10abc",  # the connection closes mid-frame
    ],
    ids=["not-msgpack", "bad-shape", "too-long", "truncated"],
)
def test_a_broken_frame_is_a_network_error(answer: bytes) -> None:
    addr, t = _fake_region(answer)
    with mr.Client(addr, timeout=5) as c, pytest.raises(NetworkError) as e:
        c.get("k")
    t.join(timeout=5)
    assert not isinstance(e.value, CorruptFileError) and isinstance(e.value, MinideIOError)
    assert isinstance(e.value, OSError), "network errors are OSErrors, like ConnectionError"


def test_an_unreachable_region_is_a_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with mr.Client(f"127.0.0.1:{port}", timeout=2) as c, pytest.raises(NetworkError):
            c.get("k")


def test_error_classes_by_name() -> None:
    assert by_name("InvalidArgumentError") is InvalidArgumentError
    assert by_name("NetworkError") is NetworkError
    # anything that is not a minide error class falls back to the base class
    assert by_name("KeyError") is MinideError and by_name("by_name") is MinideError
