"""The storage a region keeps its replicated objects in.

A region needs very little from its store: get/put/delete of encoded objects by key and a scan
of every key (to rebuild its Merkle tree after a restart). :class:`Storage` is that interface;
:class:`MemoryStorage` implements it with a dict for the simulator and tests; network regions use
:class:`~minide.replication.kvstore.KvStorage` (``minide.kv`` on disk). Values are the bytes of
``Object.to_bytes()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class Storage(Protocol):
    """What a region needs from a key-value store. Keys and values are bytes."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]: ...


class MemoryStorage:
    """An in-memory :class:`Storage` (a dict). Lost when the process dies, like a wiped disk."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._data.items()))

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
