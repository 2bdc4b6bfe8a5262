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
Sync = Literal["always", "batch", "none"]


def _utc(d: _dt.datetime) -> _dt.datetime:
    return d.replace(tzinfo=_dt.UTC) if d.tzinfo is None else d


def ts_from_datetime(when: _dt.datetime) -> int:
    """The largest commit timestamp issued at or before ``when`` (naive datetimes are UTC)."""
    delta = _utc(when) - _EPOCH
    millis = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    if millis < 0:
        raise InvalidArgumentError(f"as_of {when} is before 1970")
    return (millis << LOGICAL_BITS) | ((1 << LOGICAL_BITS) - 1)


def datetime_from_ts(ts: int) -> _dt.datetime:
    """The wall-clock time (UTC, millisecond precision) a commit timestamp was issued at."""
    return _EPOCH + _dt.timedelta(milliseconds=ts >> LOGICAL_BITS)


def _key(k: Any) -> bytes:
    if isinstance(k, bytes):
        return k
    if isinstance(k, str):
        return k.encode()
    if isinstance(k, bytearray | memoryview):
        return bytes(k)
    raise InvalidArgumentError(f"keys are bytes or str, got {type(k).__name__}")


def _value(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, bytearray | memoryview):
        return bytes(v)
    raise InvalidArgumentError(
        f"values are bytes, got {type(v).__name__} (encode str values, e.g. v.encode())"
    )


def _valid(t: Any, name: str) -> int | None:
    if t is None:
        return None
    if isinstance(t, _dt.datetime):
        delta = _utc(t) - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(t, int) and not isinstance(t, bool):
        if not -(2**63) <= t < 2**63:
            raise InvalidArgumentError(f"{name}={t} does not fit in 64 bits")
        return t
    raise InvalidArgumentError(f"{name} must be an int or a datetime, got {type(t).__name__}")


def _as_of(t: Any) -> int | None:
    if t is None:
        return None
    if isinstance(t, _dt.datetime):
        return ts_from_datetime(t)
    if isinstance(t, int) and not isinstance(t, bool):
        if not 0 <= t < 2**64:
            raise InvalidArgumentError(f"as_of={t} is not a commit timestamp (0 <= ts < 2**64)")
        return t
    raise InvalidArgumentError(
        f"as_of must be a commit timestamp (int) or a datetime, got {type(t).__name__}"
    )


def _retention(r: Any) -> tuple[str, int]:
    if r is None:
        return ("all", 0)
    if isinstance(r, _dt.timedelta):
        ms = int(r.total_seconds() * 1000)
        if ms <= 0:
            raise InvalidArgumentError(f"retention age must be positive, got {r}")
        return ("max_age_ms", ms)
    if isinstance(r, Mapping) and set(r) == {"versions"}:
        n = r["versions"]
        if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
            return ("versions", n)
    raise InvalidArgumentError(
        f'retention must be None, a timedelta or {{"versions": N}} with N >= 1, got {r!r}'
    )


def _range(
    start: KeyLike | None, end: KeyLike | None, prefix: KeyLike | None
) -> tuple[bytes | None, bytes | None]:
    lo = None if start is None else _key(start)
    hi = None if end is None else _key(end)
    if prefix is not None:
        p = _key(prefix)
        lo = p if lo is None or lo < p else lo
        pend = _prefix_end(p)
        if pend is not None:
            hi = pend if hi is None or pend < hi else hi
    return lo, hi


def _prefix_end(p: bytes) -> bytes | None:
    b = bytearray(p)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return None


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
    """Reads shared by DB (at the newest commit or as_of) and Snapshot (at its pinned ts)."""

    _db: Any

    def _scan(
        self,
        read_ts: int,
        lo: bytes | None,
        hi: bytes | None,
        valid_at: int | None,
        reverse: bool,
        pin: bool,
    ) -> Iterator[tuple[bytes, bytes]]:
        # The Rust scanner streams (forwards or backwards) in chunks of rows; chaining the chunks
        # keeps the per-row work in C (no Python frame per row).
        scanner = self._db.scanner(lo, hi, read_ts, valid_at, reverse, pin)
        return _chain(iter(partial(scanner.next_chunk, _SCAN_CHUNK), []))


