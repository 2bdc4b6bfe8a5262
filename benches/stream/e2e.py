"""End to end: Redis Streams → dedup → Parquet files, checkpointed (a case of benches/stream).

The messages (msgpack objects: event_id, user, event_time; 20% duplicates) are XADDed once, with
a pipelined client, by the first (untimed warm-up) call. Every timed run reads the whole stream as a new consumer
group (created at ID 0), so each run consumes, decodes, deduplicates, writes and checkpoints all
``n`` messages, and acknowledges them (XACK):

* minide: ``Pipeline(RedisStreamSource(format="msgpack"), [dedup], ParquetSink)``, checkpoint
  every second and once at the end (the last Parquet file is committed by that checkpoint).
* baseline: the same job written by hand with redis-py (hiredis parser if installed), msgpack,
  a Python set for dedup and ``pyarrow.parquet.write_table``, XACK per read; no checkpoints.

Needs Redis on 127.0.0.1:6379 (the case is skipped with a note when it is not reachable).

One thread on both sides (the baseline is one Python loop): minide's global rayon pool and the
sink's ``threads=`` are 1, and so are pyarrow's pools for the baseline's ``write_table``.
Caches: none; every run reads the whole stream from Redis (in its memory for both) as a new
consumer group and writes new files.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pyarrow as pa

URL = "redis://127.0.0.1:6379/0"
SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        ("user", pa.string()),
        ("event_time", pa.int64()),
    ]
)
_groups = itertools.count()


def redis_or_none() -> Any:
    try:
        import redis

        r = redis.Redis.from_url(URL)
        r.ping()
        return r
    except Exception:
        return None


def produce(r: Any, stream: str, n: int, seed: int = 3) -> np.ndarray:
    """XADD n messages, 20% of them re-sends of an earlier message (up to 2,000 messages
    later, so within the allowed lateness: every case keeps the first copy of each id);
    returns the event ids in stream order."""
    rng = np.random.default_rng(seed)
    n_dup = n // 5
    ids = np.arange(n - n_dup, dtype=np.int64)
    dup_of = rng.integers(0, n - n_dup, n_dup)
    pos = np.concatenate([ids * 1.0, dup_of + rng.uniform(0.5, 2_000, n_dup)])
    all_ids = np.concatenate([ids, dup_of])[np.argsort(pos, kind="stable")]
    t0 = 1_700_000_000_000
    pipe = r.pipeline(transaction=False)
    for k, eid in enumerate(all_ids.tolist()):
        doc = {"event_id": eid, "user": f"user-{eid % 1000}", "event_time": t0 + eid}
        pipe.xadd(stream, {"data": msgpack.packb(doc)})
        if k % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    return all_ids


def run_minide(stream: str, n: int, work: Path, threads: int) -> Path:
    import minide.stream as ms

    group = f"g{next(_groups)}"
    out = work / f"minide-{group}"
    src = ms.RedisStreamSource(URL, stream, group, "bench", schema=SCHEMA, format="msgpack")
    p = ms.Pipeline(
        src,
        [ms.dedup("event_id", time_column="event_time", window="1h", allowed_lateness="5m")],
        ms.ParquetSink(out, threads=threads),
        checkpoint_dir=out / "_ck",
        checkpoint_interval="1s",
        batch_size=50_000,
    )
    p.run(max_records=n)
    p.checkpoint()
    return out


def run_baseline(stream: str, n: int, work: Path) -> Path:
    import pyarrow.parquet as pq
    import redis

    r = redis.Redis.from_url(URL)
    group = f"b{next(_groups)}"
    r.xgroup_create(stream, group, id="0")
    out = work / f"baseline-{group}"
    out.mkdir()
    seen: set[int] = set()
    done, part = 0, 0
    while done < n:
        resp = r.xreadgroup(group, "bench", {stream: ">"}, count=50_000)
        entries = resp[0][1]
        docs = [msgpack.unpackb(f[b"data"]) for _, f in entries]
        keep = []
        for d in docs:
            if d["event_id"] not in seen:
                seen.add(d["event_id"])
                keep.append(d)
        table = pa.Table.from_pylist(keep, schema=SCHEMA)
        pq.write_table(table, out / f"part-{part:08d}.parquet", compression="zstd")
        part += 1
        r.xack(stream, group, *[e[0] for e in entries])
        done += len(entries)
    return out


def read_ids(out: Path) -> np.ndarray:
    import minide.columnar as mc

    files = sorted(out.glob("part-*.parquet"))
    return np.concatenate([mc.read_parquet(f).column("event_id").to_numpy() for f in files])


def cases(size: str, Case: Any) -> list[Any]:
    from minide.bench.pools import Arg, Caller, PyArrow, RayonGlobal

    sink = Arg("ParquetSink threads=")
    r = redis_or_none()
    if r is None:
        print("benches/stream/e2e.py: no Redis on 127.0.0.1:6379; end-to-end case skipped")
        return []
    n = {"tiny": 20_000, "small": 200_000, "large": 1_000_000}[size]
    stream = f"minide-bench-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="minide-e2e-"))
    produced: list[int] = []  # distinct ids; the stream is filled by the first (warm-up) call

    def ready() -> None:
        if not produced:
            produced.append(len(np.unique(produce(r, stream, n))))

    def minide() -> Path:
        ready()
        return run_minide(stream, n, work, sink.n)

    def baseline() -> Path:
        ready()
        return run_baseline(stream, n, work)

    def verify(got: Path, want: Path) -> None:
        a, b = read_ids(got), read_ids(want)
        if len(a) != produced[0] or not np.array_equal(np.sort(a), np.sort(b)):
            raise AssertionError("minide's Parquet output differs from the baseline's")

    def cleanup(_m: Any, _b: Any) -> dict[str, float]:
        r.delete(stream)
        shutil.rmtree(work, ignore_errors=True)
        return {"messages": float(n), "distinct": float(produced[0])}

    return [
        Case(
            name=f"redis→dedup→parquet x{n:,} msgs",
            threads=1,
            items=n,
            repeat=3,
            minide=minide,
            baseline=baseline,
            baseline_name="redis-py+msgpack+set+pyarrow.parquet",
            verify=verify,
            extra=cleanup,
            minide_pools=[RayonGlobal(), sink],
            baseline_pools=[Caller("redis-py, msgpack and a set in one Python loop"), PyArrow()],
        )
    ]
