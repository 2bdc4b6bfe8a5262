"""One region's replication logic, written sans-IO: it never touches a socket or a clock.

A :class:`Replica` takes client operations (:meth:`Replica.put`, :meth:`Replica.get`) and
peer messages (:meth:`Replica.handle`) and appends the messages it wants to send to its
outbox; whoever drives it (the deterministic :class:`~minide.replication.sim.Simulator`, or a
network loop) delivers them. The same code therefore runs in property tests and on a wire.

Per-key work is in Rust (``Object.update`` / ``Object.sync`` for dotted version vectors,
``MerkleTree`` for anti-entropy hashing); this file is the protocol:

``put``   client write at this region (the coordinator): ``Object.update`` with the client's
          context, store, push to every peer, keep a *hint* per peer until it acks.
``ack``   a peer stored our push: drop the hint. Unacked hints are re-sent in batches
          (``put_batch`` / ``ack_batch``) by :meth:`retry_hints` when the peer is reachable
          again (hinted handoff).
``read``  read repair: after a client read, ask peers for their copy (with our digest);
          a peer whose copy differs replies, we merge, and send back the merge if it lags.
``ae_*``  anti-entropy: compare Merkle trees level by level, exchange the keys of the
          differing segments, push/fetch the objects that differ.
``sync``  an object to merge in (read repair).
``objs``  a batch of objects to merge (anti-entropy, full sync); with ``"r": True`` the
          receiver sends back its merge of every key where it knew more than the sender.

Every incoming object is merged with ``Object.sync``, which is commutative, associative and
idempotent: duplicated, reordered or late messages cannot make replicas diverge.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from minide.errors import InvalidArgumentError
from minide.replication.storage import HintStore, MemoryStorage, Storage
from minide.replication.values import MerkleTree, Object, VectorClock

Resolver = Literal["siblings", "lww"] | Callable[[list[bytes]], bytes]
Body = dict[str, Any]
Outgoing = tuple[str, str, Body]  # (destination, kind, body)
BATCH = 512  # objects per anti-entropy message
#: anti_entropy="full": retry rounds (10 s in a region) before the same pair syncs fully again,
#: so one repair sends every object once each way instead of once per overlapping round
FULL_SYNC_COOLDOWN = 100
TOMB_REASK = 50  # retry rounds before an unanswered tombstone GC question is asked again


@dataclass(frozen=True)
class GetResult:
    """A read: the sibling values (``[]`` if absent) and the context to pass to the next write."""

    values: list[bytes]
    context: VectorClock


@dataclass
class ReplicaStats:
    conflicts: int = 0  # merges that left more than one live sibling
    merges: int = 0  # incoming objects that changed local state
    repairs_sent: int = 0
    ae_rounds: int = 0
    tombstones_collected: int = 0


def _pack(xs: list[int]) -> bytes:
    return array.array("Q", xs).tobytes()


def _unpack(b: bytes) -> list[int]:
    a = array.array("Q")
    a.frombytes(b)
    return a.tolist()


def as_key(key: str | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode()
    raise InvalidArgumentError(f"keys are str or bytes, got {type(key).__name__}")


@dataclass
class Replica:
    """The replication state machine of one region (see the module docstring)."""

    name: str
    peers: list[str]
    storage: Storage = field(default_factory=MemoryStorage)
    #: sequential in the simulator; a random token for network regions (see kvstore.py)
    epoch: int | str = 1
    merkle_depth: int = 3
    resolver: Resolver = "siblings"
    #: False reproduces Riak's kv679 bug: a wiped region reuses its old actor id.
    new_epoch_on_wipe: bool = True
    #: False: a write is pushed once and not retried (benchmarks isolate anti-entropy with it)
    hinted_handoff: bool = True
    #: "merkle", or "full": when the roots differ, both sides send every object (a baseline)
    anti_entropy: Literal["merkle", "full"] = "merkle"
    #: drop tombstones every peer holds identically (see :meth:`collect_tombstones`)
    tombstone_gc: bool = False

    def __post_init__(self) -> None:
        if not (self.resolver in ("siblings", "lww") or callable(self.resolver)):
            raise InvalidArgumentError(
                f"resolver must be 'siblings', 'lww' or a callable, got {self.resolver!r}"
            )
        if self.anti_entropy not in ("merkle", "full"):
            raise InvalidArgumentError(
                f"anti_entropy must be 'merkle' or 'full', got {self.anti_entropy!r}"
            )
        self.outbox: list[Outgoing] = []
        #: peer -> key -> (digest of the object last pushed, retry round it was pushed in):
        #: writes not yet acked by that peer (hinted handoff)
        self.hints: dict[str, dict[bytes, tuple[int, int]]] = {p: {} for p in self.peers}
        self.stats = ReplicaStats()
        self._round = 0
        self._full_sync_after: dict[str, int] = {}  # anti_entropy="full": peer -> round
        self.tree = MerkleTree(self.merkle_depth)
        #: tombstoned key -> retry round it became one here (GC candidates after a grace)
        self.tombs: dict[bytes, int] = {}
        #: tombstone GC in progress: key -> (digest asked about, peers holding it identically,
        #: round asked in); unanswered questions are asked again after TOMB_REASK rounds
        self._tomb_votes: dict[bytes, tuple[int, set[str], int]] = {}
        entries = []
        for k, v in self.storage.items():
            obj = Object.from_bytes(v)
            entries.append((k, obj.digest()))
            if obj.is_absent() and obj.siblings:
                self.tombs[k] = 0
        self.tree.insert_many(entries)
        #: hints survive a restart when the store keeps them; they are all due at once
        self.durable_hints = isinstance(self.storage, HintStore)
        if self.durable_hints:
            for peer, key in self.storage.hints():  # type: ignore[attr-defined]
                if peer in self.hints:
                    self.hints[peer][key] = (self.load(key).digest(), -(1 << 62))

    @property
    def actor(self) -> str:
        """This region's actor id in clocks: name plus epoch, e.g. ``"eu#2"``."""
        return f"{self.name}#{self.epoch}"

    # -- local state -------------------------------------------------------------------------

    def load(self, key: bytes) -> Object:
        raw = self.storage.get(key)
        return Object() if raw is None else Object.from_bytes(raw)

    def _store(self, key: bytes, obj: Object) -> None:
        self.storage.put(key, obj.to_bytes())
        self._indexed(key, obj)

    def _indexed(self, key: bytes, obj: Object) -> None:
        self.tree.insert(key, obj.digest())
        if obj.is_absent() and obj.siblings:
            self.tombs.setdefault(key, self._round)
        else:
            self.tombs.pop(key, None)

    def merge_in(self, key: bytes, remote: Object) -> Object:
        local = self.load(key)
        merged = local.sync(remote)
        if merged != local:
            self._store(key, merged)
            self.stats.merges += 1
            if len(merged.values) > 1:
                self.stats.conflicts += 1
        return merged

    def _raw_many(self, keys: list[bytes]) -> list[bytes | None]:
        get_many = getattr(self.storage, "get_many", None)
        if get_many is not None:
            return list(get_many(keys))
        return [self.storage.get(k) for k in keys]

    def merge_many(self, keys: list[bytes], remotes: list[Object]) -> list[Object]:
        """``merge_in`` for a batch of distinct keys: one read of them all, one write of the
        changed ones (a kv write batch when the store has ``put_many``)."""
        if len(set(keys)) != len(keys):
            return [self.merge_in(k, r) for k, r in zip(keys, remotes, strict=True)]
        out, changed = [], []
        for key, raw, remote in zip(keys, self._raw_many(keys), remotes, strict=True):
            local = Object() if raw is None else Object.from_bytes(raw)
            merged = local.sync(remote)
            if merged != local:
                changed.append((key, merged))
                self.stats.merges += 1
                if len(merged.values) > 1:
                    self.stats.conflicts += 1
            out.append(merged)
        put_many = getattr(self.storage, "put_many", None)
        if put_many is not None and changed:
            put_many([(k, m.to_bytes()) for k, m in changed])
        else:
            for k, m in changed:
                self.storage.put(k, m.to_bytes())
        for k, m in changed:
            self._indexed(k, m)
        return out

    def keys(self) -> list[bytes]:
        return [k for k, _ in self.storage.items()]

    # -- client operations -------------------------------------------------------------------

    def put(
        self, key: bytes, value: bytes | None, context: VectorClock | None, ts: int
    ) -> VectorClock:
        """Coordinate a client write (``value=None`` deletes); returns the new context."""
        obj, _dot = self.load(key).update(self.actor, context or VectorClock(), value, ts)
        if self.durable_hints:  # the object and its hints in one atomic write
            peers = self.peers if self.hinted_handoff else []
            self.storage.put_with_hints(key, obj.to_bytes(), peers)  # type: ignore[attr-defined]
            self._indexed(key, obj)
        else:
            self._store(key, obj)
        for peer in self.peers:
            self._push(peer, key, obj)
        return obj.context

    def _push(self, peer: str, key: bytes, obj: Object) -> None:
        # The ack echoes the digest: an ack for an older version of the key leaves the hint.
        digest = obj.digest()
        if self.hinted_handoff:
            self.hints[peer][key] = (digest, self._round)
        self.outbox.append((peer, "put", {"k": key, "o": obj.to_bytes(), "d": digest}))

    def get(self, key: bytes, read_repair: bool = False) -> GetResult:
        obj = self.load(key)
        if read_repair:
            d = obj.digest()
            for peer in self.peers:
                self.outbox.append((peer, "read", {"k": key, "d": d}))
        return GetResult(self.resolve(obj), obj.context)

    def resolve(self, obj: Object) -> list[bytes]:
        """The values a client sees, after the configured resolver."""
        if self.resolver == "siblings" or len(obj.values) <= 1:
            return obj.values
        if self.resolver == "lww":
            live = [s for s in obj.siblings if s[3] is not None]
            # (timestamp, actor, counter): every region picks the same winner
            win = max(live, key=lambda s: (s[2], s[0], s[1]))
            return [win[3]] if win[3] is not None else []
        assert callable(self.resolver)
        return [self.resolver(obj.values)]

    # -- background work ---------------------------------------------------------------------

    def retry_hints(
        self,
        reachable: Callable[[str], bool],
        min_age: int = 0,
        reconnected: Collection[str] = (),
    ) -> int:
        """Re-push unacked keys to peers that are reachable now, in batches; returns the number
        of keys re-pushed.

        Each call is one retry round; a hint pushed fewer than ``min_age`` rounds ago is left
        alone (its ack may be on the way), so a slow link is not flooded with duplicates, except
        for peers in ``reconnected`` (a new connection: nothing is on the way any more)."""
        self._round += 1
        sent = 0
        for peer, keys in self.hints.items():
            if not keys or not reachable(peer):
                continue
            age = -1 if peer in reconnected else min_age
            due = [k for k, (_, pushed) in keys.items() if self._round - pushed > age]
            for i in range(0, len(due), BATCH):
                chunk = due[i : i + BATCH]
                objs = [self.load(k) for k in chunk]
                digests = [o.digest() for o in objs]
                for k, d in zip(chunk, digests, strict=True):
                    keys[k] = (d, self._round)
                body = {"k": chunk, "o": [o.to_bytes() for o in objs], "d": _pack(digests)}
                self.outbox.append((peer, "put_batch", body))
            sent += len(due)
        return sent

    def hints_pending(self) -> int:
        return sum(len(k) for k in self.hints.values())

    def start_anti_entropy(self, peer: str) -> None:
        """Begin a Merkle exchange with ``peer``: send our root hash."""
        self.stats.ae_rounds += 1
        root = self.tree.root()
        self.outbox.append((peer, "ae_hashes", {"l": 0, "p": [], "h": _pack([root])}))

    def wipe(self) -> None:
        """Lose every byte (disk replaced), restart with a new epoch (or not: kv679)."""
        for key in self.keys():
            self.storage.delete(key)
        if self.durable_hints:
            for peer, keys in self.hints.items():
                self.storage.drop_hints(peer, list(keys))  # type: ignore[attr-defined]
        self.tree = MerkleTree(self.merkle_depth)
        self.tombs.clear()
        self._tomb_votes.clear()
        self.hints = {p: {} for p in self.peers}
        self.outbox.clear()
        if self.new_epoch_on_wipe:
            self.epoch = self.epoch + 1 if isinstance(self.epoch, int) else f"{self.epoch}+"

    # -- peer messages -----------------------------------------------------------------------

    def handle(self, src: str, kind: str, body: Body) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            raise InvalidArgumentError(f"{self.name}: unknown message kind {kind!r} from {src}")
        handler(src, body)

    def _on_put(self, src: str, body: Body) -> None:
        self.merge_in(body["k"], Object.from_bytes(body["o"]))
        self.outbox.append((src, "ack", {"k": body["k"], "d": body["d"]}))

    def _on_put_batch(self, src: str, body: Body) -> None:
        self.merge_many(list(body["k"]), [Object.from_bytes(raw) for raw in body["o"]])
        self.outbox.append((src, "ack_batch", {"k": body["k"], "d": body["d"]}))

    def _on_ack_batch(self, src: str, body: Body) -> None:
        self._acked(src, zip(body["k"], _unpack(body["d"]), strict=True))

    def _on_ack(self, src: str, body: Body) -> None:
        self._acked(src, [(body["k"], body["d"])])

    def _acked(self, src: str, acks: Iterable[tuple[bytes, int]]) -> None:
        hints = self.hints.get(src, {})
        done = []
        for key, digest in acks:
            hint = hints.get(key)
            if hint is not None and hint[0] == digest:
                del hints[key]
                done.append(key)
        if done and self.durable_hints:
            self.storage.drop_hints(src, done)  # type: ignore[attr-defined]

    def _on_read(self, src: str, body: Body) -> None:
        obj = self.load(body["k"])
        if obj.digest() != body["d"]:
            self.outbox.append((src, "read_reply", {"k": body["k"], "o": obj.to_bytes()}))

    def _on_read_reply(self, src: str, body: Body) -> None:
        theirs = Object.from_bytes(body["o"])
        merged = self.merge_in(body["k"], theirs)
        if merged != theirs:  # the peer lags: repair it
            self.stats.repairs_sent += 1
            self.outbox.append((src, "sync", {"k": body["k"], "o": merged.to_bytes()}))

    def _on_sync(self, src: str, body: Body) -> None:
        self.merge_in(body["k"], Object.from_bytes(body["o"]))

    def send_objects(self, dst: str, keys: list[bytes], reply: bool) -> None:
        """Send our objects for ``keys`` in batches of :data:`BATCH`."""
        for i in range(0, len(keys), BATCH):
            chunk = keys[i : i + BATCH]
            objs = [raw or Object().to_bytes() for raw in self._raw_many(chunk)]
            self.outbox.append((dst, "objs", {"k": chunk, "o": objs, "r": reply}))

    def _on_objs(self, src: str, body: Body) -> None:
        keys: list[bytes] = list(body["k"])
        theirs = [Object.from_bytes(raw) for raw in body["o"]]
        if len(keys) != len(theirs):
            raise InvalidArgumentError(f"{self.name}: objs from {src}: keys and objects differ")
        merged = self.merge_many(keys, theirs)
        back = [k for k, m, t in zip(keys, merged, theirs, strict=True) if m != t]
        if body["r"] and back:
            self.send_objects(src, back, reply=False)

    # Anti-entropy, one exchange: A sends its root; then the two sides alternate, each sending
    # the hashes of all children of the nodes that differed on the previous level ("p" names
    # those parents; children are implied, 16 per parent, in order). At the segment level the
    # side that found differences lists its keys and digests there ("ae_keys"); the other side
    # pushes its objects for keys whose digest differs (asking for merges back) and fetches the
    # keys it lacks.

    def _on_ae_hashes(self, src: str, body: Body) -> None:
        level: int = body["l"]
        parents: list[int] = body["p"]
        nodes = [c for p in parents for c in range(p * 16, p * 16 + 16)] if level else [0]
        differ = self.tree.differing_nodes(level, list(zip(nodes, _unpack(body["h"]), strict=True)))
        if not differ:
            return
        if self.anti_entropy == "full":  # the baseline: every object, both ways
            if self._round >= self._full_sync_after.get(src, 0):
                self._full_sync_after[src] = self._round + FULL_SYNC_COOLDOWN
                self.send_objects(src, self.keys(), reply=False)
                self.outbox.append((src, "ae_full", {}))
            return
        if level == self.tree.depth:
            entries = self.tree.segment_entries(differ)
            body = {"n": differ, "k": [k for k, _ in entries], "d": _pack([d for _, d in entries])}
            self.outbox.append((src, "ae_keys", body))
        else:
            kids = self.tree.children(level, differ)
            body = {"l": level + 1, "p": differ, "h": _pack([h for _, h in kids])}
            self.outbox.append((src, "ae_hashes", body))

    def _on_ae_keys(self, src: str, body: Body) -> None:
        theirs = dict(zip(body["k"], _unpack(body["d"]), strict=True))
        mine = dict(self.tree.segment_entries(body["n"]))
        push = [k for k, d in mine.items() if theirs.get(k) != d]
        self.send_objects(src, push, reply=True)
        want = [k for k in theirs if k not in mine]
        if want:
            self.outbox.append((src, "ae_fetch", {"k": want}))

    # Tombstone GC. A delete leaves a tombstone (siblings without values) so that older
    # versions arriving later cannot bring the value back. Once every peer holds the very same
    # tombstone (equal digest: the same context, so every region has seen the delete and
    # everything it covers), and after a grace of TOMB_GRACE rounds for messages still in
    # flight, it can go: the region asks every peer (tomb_q), counts identical holders
    # (tomb_a), and when all peers hold it tells them all to drop it (tomb_gc) and drops its
    # own. A peer drops only if its object still has that digest: a write since is kept. A
    # lost tomb_gc leaves a copy that anti-entropy spreads again; it is collected again later.

    def collect_tombstones(self, grace: int = 0, limit: int = BATCH) -> int:
        """Ask every peer about up to ``limit`` tombstones older than ``grace`` rounds that
        have no pending hint here; returns how many were asked about."""
        if not self.tombstone_gc or not self.peers:
            return 0
        for k in [k for k, v in self._tomb_votes.items() if self._round - v[2] > TOMB_REASK]:
            del self._tomb_votes[k]
        pending = {k for keys in self.hints.values() for k in keys}
        ask = [
            k
            for k, since in self.tombs.items()
            if self._round - since >= grace and k not in pending and k not in self._tomb_votes
        ][:limit]
        if not ask:
            return 0
        digests = [self.tree.get(k) or 0 for k in ask]
        for k, d in zip(ask, digests, strict=True):
            self._tomb_votes[k] = (d, set(), self._round)
        for peer in self.peers:
            self.outbox.append((peer, "tomb_q", {"k": ask, "d": _pack(digests)}))
        return len(ask)

    def _on_tomb_q(self, src: str, body: Body) -> None:
        same = [
            k
            for k, d in zip(body["k"], _unpack(body["d"]), strict=True)
            if k in self.tombs and self.tree.get(k) == d
        ]
        self.outbox.append((src, "tomb_a", {"k": same}))

    def _on_tomb_a(self, src: str, body: Body) -> None:
        done, digests = [], []
        for k in body["k"]:
            vote = self._tomb_votes.get(k)
            if vote is None or self.tree.get(k) != vote[0]:
                continue
            vote[1].add(src)
            if vote[1] >= set(self.peers):
                del self._tomb_votes[k]
                done.append(k)
                digests.append(vote[0])
        if done:
            for peer in self.peers:
                self.outbox.append((peer, "tomb_gc", {"k": done, "d": _pack(digests)}))
            self._on_tomb_gc(self.name, {"k": done, "d": _pack(digests)})

    def _on_tomb_gc(self, src: str, body: Body) -> None:
        for k, d in zip(body["k"], _unpack(body["d"]), strict=True):
            if k in self.tombs and self.tree.get(k) == d:
                self.storage.delete(k)
                self.tree.remove(k)
                del self.tombs[k]
                self._tomb_votes.pop(k, None)
                self.stats.tombstones_collected += 1

    def _on_ae_full(self, src: str, body: Body) -> None:
        self._full_sync_after[src] = self._round + FULL_SYNC_COOLDOWN
        self.send_objects(src, self.keys(), reply=False)

    def _on_ae_fetch(self, src: str, body: Body) -> None:
        self.send_objects(src, body["k"], reply=False)