class DB(_Reader):
    """An open store; create it with :func:`open`. Safe to share between threads."""

    def __init__(self, core: Any) -> None:
        self._db = core
        # Point reads go straight to the Rust methods, which take every argument type the
        # Python methods below do: no Python frame per call (the methods document the API).
        self.get = core.get  # type: ignore[method-assign]
        self.get_many = core.get_many  # type: ignore[method-assign]

    # -- writes ---------------------------------------------------------------------------
    def put(
        self,
        key: KeyLike,
        value: bytes,
        *,
        valid_from: TimeLike | None = None,
        valid_to: TimeLike | None = None,
    ) -> int:
        """Write a new version of ``key``; returns its commit timestamp."""
        return int(
            self._db.put(
                _key(key),
                _value(value),
                _valid(valid_from, "valid_from"),
                _valid(valid_to, "valid_to"),
            )
        )

    def delete(
        self,
        key: KeyLike,
        *,
        valid_from: TimeLike | None = None,
        valid_to: TimeLike | None = None,
    ) -> int:
        """Write a tombstone (for the whole valid line, or ``[valid_from, valid_to)``)."""
        return int(
            self._db.delete(
                _key(key), _valid(valid_from, "valid_from"), _valid(valid_to, "valid_to")
            )
        )

    def write_batch(self) -> WriteBatch:
        """A batch committed atomically, with one commit timestamp, when its ``with`` ends."""
        if self._db.closed:
            raise StoreClosedError(f"kv store {self._db.path} is closed")
        return WriteBatch(self)

    # -- reads ----------------------------------------------------------------------------
    def get(
        self, key: KeyLike, *, as_of: TimeLike | None = None, valid_at: TimeLike | None = None
    ) -> bytes | None:
        """The value a read at system time ``as_of`` and valid time ``valid_at`` sees.

        ``as_of=None``: the newest commit. ``valid_at=None``: no valid-time filter (the newest
        version). ``None`` when the key is absent or the visible version is a tombstone.
        """
        return self._db.get(key, as_of, valid_at)  # type: ignore[no-any-return]

    def get_many(
        self,
        keys: Iterable[KeyLike],
        *,
        as_of: TimeLike | None = None,
        valid_at: TimeLike | None = None,
    ) -> list[bytes | None]:
        """``get`` for many keys in one call (probed in key order, GIL released)."""
        return self._db.get_many(keys, as_of, valid_at)  # type: ignore[no-any-return]

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
        read_ts = self._db.read_ts(_as_of(as_of))
        lo, hi = _range(start, end, prefix)
        return self._scan(read_ts, lo, hi, _valid(valid_at, "valid_at"), reverse, True)

    def history(self, key: KeyLike) -> list[Version]:
        """Every version of ``key``, oldest first (see :class:`Version` for ``system_to``)."""
        return [Version(*v) for v in self._db.history(_key(key))]

    def snapshot(self) -> Snapshot:
        """Pin the newest commit: reads through the snapshot stay the same while writes go on."""
        return Snapshot(self._db, self._db.snapshot())

    def to_arrow(
        self,
        *,
        as_of: TimeLike | None = None,
        valid_at: TimeLike | None = None,
        prefix: KeyLike | None = None,
    ) -> pa.Table:
        """The visible rows as a table: key, value, system_from, valid_from, valid_to."""
        batch = self._db.to_arrow(
            _as_of(as_of), _valid(valid_at, "valid_at"), None if prefix is None else _key(prefix)
        )
        return pa.Table.from_batches([batch])

    # -- maintenance ----------------------------------------------------------------------
    def flush(self) -> None:
        """Write the memtable to a level-0 table (and wait for it)."""
        self._db.flush()

    def compact(self) -> None:
        """Flush, then merge every table into one run, dropping what ``retention`` allows."""
        self._db.compact()

    def stats(self) -> dict[str, int]:
        """Counters and sizes: commits, WAL bytes/syncs, flushes, compactions, per-level files."""
        return dict(self._db.stats())

    def close(self) -> None:
        """Stop background work and fsync the WAL; later calls raise StoreClosedError."""
        self._db.close()

    @property
    def closed(self) -> bool:
        return bool(self._db.closed)

    @property
    def path(self) -> Path:
        return Path(self._db.path)

    @property
    def last_ts(self) -> int:
        """The newest commit timestamp (what a read without ``as_of`` sees)."""
        return int(self._db.read_ts(None))

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
        return f"<minide.kv.DB {str(self._db.path)!r} {state}>"


