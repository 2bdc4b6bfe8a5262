"""The replication value classes: vector clocks, replicated objects, CRDTs, Merkle trees.

Each class subclasses its Rust class in ``minide._core`` and adds nothing to it but this
documentation and pickling: its methods *are* the Rust methods (no Python frame per call), and
every value they return (``merge``, ``increment``, ``update``, ``sync``, ``copy``,
``from_bytes``, ``Object.context``) is an instance of these classes, not of the ``_core`` ones:
:func:`minide._core.replication_register_facades` below tells the bindings which class to give
the values they create (``rust/bindings/src/facade.rs``). ``__slots__ = ()`` is what lets them:
an instance must have exactly the Rust object's layout.
"""

from __future__ import annotations

from typing import Any

from minide import _core


def _reduce(self: Any) -> tuple[Any, tuple[bytes]]:
    # `type(self).from_bytes` is a classmethod bound to the facade: pickled by reference to it.
    return (type(self).from_bytes, (self.to_bytes(),))


class VectorClock(_core.ReplicationVectorClock):
    """A vector clock: actor -> how many of that actor's events were seen. Immutable, hashable.

    ``VectorClock({"a": 2, "b": 1})``; ``compare(other)`` says ``"before"``, ``"after"``,
    ``"equal"`` or ``"concurrent"``; ``merge(other)`` (entry-wise max) and ``increment(actor)``
    return new clocks; ``descends(other)``, ``covers(actor, counter)``, ``get(actor)``,
    ``to_dict()``, ``len()``; ``to_bytes()`` / ``VectorClock.from_bytes(data)``.
    """

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class Object(_core.ReplicationObject):
    """One key's replicated state: its siblings, each with a dot, and the causal context.

    Immutable, hashable. ``update(actor, context, value, ts=0)`` is a client write at
    coordinator ``actor`` (``value=None`` deletes) and returns ``(object, (actor, counter))``;
    ``sync(other)`` merges another replica's copy, dropping only dominated siblings;
    ``values`` (live values), ``siblings``, ``context`` (a :class:`VectorClock`),
    ``descends(other)``, ``is_absent()``, ``digest()``; ``to_bytes()`` / ``Object.from_bytes``.
    """

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class GCounter(_core.ReplicationGCounter):
    """Grow-only counter CRDT. ``increment(actor, n=1)`` changes it in place; ``value``,
    ``counts()``; ``merge(other)`` and ``copy()`` return new counters."""

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class PNCounter(_core.ReplicationPNCounter):
    """Counter CRDT that goes up and down. ``increment(actor, n=1)``, ``decrement(actor, n=1)``
    change it in place; ``value``; ``merge(other)`` and ``copy()`` return new counters."""

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class ORSet(_core.ReplicationORSet):
    """Add-wins observed-remove set of strings. ``add(actor, element)`` and ``remove(element)``
    change it in place; ``elements()``, ``in``, ``len()``, ``context`` (a :class:`VectorClock`);
    ``merge(other)`` and ``copy()`` return new sets."""

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class LWWRegister(_core.ReplicationLWWRegister):
    """Last-writer-wins register of bytes. ``set(value, ts, actor)`` keeps the write if
    ``(ts, actor, value)`` beats the current one; ``value``, ``timestamp``, ``actor``;
    ``merge(other)`` and ``copy()`` return new registers."""

    __slots__ = ()
    __module__ = "minide.replication"
    __reduce__ = _reduce


class MerkleTree(_core.ReplicationMerkleTree):
    """xxh3 Merkle tree over key-hash ranges (``16 ** depth`` segments), for anti-entropy.

    Mutable: ``insert(key, digest)``, ``insert_many(items)``, ``remove(key)``; ``root()``,
    ``diff(other)`` (the segments that differ), and the level-by-level walk a replica runs with
    a peer: ``node_hashes``, ``differing_nodes``, ``children``, ``segment_entries``.
    """

    __slots__ = ()
    __module__ = "minide.replication"


_core.replication_register_facades(
    VectorClock, Object, GCounter, PNCounter, ORSet, LWWRegister, MerkleTree
)

__all__ = ["GCounter", "LWWRegister", "MerkleTree", "ORSet", "Object", "PNCounter", "VectorClock"]
