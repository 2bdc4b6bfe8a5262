"""``RedisStreamSource`` and ``RedisSink``: Redis Streams at both ends of a :class:`Pipeline`.

Reads with ``XREADGROUP``; after a restart it first re-reads this consumer's own pending entries
(delivered, never acknowledged) from ID 0, skipping those at or below the last ID recorded in
the pipeline checkpoint (they are already in the output), then claims entries that other
consumers left pending for ``claim_idle_ms`` (``XAUTOCLAIM``), then reads new entries (``>``).
Entries are acknowledged (``XACK``) only after the checkpoint that covers them is written.
Each entry's ``field`` holds a JSON or msgpack object decoded by ``schema``; malformed entries
go to :meth:`dead_letters` with the reason (and are acknowledged, never retried forever).

The hot path (``XREADGROUP`` of our pending entries and of new ones, and ``XACK``) runs on
minide's own RESP client (rust/stream/src/ingest/resp.rs): a reply of ``count`` entries is
parsed straight into an Arrow array of IDs and one of payloads, and the IDs delivered since the
last checkpoint are acknowledged in a few pipelined commands of up to 10,000 IDs each.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from minide import _core
from minide.errors import InvalidArgumentError
from minide.stream.formats import decode_messages

__all__ = ["RedisSink", "RedisStreamSource"]


def _str(x: str | bytes) -> str:
    return x.decode() if isinstance(x, bytes) else x


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class RedisStreamSource:
    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        *,
        schema: pa.Schema,
        format: str = "json",
        field: str = "data",
        block_ms: int = 100,
        claim_idle_ms: int = 30_000,
    ) -> None:
        import redis

        if format not in ("json", "msgpack"):
            raise InvalidArgumentError(f"format must be 'json' or 'msgpack', got {format!r}")
        self.redis = redis.Redis.from_url(url)
        self._reader = _core.StreamRedisReader(url)
        self.stream, self.group, self.consumer = stream, group, consumer
        self.schema, self.format, self.field = schema, format, field.encode()
        self.block_ms, self.claim_idle_ms = block_ms, claim_idle_ms
        try:
            self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self.last_id: str | None = None
        self._pending_cursor: str | None = "0"
        self._claim_cursor: str | None = "0-0"
        #: IDs delivered since the last commit (pyarrow string arrays)
        self._delivered: list[pa.Array] = []
        self._dead: list[dict[str, Any]] = []
        self.dead_letter_count = 0

    # -- Source protocol ----------------------------------------------------------------------
    def restore(self, state: Any | None) -> None:
        self.last_id = None if state is None else state.get("last_id")
        self._pending_cursor, self._claim_cursor = "0", "0-0"

    def state(self) -> Any:
        return {"last_id": self.last_id}

    def commit(self, state: Any) -> None:
        # The pipeline commits right after taking `state`, with no poll in between: everything
        # delivered so far is covered by that checkpoint.
        for ids in self._delivered:
            self._reader.xack(self.stream, self.group, ids)
        self._delivered = []

    def lag(self) -> dict[str, int]:
        info = self.redis.xinfo_groups(self.stream)
        for g in info:
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == self.group:
                return {"pending": int(g.get("pending", 0)), "lag": int(g.get("lag") or 0)}
        return {}

    def poll(self, max_records: int) -> pa.RecordBatch | None:
        ids, payloads = self._next_entries(max_records)
        if len(ids) == 0:
            return None
        self._delivered.append(ids)
        if self.last_id is not None and self._pending_cursor is not None:
            # Our pending entries at or below the checkpoint's last ID are already in the
            # output; they are only acknowledged (at the next commit).
            skip_upto = _id_key(self.last_id)
            keep = [_id_key(i) > skip_upto for i in ids.to_pylist()]
            if not all(keep):
                mask = pa.array(keep, pa.bool_())
                ids, payloads = pc.filter(ids, mask), pc.filter(payloads, mask)
        batch, bad = decode_messages(payloads, self.schema, self.format)
        for i, reason in bad:
            self._dead.append(
                {"id": ids[i].as_py(), "reason": reason, "payload": payloads[i].as_py() or b""}
            )
        self.dead_letter_count += len(bad)
        if len(ids):
            # Entries come in ID order within a read; claimed ones may be older than last_id.
            newest = ids[len(ids) - 1].as_py()
            if self.last_id is None or _id_key(newest) > _id_key(self.last_id):
                self.last_id = newest
        return batch

    def _next_entries(self, count: int) -> tuple[pa.Array, pa.Array]:
        # 1. Our own pending entries (delivered before a crash, never acknowledged).
        if self._pending_cursor is not None:
            ids, payloads = self._reader.xreadgroup(
                self.group, self.consumer, self.stream, self._pending_cursor, count, None,
                self.field,
            )  # fmt: skip
            if len(ids):
                self._pending_cursor = ids[len(ids) - 1].as_py()
                return ids, payloads
            self._pending_cursor = None
        # 2. Entries other consumers left pending for too long.
        while self._claim_cursor is not None:
            nxt, claimed, *_ = self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=self._claim_cursor,
                count=count,
            )
            nxt = nxt.decode() if isinstance(nxt, bytes) else nxt
            self._claim_cursor = None if nxt in ("0-0", self._claim_cursor) else nxt
            claimed = [e for e in claimed if e and e[1] is not None]
            if claimed:
                return (
                    pa.array([_str(e[0]) for e in claimed], pa.string()),
                    pa.array([(e[1] or {}).get(self.field) for e in claimed], pa.binary()),
                )
        # 3. New entries.
        return self._reader.xreadgroup(
            self.group, self.consumer, self.stream, ">", count, self.block_ms, self.field
        )

    # -- dead letters -------------------------------------------------------------------------
    def dead_letters(self) -> pa.Table:
        """Malformed entries since the last call (id, reason, payload), then clears them."""
        rows, self._dead = self._dead, []
        return pa.table(
            {
                "id": pa.array([r["id"] for r in rows], pa.string()),
                "reason": pa.array([r["reason"] for r in rows], pa.string()),
                "payload": pa.array([r["payload"] for r in rows], pa.binary()),
            }
        )


class RedisSink:
    """Appends output rows to a Redis stream, one entry per row (``field`` = msgpack/JSON object).

    Exactly-once with :class:`~minide.stream.Pipeline`: the checkpoint records the stream's last
    entry ID; on restore every entry added after it (output of batches after the checkpoint,
    which will be produced again) is deleted with ``XDEL``. One pipeline per output stream.
    """

    def __init__(
        self, url: str, stream: str, *, field: str = "data", format: str = "msgpack"
    ) -> None:
        import redis

        if format not in ("json", "msgpack"):
            raise InvalidArgumentError(f"format must be 'json' or 'msgpack', got {format!r}")
        self.redis = redis.Redis.from_url(url)
        self.stream, self.field, self.format = stream, field, format

    def _encode(self, row: dict[str, Any]) -> bytes:
        if self.format == "json":
            import json

            return json.dumps(row, default=str).encode()
        import msgpack

        return msgpack.packb(row, default=str, use_bin_type=True)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        pipe = self.redis.pipeline(transaction=False)
        for row in batch.to_pylist():
            pipe.xadd(self.stream, {self.field: self._encode(row)})
        pipe.execute()

    def sync(self) -> None:
        """Redis acknowledged every XADD already (durability is Redis's AOF/RDB setting)."""

    def _last_id(self) -> str | None:
        last = self.redis.xrevrange(self.stream, count=1)
        if not last:
            return None
        eid = last[0][0]
        return eid.decode() if isinstance(eid, bytes) else eid

    def state(self) -> Any:
        return {"last_id": self._last_id()}

    def restore(self, state: Any | None) -> None:
        if state is None:
            return
        start = "(" + state["last_id"] if state.get("last_id") else "-"
        while True:
            extra = self.redis.xrange(self.stream, min=start, max="+", count=10_000)
            if not extra:
                return
            self.redis.xdel(self.stream, *[e[0] for e in extra if e[0] is not None])
