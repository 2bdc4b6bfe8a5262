"""``Deduplicator``: first occurrences of each key within an event-time window.

The batch goes into Rust once (zero-copy through the Arrow C data interface, GIL released);
Rust answers with the row indices to keep and the late ones, which pyarrow takes from the batch.
See docs/stream.md for the watermark and window rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from minide import _core
from minide._convert import Duration, to_nanos
from minide.errors import InvalidArgumentError

__all__ = ["Deduplicator"]


def record_batches(data: Any, what: str = "process") -> list[pa.RecordBatch]:
    """``data`` (a record batch, table, or any Arrow C-stream/array object) as record batches;
    ``what`` names the caller in the error."""
    if isinstance(data, pa.RecordBatch):
        return [data]
    if isinstance(data, pa.Table):
        return data.to_batches()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).to_batches()
    if hasattr(data, "__arrow_c_array__"):
        return [pa.record_batch(data)]
    raise InvalidArgumentError(
        f"{what} takes an Arrow record batch or table (pyarrow, Polars, ...), "
        f"got {type(data).__name__}"
    )


class Deduplicator:
    """Drop repeated keys within ``window`` of event time; route late rows to :meth:`late`.

    Rules (exact mode), applied row by row in input order:

    * ``watermark = max event time seen - allowed_lateness``; a row whose event time is below
      the watermark (or null) is *late*: it goes to the side output :meth:`late`, never dropped.
    * otherwise the row is emitted if its key was not emitted before, or if it was emitted at
      event time ``s`` and the row's time ``t >= s + window`` (the key is remembered for
      ``window`` of event time after its emitted occurrence). Else it is a duplicate.

    ``mode="approx"`` replaces the exact key table by expiring cuckoo filters (under 2 bytes per
    remembered key at ``false_positive_rate=0.001``): a duplicate inside the window is always
    dropped, a first occurrence is wrongly dropped with probability at most
    ``false_positive_rate``, and a key may be remembered up to ``2 * window + allowed_lateness``
    (about) of watermark progress instead of exactly ``window``.

    ``time_column`` may be a timestamp of any unit or int64 milliseconds; ``key`` one column
    name or several. Output order is input order.
    """

    _inner: Any
    _late: list[pa.RecordBatch]
    _schema: pa.Schema | None

    def __init__(
        self,
        key: str | Sequence[str] = "event_id",
        *,
        time_column: str = "event_time",
        window: Duration = "1h",
        allowed_lateness: Duration = "5m",
        mode: str = "exact",
        false_positive_rate: float = 0.001,
    ) -> None:
        keys = [key] if isinstance(key, str) else list(key)
        if not keys or not all(isinstance(k, str) for k in keys):
            raise InvalidArgumentError(f"key must be a column name or a list of them, got {key!r}")
        self._inner = _core.StreamDeduplicator(
            keys,
            time_column,
            to_nanos(window, "window"),
            to_nanos(allowed_lateness, "allowed_lateness"),
            mode,
            float(false_positive_rate),
        )
        self._late = []
        self._schema = None

    def process(self, batch: Any) -> pa.RecordBatch:
        """First occurrences of ``batch`` (a RecordBatch, Table or Arrow stream), in input order."""
        outs = []
        for b in record_batches(batch):
            keep, late = self._inner.process(b)
            self._schema = b.schema
            if len(late):
                self._late.append(b.take(late))
            outs.append(b if len(keep) == b.num_rows else b.take(keep))
        if len(outs) == 1:
            return outs[0]
        if not outs:
            schema = batch.schema if hasattr(batch, "schema") else pa.schema([])
            return pa.RecordBatch.from_pylist([], schema=schema)
        return pa.concat_batches(outs)

    def late(self) -> pa.Table:
        """Late rows received since the previous call (the side output), then clears it."""
        rows, self._late = self._late, []
        if rows:
            return pa.Table.from_batches(rows)
        return (self._schema or pa.schema([])).empty_table()

    @property
    def watermark(self) -> int | None:
        """Current watermark in the time column's unit (int64 columns: ms); None before any row."""
        wm: int | None = self._inner.watermark
        return wm

    def stats(self) -> dict[str, float]:
        """rows_in, rows_out, duplicates, late, live_keys, state_bytes and bytes_per_key."""
        s: dict[str, float] = dict(self._inner.stats())
        s["bytes_per_key"] = s["state_bytes"] / s["live_keys"] if s["live_keys"] else 0.0
        return s

    def describe(self) -> dict[str, Any]:
        """How the state is laid out now (the introspection helper; see docs/stream.md).

        Exact mode: the entry format (``stamp``, ``entry_bytes``), the time-bucket width, and per
        shard the table's ``slots``, ``used`` slots (live keys plus stale slots left by expiry,
        swept out when the table fills), ``live`` keys, time ``buckets``, stored ``entries`` and
        ``heap_bytes``; totals and the live ``load`` are added. Approximate mode and a
        deduplicator that has seen no batch report only the mode and ``stats()``.
        """
        out: dict[str, Any] = {"mode": self._inner.mode, "stats": self.stats()}
        layout = self._inner.exact_layout()
        if layout is not None:
            shards = layout["shards"]
            slots = sum(s["slots"] for s in shards)
            live = sum(s["live"] for s in shards)
            out.update(layout)
            out["total"] = {
                "slots": slots,
                "used": sum(s["used"] for s in shards),
                "live": live,
                "load": live / slots if slots else 0.0,
                "entries": sum(s["entries"] for s in shards),
                "heap_bytes": sum(s["heap_bytes"] for s in shards),
            }
        return out

    def checkpoint(self) -> bytes:
        """The state as versioned, CRC-checked bytes (late rows not yet read are not included)."""
        state: bytes = self._inner.checkpoint()
        return state

    @classmethod
    def restore(cls, state: bytes) -> Deduplicator:
        """A deduplicator that behaves exactly like the one that wrote ``state``."""
        dd = cls.__new__(cls)
        dd._inner = _core.StreamDeduplicator.restore(bytes(state))
        dd._late = []
        dd._schema = None
        return dd
