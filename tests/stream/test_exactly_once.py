"""Exactly-once: a dedup + keyed-count pipeline killed with SIGKILL five times.

50,000 numbered events, 10% of them re-sent duplicates, go through a replayable source into
``dedup → count_by(user) → LogSink``, checkpointing every 200 ms. The pipeline process is killed
with SIGKILL at five random points between 40% and 70% of progress and restarted from its latest
checkpoint each time. At the end the sink must hold every event id exactly once and the keyed
counts must be exact. Also: kills inside a checkpoint, at each of its steps and at random steps
of random checkpoints.

Fault injection lives here, not in the library: the child process (``CHILD``) optionally takes a
``phase:n`` argument and wraps the pipeline's calls into ``minide._core`` (and its source's commit)
to SIGKILL itself at that step of its n-th checkpoint:

* ``before_write``: the checkpoint is sealed but nothing is written;
* ``after_state_write``: ``pipeline.ckpt.tmp`` is written and fsynced, not renamed (the on-disk
  state of a crash inside ``write_atomic`` between its fsync and its rename);
* ``after_rename``: the new checkpoint is durable; sink and source are not committed;
* ``before_source_commit``: the sink is committed (Parquet temp files renamed), the source's
  offsets are not.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from pathlib import Path

import minide.stream as ms
import numpy as np
import pyarrow as pa
import pytest

N_EVENTS = 50_000
USERS = 37


def make_events(seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    n_dup = N_EVENTS // 10
    n_orig = N_EVENTS - n_dup
    ids = np.arange(n_orig, dtype=np.int64)
    users = (ids * 7919) % USERS
    times = 1_700_000_000_000 + ids * 10
    dup_of = np.sort(rng.integers(0, n_orig, n_dup))
    # A duplicate arrives a little after its original (within 2,000 events).
    pos = np.concatenate([np.arange(n_orig) * 1.0, dup_of + rng.uniform(0.5, 2000, n_dup)])
    order = np.argsort(pos, kind="stable")
    all_ids = np.concatenate([ids, ids[dup_of]])[order]
    return pa.table(
        {
            "event_id": all_ids,
            "user": [f"user-{u}" for u in np.concatenate([users, users[dup_of]])[order]],
            "event_time": np.concatenate([times, times[dup_of]])[order],
        }
    )


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import minide.stream as ms
    kind, src, out, ck = sys.argv[1:5]
    crash = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    interval = sys.argv[6] if len(sys.argv) > 6 else "200ms"
    if out.startswith("redis://"):
        url_out, stream_out = out.split("|")
        sink = ms.RedisSink(url_out, stream_out)
    elif out.startswith("parquet:"):
        sink = ms.ParquetSink(out[8:], file_rows=2_000)
    else:
        sink = ms.LogSink(ms.Log(out, partitions=1, sync="none"))
    if kind == "log":
        source = ms.LogSource(ms.Log(src, partitions=2, sync="none"), "pipe")
    else:
        import pyarrow as pa
        url, stream = src.split("|")
        schema = pa.schema([("event_id", pa.int64()), ("user", pa.string()), ("event_time", pa.int64())])
        if kind == "redis":
            source = ms.RedisStreamSource(url, stream, "pipe", "worker-1", schema=schema, format="msgpack")
        else:
            source = ms.NatsSource(url, stream, "pipe", schema=schema, format="msgpack", ack_wait=1.0)
    if crash:
        import os, signal
        import minide.stream.pipeline as pl
        phase, n = crash.split(":")
        n = int(n)
        real = pl._core
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        class Faulty:
            seals = 0
            def __getattr__(self, name):
                return getattr(real, name)
            def stream_checkpoint_seal(self, payload):
                Faulty.seals += 1
                if phase == "before_write" and Faulty.seals == n:
                    die()
                return real.stream_checkpoint_seal(payload)
            def write_atomic(self, path, data):
                if phase == "after_state_write" and Faulty.seals == n:
                    with open(str(path) + ".tmp", "wb") as f:
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                    die()
                real.write_atomic(path, data)
                if phase == "after_rename" and Faulty.seals == n:
                    die()
        pl._core = Faulty()
        if phase == "before_source_commit":
            commit = source.commit
            def source_commit(state):
                if Faulty.seals == n:
                    die()
                commit(state)
            source.commit = source_commit
    def slow(b):
        time.sleep(0.004)
        return b
    counts = ms.count_by("user")
    p = ms.Pipeline(
        source,
        [ms.dedup("event_id", time_column="event_time", window="1h", allowed_lateness="5m"),
         counts, ms.map_batches(slow)],
        sink,
        checkpoint_dir=ck, checkpoint_interval=interval, batch_size=250,
    )
    print("progress", p.metrics()["records_in"], flush=True)
    while p.run(max_records=250, until_idle=True):
        print("progress", p.metrics()["records_in"], flush=True)
    print("done", json.dumps(counts.counts), flush=True)
    """
)


