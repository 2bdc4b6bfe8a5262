"""A fault-injecting TCP proxy for testing code that talks to a database over the network.

Put :class:`FaultProxy` between a pool and a real server and break the path on command::

    with FaultProxy("127.0.0.1", 5432) as proxy:
        pool = Pool(f"postgresql://postgres@127.0.0.1:{proxy.port}/test")
        proxy.drop_all()          # every connection closed (FIN): a server restart
        proxy.reset_all()         # every connection reset (RST): a crashed host, a firewall
        proxy.delay = 0.05        # 50 ms added to every chunk, both ways: a slow network
        proxy.handshake_delay = 2 # new connections wait 2 s before reaching the server
        proxy.blackhole = True    # bytes are swallowed, nothing is closed: a partition
        proxy.refuse = True       # new connections are closed at once: the server is down

The proxy runs an asyncio loop in one daemon thread of this process; the control methods are
thread-safe and return once the fault is in effect. It never changes bytes, only their timing
and the connections' fate, so whatever reaches the server is what the client sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from typing import Any

__all__ = ["FaultProxy"]


class _Link:
    __slots__ = ("blackhole", "client", "upstream")

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client, self.upstream = client, upstream
        self.blackhole = False


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """A TCP proxy from ``127.0.0.1:port`` (``port=0``: any free port) to ``host:target_port``
    that can drop, reset, delay and black-hole connections (see the module docstring)."""

    def __init__(self, host: str, target_port: int, port: int = 0) -> None:
        self.target = (host, target_port)
        #: seconds added before every chunk is forwarded (both directions)
        self.delay = 0.0
        #: seconds a new connection waits before the proxy connects to the server
        self.handshake_delay = 0.0
        #: swallow every byte (existing and new connections) without closing anything
        self.blackhole = False
        #: close new connections at once (the server looks down)
        self.refuse = False
        self.accepted = 0
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", port))
        self.port: int = self._server.sockets[0].getsockname()[1]

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- the proxy ---------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # close() cancels handlers
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.refuse:
            _rst(writer)
            return
        if self.handshake_delay:
            await asyncio.sleep(self.handshake_delay)
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            _rst(writer)
            return
        link = _Link(writer, up_w)
        self._links.add(link)
        try:
            await asyncio.gather(self._pump(reader, up_w, link), self._pump(up_r, writer, link))
        finally:
            self._links.discard(link)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.blackhole or link.blackhole:
                    continue
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (link.client, link.upstream):
                if not w.is_closing():
                    w.close()

    # -- faults ------------------------------------------------------------------------------------
    @property
    def connections(self) -> int:
        """Connections currently passing through the proxy."""
        return len(self._links)

    def drop_all(self) -> int:
        """Close every connection through the proxy (both sides get a FIN), as a server restart
        does. Returns how many were cut."""
        return self._call(self._cut(None, rst=False))

    def reset_all(self) -> int:
        """Reset every connection (both sides get an RST)."""
        return self._call(self._cut(None, rst=True))

    def drop_some(self, n: int, rst: bool = False, seed: int | None = None) -> int:
        """Cut ``n`` connections chosen at random (RST if ``rst``); returns how many were cut."""
        return self._call(self._cut(n, rst=rst, seed=seed))

    def blackhole_some(self, n: int, seed: int | None = None) -> int:
        """Stop forwarding on ``n`` random existing connections, closing nothing."""

        async def go() -> int:
            links = list(self._links)
            random.Random(seed).shuffle(links)
            for link in links[:n]:
                link.blackhole = True
            return min(n, len(links))

        return self._call(go())

    async def _cut(self, n: int | None, rst: bool, seed: int | None = None) -> int:
        links = list(self._links)
        if n is not None:
            random.Random(seed).shuffle(links)
            links = links[:n]
        for link in links:
            self._links.discard(link)
            for w in (link.client, link.upstream):
                if rst:
                    _rst(w)
                else:
                    w.close()
        await asyncio.sleep(0)
        return len(links)

    def heal(self) -> None:
        """Clear every fault setting (existing black-holed connections stay black-holed)."""
        self.delay = self.handshake_delay = 0.0
        self.blackhole = self.refuse = False

    def close(self) -> None:
        """Stop listening, cut every connection and stop the proxy's thread."""
        if self._server is None:
            return

        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            await self._cut(None, rst=False)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(stop())
        self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FaultProxy(127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}, "
            f"{self.connections} connections)"
        )
