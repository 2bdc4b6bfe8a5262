"""``Log``: minide's durable, partitioned log, and ``Consumer`` groups on top of it.

Records are our own format (length, CRC32C, columnar payload) in segmented files; see
docs/stream.md. Durability is ``sync=`` (docs/conventions.md): ``"always"`` (the default) returns
from ``append`` after the data is fsynced; ``"batch"`` fsyncs on the append path at most every
few milliseconds (and on ``sync()``); ``"none"`` leaves it to the OS and ``sync()``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from minide import _core
from minide._convert import Duration, Sync, check_sync, to_nanos
from minide.errors import InvalidArgumentError

__all__ = ["Consumer", "Log"]

#: with sync="batch", an append fsyncs when the last fsync is older than this
BATCH_SYNC_INTERVAL_S = 0.005


def _as_batches(data: Any) -> list[pa.RecordBatch]:
    if isinstance(data, pa.RecordBatch):
        return [data]
    if isinstance(data, pa.Table):
        return data.combine_chunks().to_batches() or []
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).combine_chunks().to_batches()
    if hasattr(data, "__arrow_c_array__"):
        return [pa.record_batch(data)]
    raise InvalidArgumentError(
        f"append expects an Arrow record batch or table, got {type(data).__name__}"
    )


class Log:
    """A durable log of Arrow rows in ``partitions`` partitions under directory ``path``.

    Rows are assigned to a partition by the xxh3-128 hash of their ``key`` columns (rows with
    equal keys share a partition and keep their order); offsets are dense per partition.
    ``retention_bytes`` / ``retention_ms`` delete whole old segments (``retention_ms``: an int of
    milliseconds, a timedelta or a string like ``"7d"``). Opening a log after a crash cuts a torn
    final record; corruption elsewhere raises ``CorruptFileError``.

    ``sync``: ``"always"`` fsyncs every touched partition before ``append`` returns (survives a
    power loss); ``"batch"`` fsyncs on the append path when the last fsync is older than
    :data:`BATCH_SYNC_INTERVAL_S` (a power loss can lose the appends since the last fsync);
    ``"none"`` fsyncs only in :meth:`sync`. Every mode survives a process crash (``kill -9``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        partitions: int = 4,
        retention_bytes: int | None = None,
        retention_ms: int | Duration | None = None,
        *,
        segment_bytes: int = 64 << 20,
        sync: Sync = "always",
        fsync: bool | None = None,
    ) -> None:
        if fsync is not None:
            warnings.warn(
                'Log(fsync=True/False) is deprecated: use sync="always" / sync="none"',
                DeprecationWarning,
                stacklevel=2,
            )
            sync = "always" if fsync else "none"
        self.sync_mode: Sync = check_sync(sync)
        if isinstance(retention_ms, str) or (
            retention_ms is not None and not isinstance(retention_ms, int)
        ):
            retention_ms = to_nanos(retention_ms, "retention_ms") // 1_000_000
        self.path = os.fspath(path)
        self._inner = _core.StreamLog(
            self.path,
            partitions,
            retention_bytes,
            retention_ms,
            segment_bytes,
            self.sync_mode == "always",
        )
        self._last_sync = time.monotonic()

    def __repr__(self) -> str:
        return f"<minide.stream.Log {self.path!r} partitions={self.partitions} sync={self.sync_mode!r}>"

    @property
    def partitions(self) -> int:
        n: int = self._inner.partitions()
        return n

    def append(self, batch: Any, key: str | Sequence[str] | None = None) -> pa.RecordBatch:
        """Append rows; returns ``partition`` and ``offset`` of every row, in input order."""
        keys = [] if key is None else [key] if isinstance(key, str) else list(key)
        parts, offs = [], []
        for b in _as_batches(batch):
            p, o = self._inner.append(b, keys)
            parts.append(p.cast(pa.int32()))
            offs.append(o.cast(pa.int64()))
        if self.sync_mode == "batch":
            now = time.monotonic()
            if now - self._last_sync >= BATCH_SYNC_INTERVAL_S:
                self._inner.sync()
                self._last_sync = now
        if not parts:
            return pa.record_batch(
                {"partition": pa.array([], pa.int32()), "offset": pa.array([], pa.int64())}
            )
        return pa.record_batch(
            {
                "partition": pa.concat_arrays(parts),
                "offset": pa.concat_arrays(offs),
            }
        )

    def read(self, partition: int, offset: int, max_records: int = 10_000) -> pa.RecordBatch:
        """Up to ``max_records`` rows of ``partition`` from ``offset`` (fewer at the end, or
        where the schema of appended batches changes). Empty batch at the end of the partition."""
        out = self._inner.read(partition, offset, max_records)
        if out is None:
            return pa.RecordBatch.from_pylist([])
        batch: pa.RecordBatch = out
        return batch

    def start_offsets(self) -> list[int]:
        """Earliest offset still stored, per partition."""
        return list(self._inner.start_offsets())

    def end_offsets(self) -> list[int]:
        """Offset the next appended row will get, per partition."""
        return list(self._inner.end_offsets())

    def size_bytes(self) -> int:
        n: int = self._inner.size_bytes()
        return n

    def sync(self) -> None:
        """fsync every partition (what ``sync="always"`` does on every append)."""
        self._inner.sync()
        self._last_sync = time.monotonic()

    def apply_retention(self) -> int:
        """Delete whole segments past the retention limits now; returns how many."""
        n: int = self._inner.apply_retention()
        return n

    def consumer(self, group: str = "default") -> Consumer:
        """A consumer in ``group`` starting at the group's committed offsets."""
        return Consumer(self, group)


class Consumer:
    """Reads a :class:`Log` from a consumer group's committed offsets.

    ``poll`` returns rows of one partition at a time (round robin) with two extra columns,
    ``_partition`` and ``_offset``. ``commit`` persists the position after everything polled,
    atomically per group; after a restart a consumer resumes there (at-least-once: rows polled
    but not committed are delivered again).
    """

    def __init__(self, log: Log, group: str) -> None:
        self.log = log
        self.group = group
        self._positions = list(log._inner.committed(group))
        self._next_partition = 0

    @property
    def positions(self) -> list[int]:
        """Next offset to poll, per partition."""
        return list(self._positions)

    def committed(self) -> list[int]:
        return list(self.log._inner.committed(self.group))

    def poll(self, max_records: int = 10_000) -> pa.RecordBatch:
        n = len(self._positions)
        for i in range(n):
            p = (self._next_partition + i) % n
            batch = self.log._inner.read(p, self._positions[p], max_records)
            if batch is None or batch.num_rows == 0:
                continue
            self._next_partition = (p + 1) % n
            start = self._positions[p]
            self._positions[p] = start + batch.num_rows
            return batch.append_column(
                "_partition", pa.array([p] * batch.num_rows, pa.int32())
            ).append_column("_offset", pa.array(range(start, start + batch.num_rows), pa.int64()))
        return pa.RecordBatch.from_pylist([])

    def seek(self, partition: int, offset: int) -> None:
        """Move the position of ``partition`` (e.g. 0 to replay from the start)."""
        self._positions[partition] = offset

    def commit(self) -> None:
        """Persist the current positions as the group's committed offsets (atomic)."""
        self.log._inner.commit(self.group, self._positions)

    def lag(self) -> dict[int, int]:
        """Rows appended but not yet committed by this group, per partition."""
        committed = self.committed()
        return {
            p: end - c
            for p, (end, c) in enumerate(zip(self.log.end_offsets(), committed, strict=True))
        }
