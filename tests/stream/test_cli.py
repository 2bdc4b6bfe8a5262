"""`minide stream dedup` and `minide stream lag`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import minide.columnar as mc
import minide.stream as ms
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # The console script (``python -m minide.cli`` would run a second copy of minide.cli).
        [
            sys.executable,
            "-c",
            "import sys; from minide.cli import main; sys.exit(main())",
            "stream",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def parquet_ids(out) -> list[int]:
    """event_id of the committed Parquet files in ``out`` (minide's reader, pyarrow as oracle)."""
    ids = []
    for f in sorted(out.glob("part-*.parquet")):
        t = mc.read_parquet(f)
        assert t.equals(pq.read_table(f))
        ids += t.column("event_id").to_pylist()
    assert not list(out.glob(".part-*.tmp"))
    return ids


@pytest.mark.parametrize("sink_format", ["parquet", "log"])
def test_dedup_from_a_log_and_lag(tmp_path, sink_format):
    src = ms.Log(tmp_path / "in", partitions=2, sync="none")
    src.append(
        pa.table({"event_id": [1, 2, 1, 3, 2], "event_time": [1, 2, 3, 4, 5]}), key="event_id"
    )
    src.sync()
    r = run("lag", str(tmp_path / "in"), "--group", "g")
    assert r.returncode == 0, r.stderr
    assert "total: 5" in r.stdout
    r = run(
        "dedup",
        "--source",
        f"log:{tmp_path / 'in'}",
        "--group",
        "g",
        "--sink",
        str(tmp_path / "out"),
        "--sink-format",
        sink_format,
        "--until-idle",
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert metrics["records_in"] == 5 and metrics["records_out"] == 3
    if sink_format == "log":
        ids = ms.Log(tmp_path / "out", partitions=1).read(0, 0).column("event_id").to_pylist()
    else:
        ids = parquet_ids(tmp_path / "out")
    assert sorted(ids) == [1, 2, 3]
    assert "total: 0" in run("lag", str(tmp_path / "in"), "--group", "g").stdout


def test_dedup_from_redis_with_a_dead_letter(tmp_path):
    import redis

    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        r.ping()
    except Exception as e:
        raise AssertionError(f"this test needs Redis on 127.0.0.1:6379 ({e})") from e
    stream = f"minide-cli-{uuid.uuid4().hex[:10]}"
    try:
        for i in [1, 2, 2, 3]:
            r.xadd(stream, {"data": json.dumps({"event_id": i, "event_time": 10 + i})})
        r.xadd(stream, {"data": "{oops"})
        res = run(
            "dedup", "--source", "redis://127.0.0.1:6379/0", "--stream", stream, "--group", "g",
            "--sink", str(tmp_path / "out"), "--schema", "event_id:int64,event_time:int64", "--until-idle",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        m = json.loads(res.stdout.strip().splitlines()[-1])
        assert (m["records_in"], m["records_out"], m["dead_letters"]) == (4, 3, 1)
        assert r.xpending(stream, "g")["pending"] == 0
        assert sorted(parquet_ids(tmp_path / "out")) == [1, 2, 3]
        r.xadd(stream, {"data": json.dumps({"event_id": 9, "event_time": 20})})
        lag = run("lag", "--source", "redis://127.0.0.1:6379/0", "--stream", stream, "--group", "g")
        assert lag.returncode == 0, lag.stderr
        assert "pending: 0" in lag.stdout and "lag: 1" in lag.stdout
        missing = run(
            "lag", "--source", "redis://127.0.0.1:6379/0", "--stream", stream, "--group", "x"
        )
        assert missing.returncode == 1 and "no consumer group 'x'" in missing.stderr
    finally:
        r.delete(stream)


def test_bad_arguments_fail_cleanly(tmp_path):
    r = run("dedup", "--source", "kafka://x", "--group", "g", "--sink", str(tmp_path))
    assert r.returncode == 1 and "redis://" in r.stderr


def test_dedup_from_nats_jetstream_with_a_dead_letter(tmp_path):
    import asyncio

    import nats

    stream = f"minide_cli_{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        try:
            nc = await nats.connect(
                "nats://127.0.0.1:4222", connect_timeout=2, max_reconnect_attempts=1
            )
        except Exception as e:
            raise AssertionError(f"this test needs NATS JetStream on 127.0.0.1:4222 ({e})") from e
        await nc.jetstream().add_stream(name=stream, subjects=[f"{stream}.e"])
        for i in [1, 2, 2, 3]:
            await nc.publish(f"{stream}.e", json.dumps({"event_id": i, "event_time": i}).encode())
        await nc.publish(f"{stream}.e", b"[1")
        await nc.flush()
        await nc.close()

    async def teardown() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(setup())
    try:
        res = run(
            "dedup", "--source", "nats://127.0.0.1:4222", "--stream", stream, "--group", "d1",
            "--sink", str(tmp_path / "out"), "--schema", "event_id:int64,event_time:int64", "--until-idle",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        m = json.loads(res.stdout.strip().splitlines()[-1])
        assert (m["records_in"], m["records_out"], m["dead_letters"]) == (4, 3, 1)
        assert m["lag"] == {"pending": 0, "ack_pending": 0}
    finally:
        asyncio.run(teardown())