class WriteBatch:
    """Writes collected (in Rust) and committed as one WAL record with one commit timestamp.

    Writing one key several times in a batch keeps every write (same commit timestamp, later
    writes win where their valid intervals overlap). If the ``with`` block raises, nothing is
    written.
    """

    def __init__(self, db: DB) -> None:
        self._db = db
        # The ops live in Rust, and put/delete are the Rust methods themselves, bound per
        # instance (they take every argument type the methods below do): a batched put costs
        # one C call, no Python frame. The methods below document the API.
        self._ops = _core.KvBatch()
        self.put = self._ops.put  # type: ignore[method-assign]
        self.delete = self._ops.delete  # type: ignore[method-assign]
        #: the commit timestamp, once committed
        self.ts: int | None = None

    def put(
        self,
        key: KeyLike,
        value: bytes,
        *,
        valid_from: TimeLike | None = None,
        valid_to: TimeLike | None = None,
    ) -> None:
        """Add a new version of ``key`` to the batch."""
        self._ops.put(key, value, valid_from=valid_from, valid_to=valid_to)

    def delete(
        self,
        key: KeyLike,
        *,
        valid_from: TimeLike | None = None,
        valid_to: TimeLike | None = None,
    ) -> None:
        """Add a tombstone (for the whole valid line, or ``[valid_from, valid_to)``)."""
        self._ops.delete(key, valid_from=valid_from, valid_to=valid_to)

    def __len__(self) -> int:
        return len(self._ops)

    def commit(self) -> int:
        """Commit now (the ``with`` block does this for you); returns the commit timestamp."""
        if self.ts is not None:
            raise InvalidArgumentError("this write batch was already committed")
        self.ts = int(self._db._db.write_batch(self._ops))
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


class Snapshot(_Reader):
    """Reads at one pinned commit timestamp. Release with ``close()`` or a ``with`` block."""

    def __init__(self, core: Any, pin: Any) -> None:
        self._db = core
        self._pin = pin

    @property
    def ts(self) -> int:
        return int(self._pin.ts)

    def _check(self) -> None:
        if self._pin.released:
            raise StoreClosedError("snapshot is closed")

    def get(self, key: KeyLike, *, valid_at: TimeLike | None = None) -> bytes | None:
        self._check()
        return self._db.get(key, self.ts, valid_at)  # type: ignore[no-any-return]

    def get_many(
        self, keys: Iterable[KeyLike], *, valid_at: TimeLike | None = None
    ) -> list[bytes | None]:
        self._check()
        return self._db.get_many(keys, self.ts, valid_at)  # type: ignore[no-any-return]

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
        lo, hi = _range(start, end, prefix)
        return self._scan(self.ts, lo, hi, _valid(valid_at, "valid_at"), reverse, False)

    def to_arrow(
        self, *, valid_at: TimeLike | None = None, prefix: KeyLike | None = None
    ) -> pa.Table:
        self._check()
        batch = self._db.to_arrow(
            self.ts, _valid(valid_at, "valid_at"), None if prefix is None else _key(prefix)
        )
        return pa.Table.from_batches([batch])

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

    ``retention``: ``None`` keeps every version; a ``timedelta`` keeps reads with ``as_of`` within
    that age exact; ``{"versions": N}`` keeps reads at or after each key's N-th newest version
    exact. Compaction never drops a version a live snapshot or scan can see.

    ``recovery``: ``"strict"`` refuses to open a WAL with a bad record in its middle
    (CorruptFileError); ``"stop_at_corruption"`` keeps the records before it and drops the rest.
    """
    for name, v in (
        ("memtable_size", memtable_size),
        ("block_size", block_size),
        ("bloom_bits_per_key", bloom_bits_per_key),
    ):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidArgumentError(f"{name} must be a non-negative int, got {v!r}")
    kind, value = _retention(retention)
    core = _core.KvDb(
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
    return DB(core)


def inspect(path: str | Path) -> str:
    """Describe the store at ``path``: levels, tables, key ranges, sizes, versions, WAL files."""
    return str(_core.kv_inspect(str(path)))
