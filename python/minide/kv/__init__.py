"""minide.kv: an LSM-tree, bitemporal time-travel key-value store (see docs/kv.md).

Every write is kept as a new *version* of its key, stamped with a commit timestamp from a hybrid
logical clock (system time) and carrying an application-time interval ``[valid_from, valid_to)``
(valid time, open-ended when ``None``). Reads can ask what a key was at any past commit
(``as_of``) and what was valid at any business time (``valid_at``)::

    import minide.kv as kv

    with kv.open("/tmp/prices") as db:
        t1 = db.put("AAPL", b"190", valid_from=0)
        db.put("AAPL", b"191", valid_from=100)
        db.get("AAPL")                       # b"191": newest version
        db.get("AAPL", as_of=t1)             # b"190": as committed at t1
        db.get("AAPL", valid_at=50)          # b"190": the version valid at 50
        db.history("AAPL")                   # [Version(...), Version(...)]

Keys are ``bytes`` or ``str`` (stored as UTF-8); values are ``bytes``. Valid times are ints in your
own unit or datetimes (stored as epoch microseconds, naive = UTC). ``as_of`` is a commit timestamp
(as returned by ``put``) or a datetime (every commit at or before it).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from minide import _core
from minide._convert import Sync, check_sync, to_nanos
from minide.errors import InvalidArgumentError, StoreClosedError

__all__ = [
    "DB",
    "Snapshot",
    "Version",
    "WriteBatch",
    "datetime_from_ts",
    "inspect",
    "open",
    "ts_from_datetime",
]

#: commit timestamp = wall-clock milliseconds << LOGICAL_BITS | logical counter
LOGICAL_BITS = 16
_SCAN_CHUNK = 1024
_chain = chain.from_iterable
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

KeyLike = bytes | str
TimeLike = int | _dt.datetime


def ts_from_datetime(when: _dt.datetime) -> int:
    """The largest commit timestamp issued at or before ``when`` (naive datetimes are UTC)."""
    return int(_core.kv_ts_from_datetime(when))


def datetime_from_ts(ts: int) -> _dt.datetime:
    """The wall-clock time (UTC, millisecond precision) a commit timestamp was issued at."""
    return _EPOCH + _dt.timedelta(milliseconds=ts >> LOGICAL_BITS)


def _retention(r: Any) -> tuple[str, int]:
    if r is None:
        return ("all", 0)
    if isinstance(r, _dt.timedelta | str):
        ms = to_nanos(r, "retention") // 1_000_000
        if ms <= 0:
            raise InvalidArgumentError(f"retention age must be positive, got {r!r}")
        return ("max_age_ms", ms)
    if isinstance(r, Mapping) and set(r) == {"versions"}:
        n = r["versions"]
        if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
            return ("versions", n)
    raise InvalidArgumentError(
        'retention must be None, a duration (a timedelta or a string like "30d") or '
        f'{{"versions": N}} with N >= 1, got {r!r}'
    )


@dataclass(frozen=True)
class Version:
    """One version of a key, as ``history`` returns it.

    ``system_from`` is the commit timestamp that wrote it. ``system_to`` is the commit timestamp
    from which no read sees it at any valid time: the first later commit at which newer versions
    together cover its whole valid interval (with open valid intervals: simply the next version's
    commit); ``None`` while some read at the newest commit can still see it.
    """

    value: bytes | None
    system_from: int
    system_to: int | None
    valid_from: int | None
    valid_to: int | None

    @property
    def is_tombstone(self) -> bool:
        return self.value is None


class _Reader:
    """Scans shared by DB (at the newest commit or as_of) and Snapshot (at its pinned ts)."""

    def _scan_rows(
        self,
        core: _core.KvDb,
        read_ts: int,
        start: KeyLike | None,
        end: KeyLike | None,
        prefix: KeyLike | None,
        valid_at: TimeLike | None,
        reverse: bool,
        pin: bool,
    ) -> Iterator[tuple[bytes, bytes]]:
        # The Rust scanner streams (forwards or backwards) in chunks of rows; chaining the chunks
        # keeps the per-row work in C (no Python frame per row).
        scanner = core._scanner(start, end, prefix, read_ts, valid_at, reverse, pin)
        return _chain(iter(partial(scanner.next_chunk, _SCAN_CHUNK), []))


class DB(_core.KvDb, _Reader):
    """An open store; create it with :func:`open`. Safe to share between threads.

    The point operations (``get``, ``get_many``, ``put``, ``delete``) are the Rust methods of
    the base class themselves: no Python frame per call, and arguments are converted once, in
    the bindings (``rust/bindings/src/kv_args.rs``). Their signatures::

        put(key, value, *, valid_from=None, valid_to=None) -> int      # commit timestamp
        delete(key, *, valid_from=None, valid_to=None) -> int          # a tombstone
        get(key, *, as_of=None, valid_at=None) -> bytes | None
        get_many(keys, *, as_of=None, valid_at=None) -> list[bytes | None]

    ``as_of``: a commit timestamp or a datetime (``None``: the newest commit). ``valid_at``,
    ``valid_from``, ``valid_to``: ints in your own unit or datetimes (``None``: no filter / an
    open end).
    """

    # -- writes ---------------------------------------------------------------------------
    def write_batch(self) -> WriteBatch:
        """A batch committed atomically, with one commit timestamp, when its ``with`` ends."""
        if self.closed:
            raise StoreClosedError(f"kv store {self.path} is closed")
        return WriteBatch(self)

    # -- reads ----------------------------------------------------------------------------
    def scan(
        self,
        start: KeyLike | None = None,
        end: KeyLike | None = None,
        *,
        prefix: KeyLike | None = None,
        as_of: TimeLike | None = None,
        valid_at: TimeLike | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs with ``start <= key < end`` (and ``prefix``), in key order.

        The read timestamp is pinned for the life of the iterator, so compaction keeps what it
        reads. Both directions stream: ``reverse=True`` walks the tables backwards.
        """
        read_ts = self._read_ts(as_of)
        return self._scan_rows(self, read_ts, start, end, prefix, valid_at, reverse, True)

    def history(self, key: KeyLike) -> list[Version]:
        """Every version of ``key``, oldest first (see :class:`Version` for ``system_to``)."""
        return [Version(*v) for v in self._history(key)]

    def snapshot(self) -> Snapshot:
        """Pin the newest commit: reads through the snapshot stay the same while writes go on."""
        return Snapshot(self, self._snapshot())

    def to_arrow(
        self,
        *,
        as_of: TimeLike | None = None,
        valid_at: TimeLike | None = None,
        prefix: KeyLike | None = None,
    ) -> pa.Table:
        """The visible rows as a table: key, value, system_from, valid_from, valid_to."""
        return pa.Table.from_batches([self._to_arrow(as_of, valid_at, prefix)])

    # -- state ----------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return Path(self._path)

    @property
    def last_ts(self) -> int:
        """The newest commit timestamp (what a read without ``as_of`` sees)."""
        return int(self._read_ts(None))

    def __enter__(self) -> DB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<minide.kv.DB {self._path!r} {state}>"


