"""``Pipeline``: source → steps → sink, with checkpoints that make the output exactly-once.

A checkpoint is one file (``<checkpoint_dir>/pipeline.ckpt``, versioned and CRC32C-checked by
the Rust envelope, replaced atomically) holding together:

* the source position (log offsets per partition, or the last Redis stream ID processed),
* every step's state (the deduplicator's checkpoint bytes, the keyed counts, ...),
* the sink's end offsets at that moment.

Order of a checkpoint: fsync the sink → write the checkpoint file (``minide._core.write_atomic``,
the one atomic write of minide: temp file, fsync, rename, fsync of the directory) → commit the sink if it has a commit step (ParquetSink renames its
temp files) → commit the source (consumer-group offsets / XACK). On start, the
pipeline restores all three from the file and truncates the sink back to the recorded offsets,
then resumes reading at the recorded position. Whatever a crash interrupted (before the rename, between rename and source commit,
mid-batch) is therefore redone from one consistent cut: each input record affects the output
and the state exactly once. tests/stream/test_exactly_once.py proves it by SIGKILLing a pipeline
process at random points and inside each step of a checkpoint.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgpack
import pyarrow as pa
import pyarrow.compute as pc

from minide import _core
from minide._convert import Duration, to_nanos
from minide.errors import CorruptFileError, InvalidArgumentError, UnsupportedError
from minide.stream.dedup import Deduplicator
from minide.stream.log import Log

__all__ = ["LogSink", "LogSource", "Pipeline", "Step", "count_by", "dedup", "map_batches"]

CHECKPOINT_FILE = "pipeline.ckpt"


class Source(Protocol):
    def restore(self, state: Any | None) -> None: ...
    def poll(self, max_records: int) -> pa.RecordBatch | None: ...
    def state(self) -> Any: ...
    def commit(self, state: Any) -> None: ...
    def lag(self) -> dict[str, int]: ...


class Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...
    def sync(self) -> None: ...
    def state(self) -> Any: ...
    def restore(self, state: Any | None) -> None: ...

    # Optional: ``commit(state)`` runs once the checkpoint recording ``state`` is durable
    # (ParquetSink publishes its temp files there).


class Step:
    """A stateful or stateless transformation of batches."""

    name = "step"

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        raise NotImplementedError

    def checkpoint(self) -> bytes:
        return b""

    def restore(self, state: bytes) -> None:
        return None

    def stats(self) -> dict[str, float]:
        return {}

    def fresh(self) -> Step:
        """A copy of this step with empty state (for replays)."""
        raise NotImplementedError


class _Dedup(Step):
    name = "dedup"

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self.dd = Deduplicator(**kwargs)
        self.late_rows = 0

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        out = self.dd.process(batch)
        # Late rows are counted in the metrics; callers wanting them use Deduplicator directly.
        self.late_rows += self.dd.late().num_rows
        return out

    def checkpoint(self) -> bytes:
        return self.dd.checkpoint()

    def restore(self, state: bytes) -> None:
        self.dd = Deduplicator.restore(state)

    def stats(self) -> dict[str, float]:
        return self.dd.stats()

    def fresh(self) -> Step:
        return _Dedup(**self._kwargs)


class _Map(Step):
    name = "map_batches"

    def __init__(self, fn: Callable[[pa.RecordBatch], pa.RecordBatch]) -> None:
        self.fn = fn

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return self.fn(batch)

    def fresh(self) -> Step:
        return _Map(self.fn)


class _CountBy(Step):
    """Running count of rows per key; passes batches through unchanged.

    Integer, string and binary keys are counted in Rust (rust/stream/src/count.rs) with no
    per-row Python; other key types fall back to ``pyarrow.compute.value_counts``.
    """

    name = "count_by"

    def __init__(self, key: str) -> None:
        self.key = key
        self._rust = _core.StreamKeyedCounts()
        self._other: dict[Any, int] = {}

    @property
    def counts(self) -> dict[Any, int]:
        """Every key's count, as a dict (built on each access)."""
        keys, counts = self._rust.to_arrays()
        out = dict(zip(keys.to_pylist(), counts.to_pylist(), strict=True))
        for k, n in self._other.items():
            out[k] = out.get(k, 0) + n
        return out

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows:
            col = batch.column(self.key)
            if _core.StreamKeyedCounts.supports(col.type):
                self._rust.add(col)
            else:
                vc = pc.value_counts(col)
                for v, n in zip(
                    vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
                ):
                    self._other[v] = self._other.get(v, 0) + n
        return batch

    def fresh(self) -> Step:
        return _CountBy(self.key)

    def checkpoint(self) -> bytes:
        return msgpack.packb(list(self.counts.items()), use_bin_type=True)

    def restore(self, state: bytes) -> None:
        self._rust = _core.StreamKeyedCounts()
        self._other = {}
        items = [
            ((tuple(k) if isinstance(k, list) else k), v)
            for k, v in msgpack.unpackb(state, raw=False)
        ]
        nulls = sum(v for k, v in items if k is None)
        rest = [(k, v) for k, v in items if k is not None]
        if nulls:
            self._rust.add_nulls(nulls)
        if not rest:
            return
        try:
            keys = pa.array([k for k, _ in rest])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            keys = None
        if keys is not None and _core.StreamKeyedCounts.supports(keys.type):
            self._rust.add(keys, pa.array([v for _, v in rest], pa.uint64()))
        else:
            self._other = dict(rest)