def run_with_kills(
    kind: str, src: str, tmp: Path, seed: int, out: str | None = None, total: int = N_EVENTS
) -> dict:
    ck = tmp / "ck"
    out = out or str(tmp / "out")
    rng = random.Random(seed)
    targets = sorted(rng.uniform(0.4, 0.7) * total for _ in range(5))
    kills = 0
    while True:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, src, out, str(ck)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        final = None
        for line in proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "progress" and kills < len(targets) and int(rest) >= targets[kills]:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                break
            if word == "done":
                final = json.loads(rest)
        proc.wait()
        if final is not None:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
            assert kills == 5
            return final
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(
                f"pipeline exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )


def sink_ids(tmp: Path) -> list[int]:
    """Event ids in the sink: a minide log at tmp/out, or committed Parquet files at tmp/pq."""
    if (tmp / "pq").exists():
        import minide.columnar as mc
        import pyarrow.parquet as pq

        assert not list((tmp / "pq").glob(".*.tmp")), "uncommitted temp files left behind"
        files = sorted((tmp / "pq").glob("part-*.parquet"))
        assert files
        got = []
        for f in files:
            ours = mc.read_parquet(f)
            oracle = pq.read_table(f)
            assert ours.equals(oracle), f.name
            got += ours.column("event_id").to_pylist()
        return got
    log = ms.Log(tmp / "out", partitions=1)
    got = []
    off = 0
    while (b := log.read(0, off, 10_000)).num_rows:
        got += b.column("event_id").to_pylist()
        off += b.num_rows
    return got


def check_output(tmp: Path, events: pa.Table, counts: dict) -> None:
    got = sink_ids(tmp)
    ids = events.column("event_id").to_pylist()
    assert len(got) == len(set(ids)), f"{len(got)} output rows for {len(set(ids))} distinct events"
    assert sorted(got) == sorted(set(ids))
    first_user = {}
    for i, u in zip(ids, events.column("user").to_pylist(), strict=True):
        first_user.setdefault(i, u)
    assert counts == dict(Counter(first_user.values()))


@pytest.mark.parametrize("sink", ["log", "parquet"])
def test_exactly_once_with_the_log_source_and_five_kills(tmp_path, sink):
    events = make_events()
    src = ms.Log(tmp_path / "in", partitions=2, sync="none")
    for b in events.to_batches(max_chunksize=5_000):
        src.append(b, key="user")
    src.sync()
    out = f"parquet:{tmp_path / 'pq'}" if sink == "parquet" else None
    counts = run_with_kills("log", str(tmp_path / "in"), tmp_path, seed=11, out=out)
    check_output(tmp_path, events, counts)
    # The group offsets were committed after the last checkpoint.
    assert ms.Log(tmp_path / "in", partitions=2).consumer("pipe").lag() == {0: 0, 1: 0}


def redis_client():
    redis = pytest.importorskip("redis")
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        r.ping()
    except Exception as e:  # pragma: no cover - the message names the service
        raise AssertionError(f"these tests need Redis on 127.0.0.1:6379 ({e})") from e
    return r


@pytest.mark.parametrize("sink", ["log", "parquet"])
def test_exactly_once_with_redis_streams_and_five_kills(tmp_path, sink):
    import msgpack

    r = redis_client()
    stream = f"minide-test-{uuid.uuid4().hex[:12]}"
    events = make_events(seed=2)
    try:
        pipe = r.pipeline(transaction=False)
        for row in events.to_pylist():
            pipe.xadd(stream, {"data": msgpack.packb(row)})
        pipe.execute()
        out = f"parquet:{tmp_path / 'pq'}" if sink == "parquet" else None
        counts = run_with_kills(
            "redis", f"redis://127.0.0.1:6379/0|{stream}", tmp_path, seed=5, out=out
        )
        check_output(tmp_path, events, counts)
        # Everything processed was acknowledged after the final checkpoint.
        assert r.xpending(stream, "pipe")["pending"] == 0
    finally:
        r.delete(stream)


PHASES = ["before_write", "after_state_write", "after_rename", "before_source_commit"]


@pytest.mark.parametrize("sink", ["log", "parquet"])
@pytest.mark.parametrize("phase", PHASES)
def test_kill_in_each_checkpoint_phase_restores_old_or_new_checkpoint(tmp_path, phase, sink):
    """SIGKILL inside the 3rd checkpoint at each phase, restart, finish: still exactly once.

    With the Parquet sink, ``after_rename`` leaves temp files the new checkpoint covers (rolled
    forward on restore) and ``before_write``/``after_state_write`` leave ones it does not
    (deleted on restore)."""
    out = f"parquet:{tmp_path / 'pq'}" if sink == "parquet" else str(tmp_path / "out")
    events = make_events(seed=3)
    src = ms.Log(tmp_path / "in", partitions=2, sync="none")
    for b in events.to_batches(max_chunksize=5_000):
        src.append(b, key="user")
    src.sync()
    args = [
        sys.executable,
        "-c",
        CHILD,
        "log",
        str(tmp_path / "in"),
        out,
        str(tmp_path / "ck"),
    ]
    crashed = subprocess.run([*args, f"{phase}:3"], capture_output=True, text=True, timeout=300)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    ck = tmp_path / "ck" / "pipeline.ckpt"
    if phase == "after_state_write":
        assert (tmp_path / "ck" / "pipeline.ckpt.tmp").exists()  # the torn-in-time new state
    if sink == "parquet" and phase != "before_source_commit":
        assert list((tmp_path / "pq").glob(".part-*.parquet.tmp"))  # uncommitted output
    assert ck.exists()
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1].partition(" ")[2])
    check_output(tmp_path, events, counts)


