"""The durable :class:`~minide.replication.storage.Storage` of a network region: ``minide.kv``.

A region's store is one kv store in ``<data_dir>/kv`` with two key spaces::

    b"d" + key   -> Object.to_bytes()     the replicated objects (``items()`` scans this prefix)
    b"e"         -> epoch (ASCII hex)     the region's actor epoch (never seen by the replica)
    b"h" + len(peer) + peer + key -> b""  a hint: ``peer`` has not acked ``key`` yet

The prefixes keep the epoch and hints out of the client key space: any client key is safe.

Hints (hinted handoff) are durable: a client write stores its object and one hint per peer in
one kv write batch (one WAL record), so a region killed with SIGKILL restarts with every hint
of every acknowledged write and replays them; an ack deletes its hint.

Durability: ``put``/``delete`` return after kv has committed the write to its WAL. With
``sync="batch"`` (the region default) the OS holds the bytes before the call returns and kv fsyncs
every few ms, so a region killed with SIGKILL keeps every acknowledged write; a power loss can
lose the last few ms. ``sync="always"`` (``Region(fsync=True)``) fsyncs before returning.

Epochs (kv679): the epoch is written (before any object) the first time a store is opened. A
store without it is new or lost its data (directory wiped, disk replaced), so the region cannot
know which dots it issued: it takes a fresh random epoch and its new writes never reuse a dot.
Taking a new epoch is always safe (it only adds an actor to the clocks); keeping the old one is
only safe while the data is intact, which is why the store opens with kv's strict recovery (a
WAL corrupt in its middle refuses to open rather than silently drop writes).

Objects are rewritten whole on every change, so the store keeps one version per key
(``retention={"versions": 1}``): compaction drops the older ones; time travel is not used.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from minide.errors import InvalidArgumentError

if TYPE_CHECKING:
    import minide.kv as kv

_DATA = b"d"
_EPOCH = b"e"
_HINT = b"h"


def _hint_prefix(peer: str) -> bytes:
    name = peer.encode()
    if not 0 < len(name) < 256:
        raise InvalidArgumentError(f"peer names are 1..255 bytes of UTF-8, got {peer!r}")
    return _HINT + bytes([len(name)]) + name


class KvStorage:
    """``KvStorage(data_dir, sync="batch")``: objects of one region in ``data_dir/kv``."""

    def __init__(self, data_dir: str | os.PathLike[str], *, sync: kv.Sync = "batch") -> None:
        # kv loads when a region opens its store: `import minide.replication` stays kv-free.
        import minide.kv as kv

        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = kv.open(self.dir / "kv", sync=sync, retention={"versions": 1})

    @property
    def lost_data(self) -> bool:
        """True while the store has no epoch: it is new, or its data was lost."""
        return self.db.get(_EPOCH) is None

    def epoch(self) -> str:
        """The actor epoch: kept while the data is, new (random) when the store has none."""
        raw = self.db.get(_EPOCH)
        if raw is not None:
            return raw.decode()
        value = secrets.token_hex(3)
        self.db.put(_EPOCH, value.encode())
        return value

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(_DATA + key)

    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(_DATA + key, value)

    def delete(self, key: bytes) -> None:
        self.db.delete(_DATA + key)

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        return self.db.get_many([_DATA + k for k in keys])

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        """Several objects in one write batch (one WAL record)."""
        with self.db.write_batch() as batch:
            for k, v in items:
                batch.put(_DATA + k, v)

    def put_with_hints(self, key: bytes, value: bytes, peers: Iterable[str]) -> None:
        with self.db.write_batch() as batch:
            batch.put(_DATA + key, value)
            for peer in peers:
                batch.put(_hint_prefix(peer) + key, b"")

    def drop_hints(self, peer: str, keys: Iterable[bytes]) -> None:
        prefix = _hint_prefix(peer)
        with self.db.write_batch() as batch:
            for key in keys:
                batch.delete(prefix + key)

    def hints(self) -> Iterator[tuple[str, bytes]]:
        for k, _ in self.db.scan(prefix=_HINT):
            n = k[1]
            yield k[2 : 2 + n].decode(), k[2 + n :]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, object) in key order, read at one pinned commit (writes may go on)."""
        return ((k[1:], v) for k, v in self.db.scan(prefix=_DATA))

    def close(self) -> None:
        """Fsync the WAL and release the store's lock."""
        self.db.close()