class WriteBatch(_core.KvBatch):
    """Writes collected (in Rust) and committed as one WAL record with one commit timestamp.

    ``put(key, value, *, valid_from=None, valid_to=None)`` and ``delete(key, *, valid_from=None,
    valid_to=None)`` are the Rust methods of the base class (one C call per write). Writing one
    key several times in a batch keeps every write (same commit timestamp, later writes win
    where their valid intervals overlap). If the ``with`` block raises, nothing is written.
    """

    def __new__(cls, db: DB) -> WriteBatch:
        return super().__new__(cls)

    def __init__(self, db: DB) -> None:
        self._db = db
        #: the commit timestamp, once committed
        self.ts: int | None = None

    def commit(self) -> int:
        """Commit now (the ``with`` block does this for you); returns the commit timestamp."""
        if self.ts is not None:
            raise InvalidArgumentError("this write batch was already committed")
        self.ts = int(self._db._commit(self))
        return self.ts

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.ts is None:
            self.commit()

    def __repr__(self) -> str:
        state = "pending" if self.ts is None else f"committed at {self.ts}"
        return f"<minide.kv.WriteBatch {len(self)} ops, {state}>"


class Snapshot(_Reader):
    """Reads at one pinned commit timestamp. Release with ``close()`` or a ``with`` block."""

    def __init__(self, db: DB, pin: _core.KvSnapshot) -> None:
        self._db = db
        self._pin = pin

    @property
    def ts(self) -> int:
        return int(self._pin.ts)

    def _check(self) -> None:
        if self._pin.released:
            raise StoreClosedError("snapshot is closed")

    def get(self, key: KeyLike, *, valid_at: TimeLike | None = None) -> bytes | None:
        self._check()
        return self._db.get(key, as_of=self._pin.ts, valid_at=valid_at)

    def get_many(
        self, keys: Iterable[KeyLike], *, valid_at: TimeLike | None = None
    ) -> list[bytes | None]:
        self._check()
        return self._db.get_many(keys, as_of=self._pin.ts, valid_at=valid_at)

    def scan(
        self,
        start: KeyLike | None = None,
        end: KeyLike | None = None,
        *,
        prefix: KeyLike | None = None,
        valid_at: TimeLike | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check()
        return self._scan_rows(self._db, self.ts, start, end, prefix, valid_at, reverse, False)

    def to_arrow(
        self, *, valid_at: TimeLike | None = None, prefix: KeyLike | None = None
    ) -> pa.Table:
        self._check()
        return pa.Table.from_batches([self._db._to_arrow(self.ts, valid_at, prefix)])

    def close(self) -> None:
        self._pin.release()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._pin.released else "open"
        return f"<minide.kv.Snapshot ts={self.ts} {state}>"


def open(
    path: str | Path,
    *,
    sync: Sync = "batch",
    memtable_size: int = 64 << 20,
    block_size: int = 4096,
    compression: Literal["zstd", "none"] = "zstd",
    bloom_bits_per_key: int = 10,
    retention: _dt.timedelta | Mapping[str, int] | None = None,
    recovery: Literal["strict", "stop_at_corruption"] = "strict",
) -> DB:
    """Open (or create) the store in directory ``path``, replaying its write-ahead log.

    ``sync``: ``"always"`` fsyncs every commit before returning (concurrent commits share an
    fsync); ``"batch"`` returns once the OS has the write and fsyncs every few milliseconds;
    ``"none"`` leaves flushing to the OS. A process crash loses nothing acknowledged in any mode;
    a power loss can lose the last milliseconds under "batch" and more under "none".

    ``retention``: ``None`` keeps every version; a duration (a ``timedelta`` or a string like
    ``"30d"``, see docs/conventions.md) keeps reads with ``as_of`` within
    that age exact; ``{"versions": N}`` keeps reads at or after each key's N-th newest version
    exact. Compaction never drops a version a live snapshot or scan can see.

    ``recovery``: ``"strict"`` refuses to open a WAL with a bad record in its middle
    (CorruptFileError); ``"stop_at_corruption"`` keeps the records before it and drops the rest.
    """
    check_sync(sync)
    for name, v in (
        ("memtable_size", memtable_size),
        ("block_size", block_size),
        ("bloom_bits_per_key", bloom_bits_per_key),
    ):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative int, got {v!r}")
    kind, value = _retention(retention)
    return DB(
        str(path),
        sync,
        memtable_size,
        block_size,
        compression,
        bloom_bits_per_key,
        kind,
        value,
        recovery,
    )


def inspect(path: str | Path) -> str:
    """Describe the store at ``path``: levels, tables, key ranges, sizes, versions, WAL files."""
    return str(_core.kv_inspect(str(path)))
