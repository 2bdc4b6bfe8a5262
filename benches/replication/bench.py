"""Replication benches.

1. Anti-entropy after a partition: two regions share ``total`` keys, then diverge on
   ``divergent`` keys (half written on each side while partitioned, hints lost). minide repairs
   with the Merkle exchange (``Simulator.anti_entropy``); the baseline is a full sync (each side
   sends every object). Both run in the deterministic simulator, messages msgpack-encoded and
   counted; ``extra`` reports the bytes each sent and their ratio.
2. Vector clocks: compare + merge + descends of 5-actor clocks, ``mr.VectorClock`` (Rust) vs a
   pure-Python dict clock.
3. Merkle tree build (with its per-segment key index) + diff over ``total`` keys: Rust vs the
   same algorithm in Python with the ``xxhash`` package (same hashes, so the differing segments
   are checked to be identical).

Threads: one on both sides in every case (the simulator, the clocks and the Merkle tree run on
the calling thread; the baselines are Python). Caches: none. Anti-entropy and full sync each
take a freshly prepared simulator per call (built before timing, one per run and per warm-up);
the clock and tree cases build everything they use inside the call.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from typing import Any

import minide.replication as mr
import xxhash
from minide.bench import Case
from minide.bench.pools import Caller

SIZES = {"tiny": (2_000, 200, 2), "small": (100_000, 10_000, 4), "large": (1_000_000, 100_000, 5)}
EMPTY = mr.VectorClock()


def _must_equal(what: str) -> Callable[[Any, Any], None]:
    def check(a: Any, b: Any) -> None:
        if a != b:
            raise AssertionError(f"{what} disagree between minide and the baseline")

    return check


# -- 1. anti-entropy vs full sync ------------------------------------------------------------


def diverged_stores(total: int, divergent: int) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    rng = random.Random(1)
    base: dict[bytes, bytes] = {}
    for i in range(total):
        obj = mr.Object().update("us#1", EMPTY, f"value-{i:08d}".encode(), i)[0]
        base[f"user:{i:09d}".encode()] = obj.to_bytes()
    us, eu = dict(base), dict(base)
    for n, i in enumerate(rng.sample(range(total), divergent)):
        key = f"user:{i:09d}".encode()
        side, actor = (us, "us#1") if n % 2 == 0 else (eu, "eu#1")
        old = mr.Object.from_bytes(side[key])
        side[key] = old.update(actor, old.context, f"changed-{n}".encode(), total + n)[0].to_bytes()
    return us, eu


def prepared_sims(us: dict[bytes, bytes], eu: dict[bytes, bytes], depth: int, n: int):
    sims = []
    for _ in range(n):
        sim = mr.Simulator(["us", "eu"], seed=0, merkle_depth=depth, trace_limit=0)
        for name, data, peer in (("us", us, "eu"), ("eu", eu, "us")):
            store = mr.MemoryStorage()
            for k, v in data.items():
                store.put(k, v)
            sim.replicas[name] = mr.Replica(name, [peer], store, merkle_depth=depth)
        sims.append(sim)
    return sims


def anti_entropy_case(size: str) -> Case:
    total, divergent, depth = SIZES[size]
    us, eu = diverged_stores(total, divergent)
    repeat = 3
    pool_m = prepared_sims(us, eu, depth, repeat + 1)
    pool_b = prepared_sims(us, eu, depth, repeat + 1)

    def merkle() -> mr.Simulator:
        sim = pool_m.pop()
        sim.anti_entropy("us", "eu")
        sim.run()
        return sim

    def full() -> mr.Simulator:
        sim = pool_b.pop()
        sim.full_sync("us", "eu")
        sim.run()
        return sim

    def verify(a: mr.Simulator, b: mr.Simulator) -> None:
        if not (a.converged() and b.converged()):
            raise AssertionError("repair did not converge")
        if a.snapshot("us") != b.snapshot("eu"):
            raise AssertionError("anti-entropy and full sync reached different states")

    def extra(a: mr.Simulator, b: mr.Simulator) -> dict[str, float]:
        ma, mb = a.metrics(), b.metrics()
        return {
            "merkle_bytes": ma["bytes_sent"],
            "full_sync_bytes": mb["bytes_sent"],
            "bytes_ratio": ma["bytes_sent"] / mb["bytes_sent"],
            "merkle_messages": ma["messages_sent"],
            "full_sync_messages": mb["messages_sent"],
            "merkle_hash_bytes": a.bytes_by_kind.get("ae_hashes", 0),
            "merkle_key_bytes": a.bytes_by_kind.get("ae_keys", 0)
            + a.bytes_by_kind.get("ae_fetch", 0),
            "merkle_object_bytes": a.bytes_by_kind.get("objs", 0),
        }

    return Case(
        name=f"repair {divergent:,} divergent of {total:,} keys",
        minide=merkle,
        baseline=full,
        baseline_name="full sync (every key)",
        minide_pools=[Caller("simulator: Merkle anti-entropy")],
        baseline_pools=[Caller("simulator: full sync")],
        repeat=repeat,
        items=divergent,
        verify=verify,
        extra=extra,
    )


# -- 2. vector clocks ----------------------------------------------------------------------


class PyClock:
    """What a user would write without minide: a dict clock."""

    __slots__ = ("e",)

    def __init__(self, e: dict[str, int]) -> None:
        self.e = e

    def descends(self, o: PyClock) -> bool:
        return all(self.e.get(a, 0) >= n for a, n in o.e.items())

    def compare(self, o: PyClock) -> str:
        ge, le = self.descends(o), o.descends(self)
        if ge and le:
            return "equal"
        return "after" if ge else "before" if le else "concurrent"

    def merge(self, o: PyClock) -> PyClock:
        out = dict(self.e)
        for a, n in o.e.items():
            if n > out.get(a, 0):
                out[a] = n
        return PyClock(out)


def clock_case(size: str) -> Case:
    n = {"tiny": 2_000, "small": 100_000, "large": 1_000_000}[size]
    rng = random.Random(2)
    actors = ["us#1", "eu#1", "ap#1", "sa#1", "af#1"]
    raw = [{a: rng.randint(0, 9) for a in actors} for _ in range(512)]
    rs = [mr.VectorClock(d) for d in raw]
    ps = [PyClock(d) for d in raw]
    pairs = [(rng.randrange(512), rng.randrange(512)) for _ in range(n)]

    def rust() -> list[str]:
        out = []
        for i, j in pairs:
            a, b = rs[i], rs[j]
            out.append(a.compare(b))
            a.merge(b).descends(b)
        return out

    def python() -> list[str]:
        out = []
        for i, j in pairs:
            a, b = ps[i], ps[j]
            out.append(a.compare(b))
            a.merge(b).descends(b)
        return out

    return Case(
        name=f"compare+merge+descends x{n:,} (5 actors)",
        minide=rust,
        baseline=python,
        baseline_name="pure-Python dict clock",
        minide_pools=[Caller("VectorClock calls")],
        baseline_pools=[Caller("Python loop")],
        items=n,
        verify=_must_equal("clock comparisons"),
    )


# -- 3. Merkle build + diff -------------------------------------------------------------------


def py_merkle(items: dict[bytes, int], depth: int) -> list[list[int]]:
    """Same tree as MerkleTree: XOR leaves, xxh3 inner nodes, and the per-segment key index the
    anti-entropy exchange needs (which keys are in a differing segment)."""
    leaves = [0] * 16**depth
    index: list[dict[bytes, int]] = [{} for _ in leaves]
    shift = 64 - 4 * depth
    for k, d in items.items():
        seg = xxhash.xxh3_64_intdigest(k) >> shift
        leaves[seg] ^= xxhash.xxh3_64_intdigest(k, seed=d)
        index[seg][k] = d
    levels = [leaves]
    while len(levels[0]) > 1:
        kids = levels[0]
        up = []
        for i in range(0, len(kids), 16):
            c = kids[i : i + 16]
            up.append(xxhash.xxh3_64_intdigest(array("Q", c).tobytes()) if any(c) else 0)
        levels.insert(0, up)
    return levels


def py_diff(a: list[list[int]], b: list[list[int]]) -> list[int]:
    if a[0][0] == b[0][0]:
        return []
    frontier = [0]
    for level in range(1, len(a)):
        frontier = [
            c for n in frontier for c in range(n * 16, n * 16 + 16) if a[level][c] != b[level][c]
        ]
    return frontier


def merkle_case(size: str) -> Case:
    total, divergent, depth = SIZES[size]
    rng = random.Random(3)
    a = {f"user:{i:09d}".encode(): rng.getrandbits(64) for i in range(total)}
    b = dict(a)
    for i in rng.sample(range(total), divergent):
        b[f"user:{i:09d}".encode()] ^= 1

    def rust() -> list[int]:
        ta, tb = mr.MerkleTree(depth), mr.MerkleTree(depth)
        ta.insert_many(list(a.items()))
        tb.insert_many(list(b.items()))
        return ta.diff(tb)

    def python() -> list[int]:
        return py_diff(py_merkle(a, depth), py_merkle(b, depth))

    return Case(
        name=f"build 2 trees of {total:,} keys + diff (16^{depth} segments)",
        minide=rust,
        baseline=python,
        baseline_name="pure Python + xxhash",
        minide_pools=[Caller("MerkleTree calls")],
        baseline_pools=[Caller("Python loop")],
        repeat=3,
        items=2 * total,
        verify=_must_equal("Merkle diffs"),
    )


def cases(size: str) -> list[Case]:
    return [anti_entropy_case(size), clock_case(size), merkle_case(size)]


# The loopback cluster bench (3 region processes, real sockets): benches/replication/loopback.py
