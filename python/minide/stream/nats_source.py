"""``NatsSource``: a NATS JetStream pull consumer as a :class:`Pipeline` source.

A durable pull consumer with explicit acks. Messages are acknowledged only after the checkpoint
that covers them is written; the checkpoint records which stream sequences were processed (a
contiguous prefix plus the few above it: after a crash JetStream delivers new messages first and
redelivers the unacknowledged ones later, so processing is not in sequence order), and
redelivered messages already processed are skipped. Messages a crashed process left unacknowledged come back after ``ack_wait`` seconds,
so the source only reports "idle" when the consumer has nothing pending and nothing
outstanding but what this process holds. Payloads are JSON or msgpack objects decoded by
``schema``; malformed ones go to :meth:`dead_letters`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from minide.errors import InvalidArgumentError, MinideIOError
from minide.stream.formats import decode_messages

__all__ = ["NatsSource"]


class NatsSource:
    def __init__(
        self,
        url: str,
        stream: str,
        durable: str,
        *,
        schema: pa.Schema,
        subject: str | None = None,
        format: str = "json",
        fetch_timeout: float = 0.2,
        ack_wait: float = 5.0,
    ) -> None:
        if format not in ("json", "msgpack"):
            raise InvalidArgumentError(f"format must be 'json' or 'msgpack', got {format!r}")
        self.url, self.stream, self.durable = url, stream, durable
        self.schema, self.format = schema, format
        self.subject = subject
        self.fetch_timeout, self.ack_wait = fetch_timeout, ack_wait
        self._loop = asyncio.new_event_loop()
        self.done_upto = 0  # every stream sequence <= done_upto was processed
        self.done: set[int] = set()  # processed sequences above done_upto
        self._held: list[tuple[int, Any]] = []  # (stream sequence, message) delivered, not acked
        self._dead: list[dict[str, Any]] = []
        self.dead_letter_count = 0
        self._run(self._connect())

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    async def _connect(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        try:
            self.nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=1)
        except Exception as e:
            raise MinideIOError(f"cannot connect to NATS at {self.url}: {e}") from e
        self.js = self.nc.jetstream()
        info = await self.js.stream_info(self.stream)
        subject = self.subject or (info.config.subjects or [">"])[0]
        self.sub = await self.js.pull_subscribe(
            subject,
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait, max_ack_pending=-1
            ),
        )

    # -- Source protocol ----------------------------------------------------------------------
    def restore(self, state: Any | None) -> None:
        self.done_upto = 0 if state is None else int(state["done_upto"])
        self.done = set() if state is None else set(state["done"])

    def state(self) -> Any:
        return {"done_upto": self.done_upto, "done": sorted(self.done)}

    def _processed(self, seq: int) -> bool:
        return seq <= self.done_upto or seq in self.done

    def commit(self, state: Any) -> None:
        if not self._held:
            return
        upto, above = int(state["done_upto"]), set(state["done"])
        done = [m for s, m in self._held if s <= upto or s in above]
        self._held = [(s, m) for s, m in self._held if not (s <= upto or s in above)]

        async def ack() -> None:
            for m in done:
                await m.ack()
            await self.nc.flush()

        self._run(ack())

    def lag(self) -> dict[str, int]:
        info = self._run(self.sub.consumer_info())
        return {"pending": int(info.num_pending), "ack_pending": int(info.num_ack_pending)}

    def poll(self, max_records: int) -> pa.RecordBatch | None:
        import nats.errors

        async def fetch() -> list[Any]:
            try:
                return list(await self.sub.fetch(max_records, timeout=self.fetch_timeout))
            except (TimeoutError, nats.errors.TimeoutError):
                return []

        msgs = self._run(fetch())
        if not msgs:
            info = self._run(self.sub.consumer_info())
            outstanding = int(info.num_ack_pending) - len(self._held)
            if int(info.num_pending) == 0 and outstanding <= 0:
                return None
            # Messages of a crashed run are still within ack_wait: they will come back.
            return decode_messages([], self.schema, self.format)[0]
        fresh: list[tuple[int, bytes]] = []
        for m in msgs:
            seq = int(m.metadata.sequence.stream)
            self._held.append((seq, m))
            if self._processed(seq):
                continue  # processed before a crash; acknowledged at the next commit
            fresh.append((seq, m.data))
            self.done.add(seq)
        while self.done_upto + 1 in self.done:
            self.done_upto += 1
            self.done.discard(self.done_upto)
        batch, bad = decode_messages([d for _, d in fresh], self.schema, self.format)
        for i, reason in bad:
            seq, payload = fresh[i]
            self._dead.append({"seq": seq, "reason": reason, "payload": payload})
        self.dead_letter_count += len(bad)
        return batch

    def dead_letters(self) -> pa.Table:
        """Malformed messages since the last call (stream sequence, reason, payload)."""
        rows, self._dead = self._dead, []
        return pa.table(
            {
                "seq": pa.array([r["seq"] for r in rows], pa.int64()),
                "reason": pa.array([r["reason"] for r in rows], pa.string()),
                "payload": pa.array([r["payload"] for r in rows], pa.binary()),
            }
        )

    def close(self) -> None:
        """Close the NATS connection (unacknowledged messages are redelivered later)."""
        if not self._loop.is_closed():
            self._run(self.nc.close())
            self._loop.close()