def dedup(key: str | Sequence[str] = "event_id", **kwargs: Any) -> Step:
    """A :class:`Deduplicator` step (same arguments)."""
    return _Dedup(key=key, **kwargs)


def map_batches(fn: Callable[[pa.RecordBatch], pa.RecordBatch]) -> Step:
    """A stateless step applying ``fn`` to every batch."""
    return _Map(fn)


def count_by(key: str) -> Step:
    """A keyed count step; ``step.counts`` is exact across crashes (it is checkpointed)."""
    return _CountBy(key)


class LogSource:
    """Reads a :class:`Log` as consumer ``group``; positions live in the pipeline checkpoint."""

    def __init__(self, log: Log, group: str) -> None:
        self.log = log
        self.group = group
        self.consumer = log.consumer(group)

    def restore(self, state: Any | None) -> None:
        if state is not None:
            for p, off in enumerate(state):
                self.consumer.seek(p, int(off))

    def poll(self, max_records: int) -> pa.RecordBatch | None:
        b = self.consumer.poll(max_records)
        if b.num_rows == 0:
            return None
        return b.drop_columns(["_partition", "_offset"])

    def state(self) -> Any:
        return self.consumer.positions

    def replica(self, group: str, from_offset: int) -> LogSource:
        """Another reader of the same log in ``group``, positioned at ``from_offset``."""
        src = LogSource(self.log, group)
        start = self.log.start_offsets()
        for p in range(self.log.partitions):
            src.consumer.seek(p, max(from_offset, start[p]))
        return src

    def commit(self, state: Any) -> None:
        self.log._inner.commit(self.group, list(state))

    def lag(self) -> dict[str, int]:
        ends = self.log.end_offsets()
        return {str(p): ends[p] - pos for p, pos in enumerate(self.consumer.positions)}


class LogSink:
    """Appends output batches to a :class:`Log` (keyed by ``key`` if given)."""

    def __init__(self, log: Log, key: str | Sequence[str] | None = None) -> None:
        self.log = log
        self.key = key

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.log.append(batch, key=self.key)

    def sync(self) -> None:
        self.log.sync()

    def state(self) -> Any:
        return self.log.end_offsets()

    def restore(self, state: Any | None) -> None:
        if state is not None:
            # Roll back output written after the checkpoint: it will be produced again.
            self.log._inner.truncate([int(o) for o in state])