RANDOM_KILLS = 10


@pytest.mark.parametrize("sink", ["log", "parquet"])
def test_kills_at_random_steps_of_random_checkpoints(tmp_path, sink):
    """RANDOM_KILLS children in a row on the same directories, each SIGKILLed at a random step
    (PHASES) of a random checkpoint (its 1st to 4th), then one that runs to the end: every event
    is in the output exactly once and the counts are exact."""
    out = f"parquet:{tmp_path / 'pq'}" if sink == "parquet" else str(tmp_path / "out")
    events = make_events(seed=12)
    src = ms.Log(tmp_path / "in", partitions=2, sync="none")
    for b in events.to_batches(max_chunksize=5_000):
        src.append(b, key="user")
    src.sync()
    args = [sys.executable, "-c", CHILD, "log", str(tmp_path / "in"), out, str(tmp_path / "ck")]
    rng = random.Random(f"random-steps-{sink}")
    kills = []
    # Checkpoints are time-driven: a short interval gives every child enough checkpoints to die
    # at, whatever the machine's speed (at 200 ms a fast machine finishes the whole input in a
    # few checkpoints, and later children end before their kill point).
    for _ in range(RANDOM_KILLS):
        spec = f"{rng.choice(PHASES)}:{rng.randint(1, 4)}"
        run = subprocess.run([*args, spec, "25ms"], capture_output=True, text=True, timeout=300)
        if run.returncode == 0:
            break  # the pipeline finished before reaching that checkpoint
        assert run.returncode == -signal.SIGKILL, run.stderr
        kills.append(spec)
    assert len(kills) >= RANDOM_KILLS // 2, f"only {len(kills)} kills landed: {kills}"
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1].partition(" ")[2])
    check_output(tmp_path, events, counts)


