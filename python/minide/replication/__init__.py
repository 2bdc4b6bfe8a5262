"""minide.replication: multi-region, active-active replication. See docs/replication.md.

- :class:`VectorClock`: ``VectorClock({"a": 2, "b": 1})`` with ``compare()`` ("before" | "after"
  | "equal" | "concurrent"), ``merge()``, ``increment(actor)``, ``descends(other)``. Immutable.
- :class:`Object`: one key's dotted-version-vector sibling set (``update``, ``sync``).
- CRDTs with ``merge()``: :class:`GCounter`, :class:`PNCounter`, :class:`ORSet` (add-wins),
  :class:`LWWRegister`. Updates change them in place; ``merge`` returns a new value.
- :class:`MerkleTree`: xxh3 Merkle tree over key-hash ranges, for anti-entropy.
- :class:`Simulator`: regions, partitions, drops, duplicates and delivery order under one seed;
  ``sim.trace()`` prints every message with its clocks.
- :class:`Replica`: the sans-IO region state machine the simulator drives;
  :class:`Storage` / :class:`MemoryStorage` / :class:`KvStorage` (``minide.kv`` on disk,
  what network regions use): what a region stores its objects in.

- :class:`Region`: a region over TCP (asyncio + uvloop, msgpack frames), :class:`Client`, and
  :class:`LocalCluster`: one process per region with a fault-injecting proxy on every link.

Every clock, object and CRDT serializes with ``to_bytes()`` / ``from_bytes()`` and pickles. The
value classes are Python subclasses of the Rust ones (``values.py``); every value a method
returns is of these classes.
"""

from minide.replication.client import Client
from minide.replication.cluster import LocalCluster
from minide.replication.kvstore import KvStorage
from minide.replication.region import Region
from minide.replication.replica import GetResult, Replica, Resolver
from minide.replication.sim import Simulator
from minide.replication.storage import MemoryStorage, Storage
from minide.replication.values import (
    GCounter,
    LWWRegister,
    MerkleTree,
    Object,
    ORSet,
    PNCounter,
    VectorClock,
)

__all__ = [
    "Client",
    "GCounter",
    "GetResult",
    "KvStorage",
    "LWWRegister",
    "LocalCluster",
    "MemoryStorage",
    "MerkleTree",
    "ORSet",
    "Object",
    "PNCounter",
    "Region",
    "Replica",
    "Resolver",
    "Simulator",
    "Storage",
    "VectorClock",
]
