"""A deterministic simulator of replicated regions: no sockets, no clocks, one seed.

Regions are :class:`~minide.replication.replica.Replica` state machines with in-memory stores.
Every message they send goes into one in-flight pool; :meth:`Simulator.step` picks one at random
(so delivery order is arbitrary: reordering for free), drops it if the link is partitioned or
with probability ``drop``, delivers it twice with probability ``duplicate``. Messages are
msgpack-encoded and decoded on the way, exactly as on a wire, and their bytes counted.

::

     client ──put/get──►  us#1 ──put k {us#1:3}──►  ┌──────────────┐ ──► eu#1
                                                     │  in flight   │
                          eu#1 ◄──────ack───────────│ (random pick,│ ◄── ap#1
                                                     │ drop, dup,   │
                          partition {us} | {eu,ap}   │ partitions)  │
                                                     └──────────────┘

``sim.trace()`` prints the log: who sent what to whom, with each object's clock and siblings.
Same seed, same operations -> same trace, byte for byte.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import msgpack

from minide.errors import InvalidArgumentError
from minide.replication.replica import Body, GetResult, Replica, Resolver, as_key
from minide.replication.values import Object, VectorClock

DEFAULT_NAMES = ("us", "eu", "ap", "sa", "af", "me", "oc", "an")


@dataclass
class _Msg:
    src: str
    dst: str
    kind: str
    payload: bytes  # msgpack of the body


class Simulator:
    """``Simulator(regions=5, seed=1)``: regions as state machines, delivery stepped by a seed.

    ``regions`` is a count (names ``us, eu, ap, sa, af, ...``) or a list of names. ``drop`` and
    ``duplicate`` are per-message probabilities. ``resolver`` is what clients read: ``"siblings"``
    (all concurrent values), ``"lww"``, or a function of the sibling values. ``new_epoch_on_wipe``
    = False reproduces the kv679 bug (see :meth:`wipe`).
    """

    def __init__(
        self,
        regions: int | Iterable[str] = 5,
        seed: int = 0,
        *,
        drop: float = 0.0,
        duplicate: float = 0.0,
        resolver: Resolver = "siblings",
        merkle_depth: int = 3,
        new_epoch_on_wipe: bool = True,
        trace_limit: int = 100_000,
    ) -> None:
        if isinstance(regions, int):
            if not 1 <= regions <= len(DEFAULT_NAMES):
                raise InvalidArgumentError(
                    f"regions must be 1..{len(DEFAULT_NAMES)} or a list of names, got {regions}"
                )
            names = list(DEFAULT_NAMES[:regions])
        else:
            names = list(regions)
            if len(set(names)) != len(names) or not names:
                raise InvalidArgumentError(f"region names must be unique and non-empty: {names}")
        for p in (drop, duplicate):
            if not 0.0 <= p < 1.0:
                raise InvalidArgumentError(f"drop/duplicate are probabilities in [0, 1), got {p}")
        self.names = names
        self.rng = random.Random(seed)
        self.drop = drop
        self.duplicate = duplicate
        self.replicas = {
            n: Replica(
                n,
                [p for p in names if p != n],
                merkle_depth=merkle_depth,
                resolver=resolver,
                new_epoch_on_wipe=new_epoch_on_wipe,
            )
            for n in names
        }
        self.time = 0
        self._inflight: list[_Msg] = []
        self._group = {n: 0 for n in names}  # partition group per region
        self._tracing = trace_limit > 0  # formatting every message costs; tests turn it off
        self._log: deque[str] = deque(maxlen=max(trace_limit, 1))
        self.counters = {
            "messages_sent": 0,
            "bytes_sent": 0,
            "delivered": 0,
            "dropped_partition": 0,
            "dropped_random": 0,
            "duplicated": 0,
        }
        self.bytes_by_kind: dict[str, int] = {}

    # -- client operations -------------------------------------------------------------------

    def _replica(self, region: str) -> Replica:
        try:
            return self.replicas[region]
        except KeyError:
            raise InvalidArgumentError(
                f"unknown region {region!r}; regions are {self.names}"
            ) from None

    def put(
        self,
        region: str,
        key: str | bytes,
        value: bytes,
        context: VectorClock | None = None,
    ) -> VectorClock:
        """Write at ``region`` (acknowledged once stored there); returns the causal context."""
        if not isinstance(value, bytes):
            raise InvalidArgumentError(f"values are bytes, got {type(value).__name__}")
        return self._write(region, as_key(key), value, context)

    def delete(
        self, region: str, key: str | bytes, context: VectorClock | None = None
    ) -> VectorClock:
        """Delete (a tombstone that replicates like a write) with the context of a read."""
        return self._write(region, as_key(key), None, context)

    def _write(
        self, region: str, key: bytes, value: bytes | None, context: VectorClock | None
    ) -> VectorClock:
        r = self._replica(region)
        self.time += 1
        ctx = r.put(key, value, context, self.time)
        if self._tracing:
            what = "delete" if value is None else f"put {value!r}"
            self._note(f"client -> {r.actor:<6} {what} {key!r} ctx {context or VectorClock()}")
            self._note(f"         {r.actor:<6} stored {key!r} {self._obj_str(r.load(key))}")
        self._flush(r)
        return ctx

    def get(self, region: str, key: str | bytes, *, read_repair: bool = False) -> GetResult:
        """Read ``region``'s copy; with ``read_repair`` also ask peers and fix laggards."""
        r = self._replica(region)
        res = r.get(as_key(key), read_repair=read_repair)
        if self._tracing:
            self._note(
                f"client <- {r.actor:<6} get {as_key(key)!r} = {res.values} ctx {res.context}"
            )
        self._flush(r)
        return res

    def object(self, region: str, key: str | bytes) -> Object:
        """The raw replicated object (siblings with dots, tombstones, context) at ``region``."""
        return self._replica(region).load(as_key(key))

    def actor(self, region: str) -> str:
        return self._replica(region).actor

    # -- faults ------------------------------------------------------------------------------

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut the network into ``groups``; regions not named form one more group."""
        seen: set[str] = set()
        for i, g in enumerate(groups, 1):
            for n in g:
                self._replica(n)
                if n in seen:
                    raise InvalidArgumentError(f"region {n!r} is in two partition groups")
                seen.add(n)
                self._group[n] = i
        for n in self.names:
            if n not in seen:
                self._group[n] = 0
        desc = " | ".join("{" + ",".join(sorted(g)) + "}" for g in self._groups())
        self._note(f"PARTITION {desc}")

    def isolate(self, region: str) -> None:
        self.partition({region})

    def heal(self) -> None:
        self._group = {n: 0 for n in self.names}
        self._note("HEAL")

    def _groups(self) -> list[set[str]]:
        out: dict[int, set[str]] = {}
        for n, g in self._group.items():
            out.setdefault(g, set()).add(n)
        return list(out.values())

    def reachable(self, a: str, b: str) -> bool:
        return self._group[a] == self._group[b]

    def wipe(self, region: str) -> None:
        """The region loses all its data and restarts empty (kv679). With epochs (the default)
        it comes back as a new actor, so its new writes get dots nobody has seen before."""
        r = self._replica(region)
        old = r.actor
        r.wipe()
        self._inflight = [m for m in self._inflight if m.src != region and m.dst != region]
        self._note(f"WIPE {old} -> restarts as {r.actor} with an empty store")

    # -- delivery ----------------------------------------------------------------------------

    def _flush(self, r: Replica) -> None:
        for dst, kind, body in r.outbox:
            self._send(r.name, dst, kind, body)
        r.outbox.clear()

    def _send(self, src: str, dst: str, kind: str, body: Body) -> None:
        payload = msgpack.packb(body, use_bin_type=True)
        n = len(payload) + len(kind) + 8  # + a small frame header: kind, src, dst ids
        self.counters["messages_sent"] += 1
        self.counters["bytes_sent"] += n
        self.bytes_by_kind[kind] = self.bytes_by_kind.get(kind, 0) + n
        self._inflight.append(_Msg(src, dst, kind, payload))

    def pending(self) -> int:
        """Messages in flight."""
        return len(self._inflight)

    def step(self) -> bool:
        """Deliver (or drop) one message chosen at random; False when nothing is in flight."""
        if not self._inflight:
            return False
        i = self.rng.randrange(len(self._inflight))
        m = self._inflight[i]
        self._inflight[i] = self._inflight[-1]
        self._inflight.pop()
        self.time += 1
        src, dst = self.replicas[m.src], self.replicas[m.dst]
        if not self.reachable(m.src, m.dst):
            self.counters["dropped_partition"] += 1
            if self._tracing:
                self._note(f"{src.actor:<6} -x {dst.actor:<6} {m.kind} (partitioned, dropped)")
            return True
        if self.drop and self.rng.random() < self.drop:
            self.counters["dropped_random"] += 1
            self._note(f"{src.actor:<6} -x {dst.actor:<6} {m.kind} (lost)")
            return True
        if self.duplicate and self.rng.random() < self.duplicate:
            self.counters["duplicated"] += 1
            self._inflight.append(m)  # the copy arrives later, in any order
        body = msgpack.unpackb(m.payload, raw=False)
        if self._tracing:
            self._note(f"{src.actor:<6} -> {dst.actor:<6} {self._describe(m.kind, body)}")
        dst.handle(m.src, m.kind, body)
        self.counters["delivered"] += 1
        self._flush(dst)
        return True

    def run(self, max_steps: int = 10_000_000) -> int:
        """Step until nothing is in flight (or ``max_steps``); returns steps taken."""
        n = 0
        while n < max_steps and self.step():
            n += 1
        return n

    def retry_hints(self) -> int:
        """Every region re-pushes unacked writes to peers it can reach (hinted handoff)."""
        sent = 0
        for r in self.replicas.values():
            n = r.retry_hints(functools.partial(self.reachable, r.name))
            if n:
                self._note(f"HINTED HANDOFF {r.actor} re-pushes {n} unacked writes")
            sent += n
            self._flush(r)
        return sent

    def anti_entropy(self, a: str | None = None, b: str | None = None) -> None:
        """Start Merkle exchanges: between ``a`` and ``b``, or every reachable pair."""
        if a is not None and b is not None:
            pairs = [(a, b)]
        else:
            pairs = [
                (x, y)
                for i, x in enumerate(self.names)
                for y in self.names[i + 1 :]
                if self.reachable(x, y)
            ]
        for x, y in pairs:
            self._note(f"ANTI-ENTROPY {self.replicas[x].actor} <-> {self.replicas[y].actor}")
            self.replicas[x].start_anti_entropy(y)
            self._flush(self.replicas[x])

    def full_sync(self, a: str, b: str) -> None:
        """The naive alternative to anti-entropy: each side sends every object to the other."""
        for x, y in ((a, b), (b, a)):
            rx = self.replicas[x]
            rx.send_objects(y, rx.keys(), reply=False)
            self._flush(rx)

    def settle(self, max_rounds: int = 100) -> int:
        """Deliver everything, retry hints, run anti-entropy until every partition group has
        converged and no reachable hint is pending. Returns the rounds used."""
        for rnd in range(1, max_rounds + 1):
            self.run()
            self.retry_hints()
            self.run()
            if self.converged() and not self._reachable_hints():
                return rnd
            self.anti_entropy()
            self.run()
        raise InvalidArgumentError(f"simulator did not settle in {max_rounds} rounds")

    def _reachable_hints(self) -> int:
        return sum(
            len(keys)
            for r in self.replicas.values()
            for peer, keys in r.hints.items()
            if self.reachable(r.name, peer)
        )

    # -- observation -------------------------------------------------------------------------

    def snapshot(self, region: str) -> dict[bytes, bytes]:
        """Every key of ``region`` with its encoded object (clock, siblings, tombstones)."""
        return dict(self._replica(region).storage.items())

    def divergent_keys(self) -> set[bytes]:
        """Keys whose objects differ between any two regions of the same partition group."""
        out: set[bytes] = set()
        for group in self._groups():
            snaps = [self.snapshot(n) for n in sorted(group)]
            keys = set().union(*snaps)
            for k in keys:
                if len({s.get(k) for s in snaps}) > 1:
                    out.add(k)
        return out

    def converged(self) -> bool:
        return not self.divergent_keys()

    def metrics(self) -> dict[str, int]:
        m = dict(self.counters)
        m["in_flight"] = len(self._inflight)
        m["hints_pending"] = sum(r.hints_pending() for r in self.replicas.values())
        m["conflicts"] = sum(r.stats.conflicts for r in self.replicas.values())
        m["repairs_sent"] = sum(r.stats.repairs_sent for r in self.replicas.values())
        m["anti_entropy_rounds"] = sum(r.stats.ae_rounds for r in self.replicas.values())
        return m

    def trace(self, last: int | None = None) -> None:
        """Print the log: client operations, every message sent/dropped with clocks, faults."""
        lines = list(self._log)
        for line in lines[-last:] if last else lines:
            print(line)

    def trace_lines(self) -> list[str]:
        return list(self._log)

    def _note(self, line: str) -> None:
        if self._tracing:
            self._log.append(f"t={self.time:<5} {line}")

    @staticmethod
    def _obj_str(o: Object) -> str:
        sib = ", ".join(
            f"({a},{c})={'<deleted>' if v is None else repr(v)}" for a, c, _ts, v in o.siblings
        )
        return f"{o.context} [{sib}]"

    def _describe(self, kind: str, body: Body) -> str:
        if kind in ("put", "sync", "read_reply"):
            return f"{kind} {body['k']!r} {self._obj_str(Object.from_bytes(body['o']))}"
        if kind == "ack":
            return f"ack {body['k']!r}"
        if kind == "put_batch":
            return (
                f"put_batch {len(body['k'])} objects: "
                + ", ".join(
                    f"{k!r} {self._obj_str(Object.from_bytes(o))}"
                    for k, o in zip(body["k"][:3], body["o"][:3], strict=True)
                )
                + (" ..." if len(body["k"]) > 3 else "")
            )
        if kind == "ack_batch":
            return f"ack_batch {len(body['k'])} keys"
        if kind == "read":
            return f"read {body['k']!r}"
        if kind == "ae_hashes":
            return f"ae_hashes level {body['l']}: {len(body['h']) // 8} node hashes"
        if kind == "objs":
            return f"objs {len(body['k'])} objects" + (" (send back merges)" if body["r"] else "")
        if kind == "ae_keys":
            return f"ae_keys {len(body['n'])} segments differ, {len(body['k'])} key digests"
        if kind == "ae_fetch":
            return f"ae_fetch {len(body['k'])} keys"
        return kind
