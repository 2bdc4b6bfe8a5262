"""``mr.LocalCluster``: one process per region on loopback, every link through a fault proxy.

::

    region us ──► proxy us→eu ──► region eu        one proxy per direction of every pair,
    region eu ──► proxy eu→us ──► region us        all in this process (a background event loop)

    partition({"us"}, {"eu", "ap"})   proxies across groups cut their connections and refuse new ones
    delay("us", "eu", ms=200)         both directions hold every chunk for 200 ms
    kill("eu") / restart("eu")        SIGKILL the process / start it again on the same data dir
    wipe("eu")                        delete a killed region's data dir (a lost disk)

Clients talk to regions directly (``cluster.client("us")``). ``wait_converged`` polls every
region's Merkle root, key count and pending hints until all agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from minide._convert import Duration, Sync, check_sync, to_seconds
from minide.errors import InvalidArgumentError, MinideError, MinideIOError
from minide.replication.client import Client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Proxy:
    """Forwards one direction of one link; can be blocked (partition) or delayed.

    The proxy listens for its whole life; while blocked it aborts every connection it has and
    every one it accepts (in-flight bytes are lost, as in a real partition). It never closes
    its listening socket to block: in Python 3.11, ``Server.close()`` racing an accept leaks the
    accepted socket (``Server._attach`` asserts inside ``_accept_connection2``, which swallows
    it), and a region connected to that leaked socket believed it was connected for good while
    nothing read its frames. A connection accepted just before ``block()`` may still be
    connecting upstream when the block runs: ``_accept`` registers it first and checks again
    once upstream is reached, so no connection slips through a partition."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = _free_port()
        self.delay = 0.0
        self.blocked = False
        self.server: asyncio.Server | None = None
        self.conns: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        await self.block()
        if self.server is not None:
            self.server.close()
            self.server = None

    async def block(self) -> None:
        self.blocked = True
        for w in list(self.conns):
            w.transport.abort()
        self.conns.clear()

    async def unblock(self) -> None:
        self.blocked = False

    async def _accept(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if self.blocked:
            w.transport.abort()
            return
        self.conns.add(w)  # from here on a block() cuts it
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            self.conns.discard(w)
            w.transport.abort()
            return
        if w not in self.conns:  # blocked (and maybe unblocked) while connecting upstream
            uw.transport.abort()
            return
        self.conns.add(uw)
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w), return_exceptions=True)
        for x in (w, uw):
            self.conns.discard(x)
            x.close()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)
                w.write(data)
                await w.drain()
        finally:
            w.close()