def test_pipeline_reads_no_environment_variables():
    """Fault injection lives in these tests; the library has no hidden switches."""
    import inspect

    import minide.stream.parquet_sink as sink_mod
    import minide.stream.pipeline as pipeline_mod

    for mod in (pipeline_mod, sink_mod):
        text = inspect.getsource(mod)
        assert "os.environ" not in text and "getenv" not in text, mod.__name__


def test_replay_rebuilds_the_same_output_into_a_new_sink(tmp_path):
    events = make_events(seed=4).slice(0, 8_000)
    src = ms.Log(tmp_path / "in", partitions=2, sync="none")
    src.append(events, key="user")
    counts = ms.count_by("user")
    p = ms.Pipeline(
        ms.LogSource(src, "live"),
        [ms.dedup("event_id", time_column="event_time"), counts],
        ms.LogSink(ms.Log(tmp_path / "v1", partitions=1, sync="none")),
        checkpoint_dir=tmp_path / "ck",
        batch_size=1_000,
    )
    p.run(until_idle=True)
    v2 = ms.Log(tmp_path / "v2", partitions=1, sync="none")
    r = p.replay(ms.LogSink(v2), from_offset=0)
    v1 = ms.Log(tmp_path / "v1", partitions=1)
    a = sorted(v1.read(0, 0, 100_000).column("event_id").to_pylist())
    b = sorted(v2.read(0, 0, 100_000).column("event_id").to_pylist())
    assert a == b and len(a) == len(set(events.column("event_id").to_pylist()))
    assert r.steps[1].counts == counts.counts
    # The live group's offsets are untouched by the replay.
    assert src.consumer("live").lag() == {0: 0, 1: 0}


def test_exactly_once_with_nats_jetstream_and_five_kills(tmp_path):
    import asyncio

    import msgpack

    nats = pytest.importorskip("nats")
    stream = f"minide_test_{uuid.uuid4().hex[:10]}"
    events = make_events(seed=6)

    async def setup() -> None:
        try:
            nc = await nats.connect(
                "nats://127.0.0.1:4222", connect_timeout=2, max_reconnect_attempts=1
            )
        except Exception as e:
            raise AssertionError(f"this test needs NATS JetStream on 127.0.0.1:4222 ({e})") from e
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.events"])
        for row in events.to_pylist():
            await nc.publish(f"{stream}.events", msgpack.packb(row))
        await nc.flush()
        for _ in range(100):
            if (await js.stream_info(stream)).state.messages == N_EVENTS:
                break
            await asyncio.sleep(0.1)
        await nc.close()

    async def teardown() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(setup())
    try:
        counts = run_with_kills("nats", f"nats://127.0.0.1:4222|{stream}", tmp_path, seed=8)
        check_output(tmp_path, events, counts)
    finally:
        asyncio.run(teardown())


def test_exactly_once_redis_to_redis_sink(tmp_path):
    """Redis Streams in and out: the output stream is rolled back (XDEL) to each checkpoint."""
    import msgpack

    r = redis_client()
    tag = uuid.uuid4().hex[:12]
    stream_in, stream_out = f"minide-in-{tag}", f"minide-out-{tag}"
    events = make_events(seed=9).slice(0, 20_000)
    try:
        pipe = r.pipeline(transaction=False)
        for row in events.to_pylist():
            pipe.xadd(stream_in, {"data": msgpack.packb(row)})
        pipe.execute()
        counts = run_with_kills(
            "redis", f"redis://127.0.0.1:6379/0|{stream_in}", tmp_path, seed=7,
            out=f"redis://127.0.0.1:6379/0|{stream_out}", total=events.num_rows,
        )  # fmt: skip
        got = [msgpack.unpackb(f[b"data"])["event_id"] for _, f in r.xrange(stream_out)]
        ids = events.column("event_id").to_pylist()
        assert len(got) == len(set(got)) == len(set(ids))
        first_user: dict = {}
        for i, u in zip(ids, events.column("user").to_pylist(), strict=True):
            first_user.setdefault(i, u)
        assert counts == dict(Counter(first_user.values()))
    finally:
        r.delete(stream_in, stream_out)
