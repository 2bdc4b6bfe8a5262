"""The storage a region keeps its replicated objects in.

A region needs very little from its store: get/put/delete of encoded objects by key and a scan
of every key (to rebuild its Merkle tree after a restart). :class:`Storage` is that interface;
:class:`MemoryStorage` implements it with a dict for the simulator and tests; network regions use
:class:`~minide.replication.kvstore.KvStorage` (``minide.kv`` on disk). Values are the bytes of
``Object.to_bytes()``.

A store may offer ``get_many`` / ``put_many`` (batches; the replica uses them when present).
A store may also keep a region's *hints* (hinted handoff: which peers have not acked which keys
yet), so that they survive a restart: :class:`HintStore`. A hint is just (peer, key); the object
to push is read from the store when the hint is replayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class Storage(Protocol):
    """What a region needs from a key-value store. Keys and values are bytes."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]: ...


@runtime_checkable
class HintStore(Protocol):
    """A :class:`Storage` that also keeps hints durably (``KvStorage``, ``MemoryStorage``)."""

    def put_with_hints(self, key: bytes, value: bytes, peers: Iterable[str]) -> None:
        """Store the object and a hint for each of ``peers``, atomically."""
        ...

    def drop_hints(self, peer: str, keys: Iterable[bytes]) -> None: ...

    def hints(self) -> Iterator[tuple[str, bytes]]:
        """Every stored (peer, key) hint."""
        ...


class MemoryStorage:
    """An in-memory :class:`Storage` (a dict). Lost when the process dies, like a wiped disk."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._hints: set[tuple[str, bytes]] = set()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._data.items()))

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        return [self._data.get(k) for k in keys]

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        self._data.update(items)

    def put_with_hints(self, key: bytes, value: bytes, peers: Iterable[str]) -> None:
        self._data[key] = value
        self._hints.update((p, key) for p in peers)

    def drop_hints(self, peer: str, keys: Iterable[bytes]) -> None:
        self._hints.difference_update((peer, k) for k in keys)

    def hints(self) -> Iterator[tuple[str, bytes]]:
        return iter(sorted(self._hints))

    def clear(self) -> None:
        self._data.clear()
        self._hints.clear()

    def __len__(self) -> int:
        return len(self._data)
