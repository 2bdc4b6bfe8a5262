"""A region over the network: the :class:`~minide.replication.replica.Replica` state machine
behind an asyncio (uvloop) TCP server, with msgpack frames (see ``wire.py``).

::

    clients ──c_put/c_get/c_del──►┐
                                  │  Region "us"  (one event loop; the replica is single-threaded)
    peers ───put/ack/ae_*/objs───►┤    replica.handle(...) -> outbox -> one outgoing link per peer
                                  │    every hint_interval: re-push unacked writes (hinted handoff)
                                  │    every anti_entropy_interval: Merkle exchange with one peer
                                  └──► link to eu (up once eu answers our hello; reconnects;
                                       messages for a down link are dropped, hints and
                                       anti-entropy make up for them)

Run one with ``python -m minide.replication.region --name us --data-dir D --listen 127.0.0.1:0
--peer eu@127.0.0.1:7001``; it prints ``READY host:port`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import random
import sys
import time
import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from minide._convert import Duration, Sync, check_sync, to_seconds
from minide.errors import InvalidArgumentError, MinideError
from minide.replication import wire
from minide.replication.kvstore import KvStorage
from minide.replication.replica import Replica, Resolver
from minide.replication.values import VectorClock


def parse_peers(peers: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(peers, Mapping):
        return dict(peers)
    out = {}
    for p in peers:
        name, sep, addr = p.partition("@")
        if not sep:
            raise InvalidArgumentError(f"peer must be NAME@HOST:PORT, got {p!r}")
        wire.parse_addr(addr)
        out[name] = addr
    return out


class _Link:
    """Outgoing connection to one peer; frames queued while connected, dropped otherwise.

    The reconnect loop must outlive any failure of one connection: uvloop raises
    ``RuntimeError`` (not ``OSError``) when writing to a transport a peer has reset, and a link
    task that died on it stayed disconnected for good, with its hints pending forever."""

    CONNECT_TIMEOUT = 2.0
    RETRY_S = 0.05

    def __init__(self, region: Region, peer: str, addr: str) -> None:
        self.region, self.peer, self.addr = region, peer, addr
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.connected = False
        #: incremented on every new connection (hints are due at once after a reconnect)
        self.generation = 0
        self.bytes_sent = 0
        self.task = asyncio.create_task(self._run())

    def send(self, frame: bytes) -> None:
        if self.connected:
            self.queue.put_nowait(frame)

    async def _run(self) -> None:
        host, port = wire.parse_addr(self.addr)
        while True:
            try:
                await self._connection(host, port)
            except asyncio.CancelledError:
                raise
            except OSError:  # ConnectionError and TimeoutError included
                pass  # refused, reset, timed out: the peer or the path is down
            except Exception as e:  # anything else ends this connection, never the loop
                print(f"{self.region.name}: link to {self.peer} failed: {e!r}", file=sys.stderr)
            finally:
                self.connected = False
                self.queue = asyncio.Queue()
            await asyncio.sleep(self.RETRY_S)

    async def _connection(self, host: str, port: int) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), self.CONNECT_TIMEOUT
        )
        eof: asyncio.Future[bytes] | None = None
        try:
            # Up only once the peer answers our hello: a TCP connect alone may end at a proxy
            # that cannot reach the peer, or at a socket nobody reads.
            writer.write(wire.encode("hello", self.region.name, {}))
            reply = await asyncio.wait_for(wire.read_frame(reader), self.CONNECT_TIMEOUT)
            if reply is None or reply[0] != "hello":
                return
            # The peer writes nothing more on this connection: a read returns only at EOF
            # (peer or proxy closed it), which is how a cut link is noticed even when idle.
            eof = asyncio.ensure_future(reader.read())
            self.connected = True
            self.generation += 1
            while True:
                get = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({get, eof}, return_when=asyncio.FIRST_COMPLETED)
                # A reset closes the transport one loop turn before the reader sees it.
                if eof.done() or writer.is_closing():
                    get.cancel()  # a frame taken now is dropped: hints cover it
                    return
                frame = get.result()
                writer.write(frame)
                self.bytes_sent += len(frame)
                drain = asyncio.ensure_future(writer.drain())
                await asyncio.wait({drain, eof}, return_when=asyncio.FIRST_COMPLETED)
                if not drain.done():  # cut while the peer was not reading: stop waiting
                    drain.cancel()
                    return
                drain.result()
        finally:
            if eof is not None:
                eof.cancel()
                if not eof.cancelled() and eof.done():
                    eof.exception()  # retrieved: a reset is the normal end of a connection
            writer.close()


class Region:
    """``mr.Region(name, data_dir, listen="127.0.0.1:0", peers=[...], resolver="siblings")``.

    ``hint_interval`` / ``anti_entropy_interval``: durations (a timedelta, ``"200ms"``, or a number
    of seconds). ``sync``: the durability of an acknowledged write (see docs/conventions.md):
    ``"batch"`` (default: in the OS before the ack, so it survives ``kill -9``; fsynced within
    milliseconds), ``"always"`` (fsynced before the ack: survives a power loss too) or ``"none"``.
    """

    def __init__(
        self,
        name: str,
        data_dir: str,
        listen: str = "127.0.0.1:0",
        peers: Sequence[str] | Mapping[str, str] = (),
        resolver: Resolver = "siblings",
        *,
        merkle_depth: int = 3,
        hint_interval: Duration | float = "200ms",
        anti_entropy_interval: Duration | float = "1s",
        sync: Sync = "batch",
        anti_entropy: str = "merkle",
        hinted_handoff: bool = True,
        tombstone_gc: bool = True,
        fsync: bool | None = None,
    ) -> None:
        if fsync is not None:
            warnings.warn(
                'Region(fsync=True/False) is deprecated: use sync="always" / sync="batch"',
                DeprecationWarning,
                stacklevel=2,
            )
            sync = "always" if fsync else "batch"
        self.name = name
        self.data_dir = data_dir
        self.listen = listen
        self.peers = parse_peers(peers)
        self.resolver = resolver
        self.merkle_depth = merkle_depth
        self.hint_interval = to_seconds(hint_interval, "hint_interval")
        self.anti_entropy_interval = to_seconds(anti_entropy_interval, "anti_entropy_interval")
        self.sync: Sync = check_sync(sync)
        self.anti_entropy = anti_entropy
        self.hinted_handoff = hinted_handoff
        self.tombstone_gc = tombstone_gc
        self.address = ""
        self.lag: dict[str, list[float]] = {p: [] for p in self.peers}

    async def start(self) -> None:
        # "batch": in the OS before the ack (survives kill -9), fsynced within ms; "always":
        # fsynced before the ack (survives power loss too). See kvstore.py.
        self.storage = KvStorage(self.data_dir, sync=self.sync)
        epoch = self.storage.epoch()
        self.replica = Replica(
            self.name,
            list(self.peers),
            self.storage,
            epoch=epoch,
            merkle_depth=self.merkle_depth,
            resolver=self.resolver,
            hinted_handoff=self.hinted_handoff,
            tombstone_gc=self.tombstone_gc,
            anti_entropy=self.anti_entropy,  # type: ignore[arg-type]  # checked by Replica
        )
        host, port = wire.parse_addr(self.listen)
        self.server = await asyncio.start_server(self._serve, host, port)
        sock_host, sock_port = self.server.sockets[0].getsockname()[:2]
        self.address = f"{sock_host}:{sock_port}"
        self.links = {p: _Link(self, p, a) for p, a in self.peers.items()}
        self._bg = asyncio.create_task(self._background())

    async def stop(self) -> None:
        self._bg.cancel()
        for link in self.links.values():
            link.task.cancel()
        self.server.close()
        self.storage.close()

    def _flush(self) -> None:
        now = time.time()
        for dst, kind, body in self.replica.outbox:
            if kind == "put":
                body["t"] = now  # for replication-lag metrics at the receiver
            self.links[dst].send(wire.encode(kind, self.name, body))
        self.replica.outbox.clear()

    async def _background(self) -> None:
        rng = random.Random()
        next_ae = time.monotonic() + self.anti_entropy_interval
        seen_generation = dict.fromkeys(self.links, 0)
        # a tombstone is collected no sooner than ~2 s after it appeared here: messages from
        # before the delete that are still in flight arrive first
        tomb_grace = max(1, int(2.0 / self.hint_interval))
        while True:
            await asyncio.sleep(self.hint_interval)
            try:
                # a hint waits ~1 s for its ack before it is pushed again, unless its link
                # reconnected since (what was in flight on the old connection is gone)
                min_age = max(1, int(1.0 / self.hint_interval))
                fresh = set()
                for p, link in self.links.items():
                    if link.connected and link.generation != seen_generation[p]:
                        seen_generation[p] = link.generation
                        fresh.add(p)
                self.replica.retry_hints(lambda p: self.links[p].connected, min_age, fresh)
                for p in fresh:  # a link came (back) up: compare trees now, not next round;
                    if self.name < p:  # one side of each pair starts, not both
                        self.replica.start_anti_entropy(p)
                if time.monotonic() >= next_ae:
                    next_ae = time.monotonic() + self.anti_entropy_interval
                    up = [p for p, link in self.links.items() if link.connected]
                    if up:
                        self.replica.start_anti_entropy(rng.choice(up))
                    if len(up) == len(self.links):  # GC needs every peer's answer
                        self.replica.collect_tombstones(grace=tomb_grace)
                self._flush()
            except Exception as e:  # a failed round must not stop hinted handoff for good
                print(f"{self.name}: background round failed: {e!r}", file=sys.stderr)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (frame := await wire.read_frame(reader)) is not None:
                kind, src, body = frame
                if kind.startswith("c_"):
                    writer.write(self._client(kind, body))
                    await writer.drain()
                elif kind == "hello":  # a peer's link: answer, it is up once it hears us
                    writer.write(wire.encode("hello", self.name, {}))
                    await writer.drain()
                elif src in self.peers:
                    if kind == "put" and "t" in body:
                        self._record_lag(src, time.time() - body["t"])
                    self.replica.handle(src, kind, body)
                    self._flush()
        except (OSError, ConnectionError, asyncio.IncompleteReadError, MinideError) as e:
            print(f"{self.name}: connection dropped: {e}", file=sys.stderr)
        except (KeyError, TypeError, ValueError) as e:  # a frame with a malformed body
            print(
                f"{self.name}: dropping a connection that sent a bad message: {e!r}",
                file=sys.stderr,
            )
        finally:
            writer.close()

    def _record_lag(self, src: str, seconds: float) -> None:
        samples = self.lag[src]
        bisect.insort(samples, seconds)
        if len(samples) > 10_000:
            del samples[:: len(samples) // 5_000]  # keep the distribution, bound the memory

    def _client(self, kind: str, body: dict[str, Any]) -> bytes:
        rid = body.get("id", 0)
        try:
            out = self._client_op(kind, body)
        except MinideError as e:
            # the class crosses the wire by name: the client raises the same minide.errors class
            err = {"id": rid, "msg": str(e), "cls": type(e).__name__}
            return wire.encode("c_err", self.name, err)
        except (KeyError, TypeError, ValueError) as e:  # a request with a malformed body
            err = {
                "id": rid,
                "msg": f"malformed {kind} request: {e!r}",
                "cls": "InvalidArgumentError",
            }
            return wire.encode("c_err", self.name, err)
        out["id"] = rid
        self._flush()
        return wire.encode("c_ok", self.name, out)

    def _client_op(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.replica
        if kind in ("c_put", "c_del"):
            ctx = VectorClock.from_bytes(body["c"]) if body.get("c") else None
            value = body.get("v") if kind == "c_put" else None
            written = r.put(body["k"], value, ctx, time.time_ns())
            return {"c": written.to_bytes()}
        if kind == "c_get":
            res = r.get(body["k"], read_repair=bool(body.get("rr")))
            return {"v": res.values, "c": res.context.to_bytes()}
        if kind == "c_state":
            return {
                "actor": r.actor,
                "root": r.tree.root(),
                "keys": len(r.tree),
                "hints": r.hints_pending(),
                "connected": [p for p, link in self.links.items() if link.connected],
            }
        if kind == "c_metrics":
            out = {
                "actor": r.actor,
                "hints_pending": r.hints_pending(),
                "conflicts": r.stats.conflicts,
                "tombstones": len(r.tombs),
                "tombstones_collected": r.stats.tombstones_collected,
                "bytes_sent": {p: link.bytes_sent for p, link in self.links.items()},
                "lag_ms": {p: _percentiles(s) for p, s in self.lag.items()},
            }
            if body.get("reset"):
                self.lag = {p: [] for p in self.peers}
            return out
        raise InvalidArgumentError(f"unknown client request {kind!r}")


def _percentiles(sorted_samples: list[float]) -> dict[str, float]:
    if not sorted_samples:
        return {}
    n = len(sorted_samples)
    return {
        "p50": sorted_samples[n // 2] * 1e3,
        "p99": sorted_samples[min(n - 1, (n * 99) // 100)] * 1e3,
        "n": n,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="run one replication region")
    p.add_argument("--name", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--peer", action="append", default=[], help="NAME@HOST:PORT, repeatable")
    p.add_argument("--resolver", default="siblings", choices=["siblings", "lww"])
    p.add_argument("--merkle-depth", type=int, default=3)
    p.add_argument("--hint-interval", type=float, default=0.2)
    p.add_argument("--anti-entropy-interval", type=float, default=1.0)
    p.add_argument(
        "--sync",
        default="batch",
        choices=["always", "batch", "none"],
        help="durability of an acknowledged write (always: fsynced before the ack)",
    )
    p.add_argument("--anti-entropy", default="merkle", choices=["merkle", "full"])
    p.add_argument("--no-hints", action="store_true", help="no hinted handoff (benchmarks)")
    args = p.parse_args(argv)
    region = Region(
        args.name,
        args.data_dir,
        args.listen,
        args.peer,
        args.resolver,
        merkle_depth=args.merkle_depth,
        hint_interval=args.hint_interval,
        anti_entropy_interval=args.anti_entropy_interval,
        sync=args.sync,
        anti_entropy=args.anti_entropy,
        hinted_handoff=not args.no_hints,
    )

    async def run() -> None:
        await region.start()
        print(f"READY {region.address} {region.replica.actor}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        runner: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    except ImportError:  # pragma: no cover (uvloop is a dependency off Windows)
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
