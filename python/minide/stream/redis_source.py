"""``RedisStreamSource`` and ``RedisSink``: Redis Streams at both ends of a :class:`Pipeline`.

Reads with ``XREADGROUP``; after a restart it first re-reads this consumer's own pending entries
(delivered, never acknowledged) from ID 0, skipping those at or below the last ID recorded in
the pipeline checkpoint (they are already in the output), then claims entries that other
consumers left pending for ``claim_idle_ms`` (``XAUTOCLAIM``), then reads new entries (``>``).
Entries are acknowledged (``XACK``) only after the checkpoint that covers them is written.
Each entry's ``field`` holds a JSON or msgpack object decoded by ``schema``; malformed entries
go to :meth:`dead_letters` with the reason (and are acknowledged, never retried forever).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from minide.errors import InvalidArgumentError
from minide.stream.formats import decode_messages

__all__ = ["RedisSink", "RedisStreamSource"]


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
        self._delivered: list[str] = []
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
        if self._delivered:
            self.redis.xack(self.stream, self.group, *self._delivered)
            self._delivered = []

    def lag(self) -> dict[str, int]:
        info = self.redis.xinfo_groups(self.stream)
        for g in info:
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == self.group:
                return {"pending": int(g.get("pending", 0)), "lag": int(g.get("lag") or 0)}
        return {}

    def poll(self, max_records: int) -> pa.RecordBatch | None:
        entries = self._next_entries(max_records)
        if not entries:
            return None
        fresh: list[tuple[str, bytes]] = []
        skip_upto = _id_key(self.last_id) if self.last_id else None
        for entry_id, fields in entries:
            eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            self._delivered.append(eid)
            if (
                skip_upto is not None
                and _id_key(eid) <= skip_upto
                and self._pending_cursor is not None
            ):
                continue  # already processed before the crash; acknowledged at the next commit
            fresh.append((eid, (fields or {}).get(self.field, b"")))
        batch, bad = decode_messages([p for _, p in fresh], self.schema, self.format)
        for i, reason in bad:
            eid, payload = fresh[i]
            self._dead.append({"id": eid, "reason": reason, "payload": payload})
        self.dead_letter_count += len(bad)
        if fresh:
            # Entries come in ID order within a read; claimed ones may be older than last_id.
            newest = fresh[-1][0]
            if self.last_id is None or _id_key(newest) > _id_key(self.last_id):
                self.last_id = newest
        return batch

    def _next_entries(self, count: int) -> list[Any]:
        # 1. Our own pending entries (delivered before a crash, never acknowledged).
        while self._pending_cursor is not None:
            resp = self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: self._pending_cursor}, count=count
            )
            entries = resp[0][1] if resp else []
            if not entries:
                self._pending_cursor = None
                break
            last = entries[-1][0]
            self._pending_cursor = last.decode() if isinstance(last, bytes) else last
            return list(entries)
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
                return claimed
        # 3. New entries.
        resp = self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=self.block_ms
        )
        return list(resp[0][1]) if resp else []

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
            self.redis.xdel(self.stream, *[e[0] for e in extra])
