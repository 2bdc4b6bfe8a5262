"""Region links under a flapping fault proxy, in one uvloop event loop (no subprocesses).

Regression test for a flaky set check: uvloop raises ``RuntimeError`` when a link writes to a
connection the proxy has just reset, and the link's reconnect task used to die of it, leaving
the link down for good with its hints pending. Here the proxy is blocked and unblocked many
times while writes stream through it; the link must survive every cut, no connection may slip
through a block (``_accept`` racing ``block()``), and after the last heal every hint is acked.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path

import pytest
from minide.replication.cluster import _Proxy
from minide.replication.region import Region

uvloop = pytest.importorskip("uvloop")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _flap(tmp: Path, cycles: int) -> dict[str, object]:
    pa, pb = _port(), _port()
    proxy = _Proxy(pb)  # a -> proxy -> b; b talks to a directly (its acks)
    await proxy.open()
    a = Region("a", str(tmp / "a"), f"127.0.0.1:{pa}", [f"b@127.0.0.1:{proxy.port}"])
    b = Region("b", str(tmp / "b"), f"127.0.0.1:{pb}", [f"a@127.0.0.1:{pa}"])
    a.hint_interval = b.hint_interval = 0.02
    await b.start()
    await a.start()
    rng = random.Random(7)
    written = 0

    async def writer() -> None:
        nonlocal written
        while True:
            for _ in range(20):
                a.replica.put(f"k{written}".encode(), b"v" * 200, None, written)
                written += 1
            a._flush()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(writer())
    leaked = 0
    try:
        for _ in range(cycles):
            await asyncio.sleep(rng.random() * 0.04)
            await proxy.block()
            await asyncio.sleep(rng.random() * 0.02)
            leaked += len(proxy.conns)  # an _accept that raced the block would be here
            await proxy.unblock()
            assert not a.links["b"].task.done(), "the link's reconnect loop died"
        task.cancel()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20 and (
            a.replica.hints_pending() or not a.links["b"].connected
        ):
            await asyncio.sleep(0.05)
        return {
            "written": written,
            "leaked": leaked,
            "hints": a.replica.hints_pending(),
            "connected": a.links["b"].connected,
            "b_keys": len(b.replica.tree),
        }
    finally:
        task.cancel()
        await proxy.close()
        await a.stop()
        await b.stop()


def test_link_survives_block_heal_loops(tmp_path: Path) -> None:
    out = uvloop.run(_flap(tmp_path, cycles=80))
    assert out["leaked"] == 0, "a connection survived a block"
    assert out["connected"] and out["hints"] == 0, out
    assert out["b_keys"] == out["written"], out
