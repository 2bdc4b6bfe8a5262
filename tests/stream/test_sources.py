"""Message decoding with dead letters, and the Redis Streams source against a real Redis."""

from __future__ import annotations

import json
import uuid

import minide.stream as ms
import msgpack
import pyarrow as pa
import pytest
from minide.stream.formats import decode_messages

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        ("user", pa.string()),
        ("amount", pa.float64()),
        ("at", pa.timestamp("ms")),
    ]
)


def test_decode_json_and_msgpack_with_dead_letters():
    good = {"event_id": 1, "user": "a", "amount": 2, "at": "2024-01-01T00:00:00"}
    payloads = [
        json.dumps(good).encode(),
        b"{not json",
        json.dumps({"user": "x"}).encode(),
        json.dumps({"event_id": "7"}).encode(),
        json.dumps([1, 2]).encode(),
        json.dumps({"event_id": 2, "amount": None, "extra": 1}).encode(),
    ]
    batch, bad = decode_messages(payloads, SCHEMA, "json")
    assert batch.column("event_id").to_pylist() == [1, 2]
    assert batch.column("amount").to_pylist() == [2.0, None]
    assert [i for i, _ in bad] == [1, 2, 3, 4]
    reasons = dict(bad)
    assert "not valid json" in reasons[1]
    assert "missing required field 'event_id'" in reasons[2]
    assert "'event_id'" in reasons[3] and "str" in reasons[3]
    assert "object" in reasons[4]
    mp = [msgpack.packb({"event_id": 3, "at": 1_700_000_000_000}), b"\xc1"]
    batch, bad = decode_messages(mp, SCHEMA, "msgpack")
    assert batch.column("at").cast(pa.int64()).to_pylist() == [1_700_000_000_000]
    assert [i for i, _ in bad] == [1]


def redis_client():
    import redis

    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        r.ping()
    except Exception as e:
        raise AssertionError(f"these tests need Redis on 127.0.0.1:6379 ({e})") from e
    return r


@pytest.fixture
def stream():
    r = redis_client()
    name = f"minide-test-{uuid.uuid4().hex[:12]}"
    yield r, name
    r.delete(name)


def test_redis_source_reads_acks_on_commit_and_dead_letters(stream):
    r, name = stream
    for i in range(10):
        r.xadd(name, {"data": json.dumps({"event_id": i, "user": f"u{i % 3}"})})
    r.xadd(name, {"data": b"garbage"})
    src = ms.RedisStreamSource("redis://127.0.0.1:6379/0", name, "g", "c1", schema=SCHEMA)
    src.restore(None)
    b = src.poll(100)
    assert b is not None and b.column("event_id").to_pylist() == list(range(10))
    dl = src.dead_letters()
    assert dl.num_rows == 1 and "not valid json" in dl.column("reason")[0].as_py()
    assert r.xpending(name, "g")["pending"] == 11  # not acknowledged before the checkpoint
    src.commit(src.state())
    assert r.xpending(name, "g")["pending"] == 0
    assert src.poll(100) is None or src.poll(100).num_rows == 0


def test_redis_source_recovers_pending_entries(stream):
    r, name = stream
    for i in range(6):
        r.xadd(name, {"data": msgpack.packb({"event_id": i})})
    url = "redis://127.0.0.1:6379/0"
    a = ms.RedisStreamSource(url, name, "g", "dead-worker", schema=SCHEMA, format="msgpack")
    a.restore(None)
    assert a.poll(4).num_rows == 4  # delivered to a, never acknowledged: a "crashed"
    # The same consumer restarting from a checkpoint that covered the first 2 entries.
    first_two = [e[0].decode() for e in r.xrange(name, count=2)]
    a2 = ms.RedisStreamSource(url, name, "g", "dead-worker", schema=SCHEMA, format="msgpack")
    a2.restore({"last_id": first_two[-1]})
    got = []
    while (b := a2.poll(10)) is not None:
        got += b.column("event_id").to_pylist()
        if len(got) >= 4:
            break
    assert got == [2, 3, 4, 5]
    # Another consumer claims what a third one left pending (XAUTOCLAIM, idle >= 0 ms).
    r.xadd(name, {"data": msgpack.packb({"event_id": 6})})
    c = ms.RedisStreamSource(url, name, "g", "other", schema=SCHEMA, format="msgpack")
    c.restore(None)
    assert c.poll(10).num_rows == 1
    d = ms.RedisStreamSource(
        url, name, "g", "rescuer", schema=SCHEMA, format="msgpack", claim_idle_ms=0
    )
    d.restore(None)
    claimed = []
    while (b := d.poll(10)) is not None and b.num_rows:
        claimed += b.column("event_id").to_pylist()
    assert 6 in claimed


def test_rust_reader_reads_acks_and_recovers_from_an_error_reply(stream):
    from minide import _core
    from minide.errors import InvalidArgumentError

    r, name = stream
    r.xgroup_create(name, "g", id="0", mkstream=True)
    for i in range(5):
        r.xadd(name, {"other": b"x", "data": msgpack.packb({"event_id": i})})
    r.xadd(name, {"other": b"no payload"})
    reader = _core.StreamRedisReader("redis://127.0.0.1:6379/0")
    with pytest.raises(InvalidArgumentError, match="NOGROUP"):
        reader.xreadgroup("missing", "c", name, ">", 10, None, b"data")
    ids, payloads = reader.xreadgroup("g", "c", name, ">", 100, 10, b"data")
    assert ids.to_pylist() == [e[0].decode() for e in r.xrange(name)]
    assert [msgpack.unpackb(p)["event_id"] for p in payloads.to_pylist()[:5]] == list(range(5))
    assert payloads.null_count == 1 and payloads[5].as_py() is None
    assert r.xpending(name, "g")["pending"] == 6
    assert reader.xack(name, "g", ids) == 6
    assert r.xpending(name, "g")["pending"] == 0
    # Nothing new: an empty reply after the block timeout.
    ids, _ = reader.xreadgroup("g", "c", name, ">", 100, 10, b"data")
    assert len(ids) == 0