class LocalCluster:
    """``with mr.LocalCluster(regions=["us", "eu", "ap"], base_dir=tmp) as cluster: ...``"""

    def __init__(
        self,
        regions: Iterable[str],
        base_dir: str | Path,
        *,
        resolver: str = "siblings",
        merkle_depth: int = 3,
        hint_interval: Duration | float = "100ms",
        anti_entropy_interval: Duration | float = "500ms",
        sync: Sync = "batch",
        anti_entropy: str = "merkle",
        hinted_handoff: bool = True,
        fsync: bool | None = None,
    ) -> None:
        if fsync is not None:
            warnings.warn(
                'LocalCluster(fsync=True/False) is deprecated: use sync="always" / sync="batch"',
                DeprecationWarning,
                stacklevel=2,
            )
            sync = "always" if fsync else "batch"
        check_sync(sync)
        self.names = list(regions)
        if len(set(self.names)) != len(self.names) or len(self.names) < 2:
            raise InvalidArgumentError(f"need 2+ unique region names, got {self.names}")
        self.base = Path(base_dir)
        self.options = [
            f"--resolver={resolver}",
            f"--merkle-depth={merkle_depth}",
            f"--hint-interval={to_seconds(hint_interval, 'hint_interval')!r}",
            f"--anti-entropy-interval={to_seconds(anti_entropy_interval, 'anti_entropy_interval')!r}",
            f"--sync={sync}",
            f"--anti-entropy={anti_entropy}",
            *([] if hinted_handoff else ["--no-hints"]),
        ]
        self.ports = {n: _free_port() for n in self.names}
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.proxies: dict[tuple[str, str], _Proxy] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def __enter__(self) -> LocalCluster:
        self._thread.start()
        for a in self.names:
            for b in self.names:
                if a != b:
                    self.proxies[(a, b)] = p = _Proxy(self.ports[b])
                    self._run(p.open())
        try:
            for n in self.names:
                self._spawn(n)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        self.procs.clear()
        if self._thread.is_alive():
            self._run(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    async def _shutdown(self) -> None:
        for proxy in self.proxies.values():
            await proxy.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def data_dir(self, name: str) -> Path:
        return self.base / name

    def _spawn(self, name: str) -> None:
        self._check(name)
        peers = [
            f"--peer={p}@127.0.0.1:{self.proxies[(name, p)].port}" for p in self.names if p != name
        ]
        log = open(self.base / f"{name}.log", "a")  # noqa: SIM115 (handed to the child)
        self.base.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "minide.replication.region",
                f"--name={name}",
                f"--data-dir={self.data_dir(name)}",
                f"--listen=127.0.0.1:{self.ports[name]}",
                *peers,
                *self.options,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            proc.kill()
            raise MinideIOError(f"region {name} did not start (see {self.base / name}.log)")
        self.procs[name] = proc

    def _check(self, name: str) -> None:
        if name not in self.names:
            raise InvalidArgumentError(f"unknown region {name!r}; regions are {self.names}")

    # -- faults ------------------------------------------------------------------------------

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every link between regions of different groups (unnamed regions: one more group)."""
        group = {n: 0 for n in self.names}
        for i, g in enumerate(groups, 1):
            for n in g:
                self._check(n)
                group[n] = i
        for (a, b), proxy in self.proxies.items():
            self._run(proxy.block() if group[a] != group[b] else proxy.unblock())

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.delay = 0.0
            self._run(proxy.unblock())

    def delay(self, a: str, b: str, ms: float) -> None:
        self._check(a)
        self._check(b)
        self.proxies[(a, b)].delay = self.proxies[(b, a)].delay = ms / 1e3

    def kill(self, name: str) -> None:
        """SIGKILL the region's process (no shutdown, no flush)."""
        self._check(name)
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.kill()
            proc.wait()

    def restart(self, name: str) -> None:
        self.kill(name)
        self._spawn(name)

    def wipe(self, name: str) -> None:
        """Kill the region and delete its data directory: the disk is lost."""
        self.kill(name)
        shutil.rmtree(self.data_dir(name), ignore_errors=True)

    # -- observation -------------------------------------------------------------------------

    def address(self, name: str) -> str:
        self._check(name)
        return f"127.0.0.1:{self.ports[name]}"

    def client(self, name: str) -> Client:
        return Client(self.address(name))

    def _states(self) -> dict[str, dict[str, Any]]:
        out = {}
        for n in self.names:
            with self.client(n) as c:
                out[n] = c.state()
        return out

    def wait_converged(self, timeout: float = 10.0) -> float:
        """Block until all regions are connected to each other and hold identical keys and
        objects (equal Merkle roots and key counts, no pending hints); returns the seconds it
        took. A partitioned or dead region never converges: heal or restart it first."""
        t0 = time.monotonic()
        last: dict[str, dict[str, Any]] = {}
        while time.monotonic() - t0 < timeout:
            with contextlib.suppress(MinideIOError):
                last = self._states()
                roots = {(s["root"], s["keys"]) for s in last.values()}
                peers = len(self.names) - 1
                if len(roots) == 1 and all(
                    s["hints"] == 0 and len(s["connected"]) == peers for s in last.values()
                ):
                    return time.monotonic() - t0
            time.sleep(0.05)
        raise MinideError(f"regions did not converge within {timeout} s: {last}")

    def metrics(self, reset: bool = False) -> dict[str, Any]:
        """``links``: per link ``"us->eu"``, replication lag p50/p99 in ms (push sent -> pushed
        object received) and bytes sent; totals of hints pending and conflicts; raw per region."""
        regions = {}
        for n in self.names:
            with self.client(n) as c:
                regions[n] = c.metrics(reset=reset)
        links: dict[str, dict[str, float]] = {}
        for dst, m in regions.items():
            for src, lag in m["lag_ms"].items():
                link = links.setdefault(f"{src}->{dst}", {})
                link.update({"lag_p50_ms": lag.get("p50", 0.0), "lag_p99_ms": lag.get("p99", 0.0)})
                link["bytes_sent"] = regions[src]["bytes_sent"].get(dst, 0)
        return {
            "links": links,
            "hints_pending": sum(m["hints_pending"] for m in regions.values()),
            "conflicts": sum(m["conflicts"] for m in regions.values()),
            "bytes_sent": sum(sum(m["bytes_sent"].values()) for m in regions.values()),
            "regions": regions,
        }
