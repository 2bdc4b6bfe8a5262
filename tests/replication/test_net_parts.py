"""The pieces under the network layer: frames, argument parsing, CLI, an in-process Region.
(The durable store is tested in test_storage.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from minide.errors import InvalidArgumentError, NetworkError
from minide.replication import wire
from minide.replication.region import parse_peers


def test_frames_reject_garbage() -> None:
    kind, src, body = wire.decode(wire.encode("put", "us", {"k": b"x"})[4:])
    assert (kind, src, body) == ("put", "us", {"k": b"x"})
    with pytest.raises(NetworkError):
        wire.decode(b"\xc1\xff")
    with pytest.raises(NetworkError, match="kind, src, body"):
        wire.decode(msgpack.packb([1, 2, 3]))
    with pytest.raises(NetworkError, match="exceeds"):
        wire._check_len(wire.MAX_FRAME + 1)


def test_addresses_and_peers() -> None:
    assert wire.parse_addr("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(InvalidArgumentError, match="HOST:PORT"):
        wire.parse_addr("localhost")
    assert parse_peers(["eu@127.0.0.1:1"]) == {"eu": "127.0.0.1:1"}
    with pytest.raises(InvalidArgumentError, match="NAME@HOST:PORT"):
        parse_peers(["127.0.0.1:1"])


def test_cli_sim_story() -> None:
    r = subprocess.run(
        # the console script: with `python -m minide.cli` engine subcommands register into
        # `minide.cli`, not into `__main__` (foundation issue)
        [str(Path(sys.executable).parent / "minide"), "replication", "sim", "--keys", "100"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "siblings ['milk,bread', 'milk,eggs']" in r.stdout
    assert "converged = True" in r.stdout and "PARTITION {us} | {ap,eu}" in r.stdout


def test_regions_in_process_with_a_callable_resolver(tmp_path: Path) -> None:
    """mr.Region used directly in one event loop; the resolver merges siblings on read."""
    import asyncio
    import socket

    import minide.replication as mr

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    pa, pb = port(), port()

    def union(values: list[bytes]) -> bytes:
        return b",".join(sorted(values))

    async def main() -> list[bytes]:
        a = mr.Region("a", str(tmp_path / "a"), f"127.0.0.1:{pa}", [f"b@127.0.0.1:{pb}"], union)
        b = mr.Region("b", str(tmp_path / "b"), f"127.0.0.1:{pb}", {"a": f"127.0.0.1:{pa}"}, union)
        await a.start()
        await b.start()
        try:
            ca, cb = mr.Client(a.address), mr.Client(b.address)
            await asyncio.to_thread(ca.put, "k", b"x")
            await asyncio.to_thread(cb.put, "k", b"y")  # concurrent with x (b had not seen it)
            for _ in range(200):
                got = (await asyncio.to_thread(ca.get, "k")).values
                if got == [b"x,y"]:
                    break
                await asyncio.sleep(0.02)
            ca.close()
            cb.close()
            return got
        finally:
            await a.stop()
            await b.stop()

    assert asyncio.run(main()) == [b"x,y"]