class Pipeline:
    """``source → steps → sink`` with periodic checkpoints (see the module docs)."""

    def __init__(
        self,
        source: Source,
        steps: Sequence[Step],
        sink: Sink,
        *,
        checkpoint_dir: str | os.PathLike[str],
        checkpoint_interval: Duration = "1s",
        batch_size: int = 10_000,
        poll_records: int | None = None,
    ) -> None:
        """``batch_size``: rows polled from the source per step (the last one of a run may be
        smaller). ``checkpoint_interval``: a duration (timedelta, ``"1s"``, int nanoseconds)."""
        if poll_records is not None:
            warnings.warn(
                "Pipeline(poll_records=) is deprecated: use batch_size=",
                DeprecationWarning,
                stacklevel=2,
            )
            batch_size = poll_records
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be an int >= 1 (rows), got {batch_size!r}")
        self.source = source
        self.steps = list(steps)
        self.sink = sink
        self.checkpoint_dir = Path(checkpoint_dir)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.interval_s = to_nanos(checkpoint_interval, "checkpoint_interval") / 1e9
        self.batch_size = batch_size
        self._metrics: dict[str, Any] = {
            "records_in": 0,
            "records_out": 0,
            "checkpoints": 0,
            "checkpoint_ms": [],
            "started": time.perf_counter(),
        }
        self._restore()
        self._last_checkpoint = time.perf_counter()

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir / CHECKPOINT_FILE

    def _restore(self) -> None:
        payload = _core.stream_checkpoint_read(str(self.checkpoint_path))
        if payload is None:
            self.source.restore(None)
            self.sink.restore(None)
            # A first checkpoint right away: output written before it is never rolled back.
            self.checkpoint()
            return
        doc = msgpack.unpackb(payload, raw=False)
        if doc.get("v") != 1 or len(doc["steps"]) != len(self.steps):
            raise CorruptFileError(
                f"{self.checkpoint_path}: checkpoint of another pipeline "
                f"({len(doc['steps'])} steps, this one has {len(self.steps)})"
            )
        self.source.restore(doc["source"])
        for step, state in zip(self.steps, doc["steps"], strict=True):
            if state:
                step.restore(state)
        self.sink.restore(doc["sink"])
        self._metrics["records_in"] = doc["records_in"]
        self._metrics["records_out"] = doc["records_out"]

    def checkpoint(self) -> None:
        """Make the current state durable: sink fsync → checkpoint file → sink and source
        commit."""
        t0 = time.perf_counter()
        self.sink.sync()
        source_state = self.source.state()
        sink_state = self.sink.state()
        doc = {
            "v": 1,
            "source": source_state,
            "sink": sink_state,
            "steps": [s.checkpoint() for s in self.steps],
            "records_in": self._metrics["records_in"],
            "records_out": self._metrics["records_out"],
        }
        sealed = _core.stream_checkpoint_seal(msgpack.packb(doc, use_bin_type=True))
        _core.write_atomic(self.checkpoint_path, sealed)
        sink_commit = getattr(self.sink, "commit", None)
        if sink_commit is not None:
            sink_commit(sink_state)
        self.source.commit(source_state)
        self._last_checkpoint = time.perf_counter()
        self._metrics["checkpoints"] += 1
        self._metrics["checkpoint_ms"].append((self._last_checkpoint - t0) * 1e3)

    def run(self, max_records: int | None = None, until_idle: bool = False) -> int:
        """Process until ``max_records`` were read, or (``until_idle``) the source is empty.

        Returns the number of records read. With neither limit it runs until interrupted.
        Checkpoints every ``checkpoint_interval`` and when it stops because the source is idle.
        """
        if max_records is None and not until_idle:
            raise InvalidArgumentError("run() needs max_records or until_idle=True to stop")
        done = 0
        while max_records is None or done < max_records:
            want = (
                self.batch_size if max_records is None else min(self.batch_size, max_records - done)
            )
            batch = self.source.poll(want)
            if batch is None:
                if until_idle:
                    self.checkpoint()
                    break
                continue
            done += batch.num_rows
            self._metrics["records_in"] += batch.num_rows
            for step in self.steps:
                batch = step.process(batch)
            self.sink.write(batch)
            self._metrics["records_out"] += batch.num_rows
            if time.perf_counter() - self._last_checkpoint >= self.interval_s:
                self.checkpoint()
        return done

    def replay(
        self,
        sink: Sink,
        *,
        from_offset: int = 0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> Pipeline:
        """Kappa-style reprocessing: run fresh copies of the steps over the source from
        ``from_offset`` (every partition) into ``sink`` (a new output version), until idle.

        The live pipeline is untouched: the replay reads as its own consumer group and keeps
        its own checkpoints (``<checkpoint_dir>/replay`` by default), so it is itself
        restartable. Only log sources can be replayed (Redis streams are trimmed by design).
        """
        replica = getattr(self.source, "replica", None)
        if replica is None:
            raise UnsupportedError(
                f"replay needs a replayable source (LogSource), not {type(self.source).__name__}"
            )
        ck = Path(checkpoint_dir) if checkpoint_dir is not None else self.checkpoint_dir / "replay"
        fresh_ck = not (ck / CHECKPOINT_FILE).exists()
        group = f"{getattr(self.source, 'group', 'pipeline')}.replay"
        src = replica(group, from_offset) if fresh_ck else replica(group, 0)
        p = Pipeline(
            src,
            [s.fresh() for s in self.steps],
            sink,
            checkpoint_dir=ck,
            checkpoint_interval=f"{int(self.interval_s * 1e9)}ns",
            batch_size=self.batch_size,
        )
        p.run(until_idle=True)
        return p

    def metrics(self) -> dict[str, Any]:
        """Records in/out, throughput in this process, lag per partition, checkpoint times."""
        m = dict(self._metrics)
        elapsed = time.perf_counter() - m.pop("started")
        ck = m.pop("checkpoint_ms")
        m["records_per_s"] = m["records_in"] / elapsed if elapsed > 0 else 0.0
        m["lag"] = self.source.lag()
        m["dead_letters"] = getattr(self.source, "dead_letter_count", 0)
        m["checkpoint_ms_last"] = ck[-1] if ck else None
        m["checkpoint_ms_max"] = max(ck) if ck else None
        for i, s in enumerate(self.steps):
            for k, v in s.stats().items():
                m[f"step{i}_{s.name}_{k}"] = v
        return m
