"""The Storage protocol, checked the same way on every store a region can use.

Conformance: random sequences of put/delete/get/items (and, for durable stores, close + reopen)
against a dict model. KvStorage specifics: the epoch survives a reopen and a kill -9, is new after
the directory is lost, and lives outside the client key space. Durability: a writer process
killed with SIGKILL mid-stream loses no acknowledged write.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import minide.replication as mr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError

Factory = Callable[[], Any]


@pytest.fixture(params=["memory", "kv"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_store(kind: str, path: Path) -> Any:
    return mr.MemoryStorage() if kind == "memory" else mr.KvStorage(path)


def close(store: Any) -> None:
    if hasattr(store, "close"):
        store.close()


def test_stores_satisfy_the_storage_protocol(store_kind: str, tmp_path: Path) -> None:
    store = make_store(store_kind, tmp_path)
    assert isinstance(store, mr.Storage)
    close(store)


keys = st.sampled_from([b"", b"a", b"ab", b"e", b"d", b"\x00", b"\xff" * 3, b"k1", b"k2"])
values = st.binary(max_size=64)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, values),
        st.tuples(st.just("delete"), keys, st.just(b"")),
        st.tuples(st.just("get"), keys, st.just(b"")),
        st.tuples(st.just("items"), st.just(b""), st.just(b"")),
        st.tuples(st.just("reopen"), st.just(b""), st.just(b"")),
        st.tuples(st.just("hinted_put"), keys, st.sampled_from([b"", b"us", b"us,eu"])),
        st.tuples(st.just("drop_hint"), keys, st.sampled_from([b"us", b"eu"])),
        st.tuples(st.just("put_many"), keys, values),
    ),
    max_size=40,
)


@pytest.mark.parametrize("kind", ["memory", "kv"])
@settings(max_examples=60)
@given(ops=ops)
def test_storage_conformance(kind: str, ops: list[tuple[str, bytes, bytes]]) -> None:
    """Every store behaves like a dict (and a set of (peer, key) hints); durable stores keep
    both across close + reopen. Hints never show up among the objects."""
    model: dict[bytes, bytes] = {}
    hints: set[tuple[str, bytes]] = set()
    with tempfile.TemporaryDirectory() as d:
        store = make_store(kind, Path(d))
        try:
            for op, key, value in ops:
                if op == "put":
                    store.put(key, value)
                    model[key] = value
                elif op == "delete":
                    store.delete(key)
                    model.pop(key, None)
                elif op == "get":
                    assert store.get(key) == model.get(key)
                elif op == "hinted_put":
                    peers = [p for p in value.decode().split(",") if p]
                    store.put_with_hints(key, b"obj:" + key, peers)
                    model[key] = b"obj:" + key
                    hints.update((p, key) for p in peers)
                elif op == "drop_hint":
                    store.drop_hints(value.decode(), [key])
                    hints.discard((value.decode(), key))
                elif op == "put_many":
                    batch = [(key, value), (key + b"+", value + b"+")]
                    store.put_many(batch)
                    model.update(batch)
                    ks = [key, key + b"+", b"never"]
                    assert store.get_many(ks) == [model.get(k) for k in ks]
                elif op == "items":
                    pairs = list(store.items())
                    assert len(pairs) == len(dict(pairs)), "a key listed twice"
                    assert dict(pairs) == model
                elif kind == "kv":  # reopen: only durable stores promise to keep data
                    close(store)
                    store = make_store(kind, Path(d))
            assert dict(store.items()) == model
            assert all(store.get(k) == v for k, v in model.items())
            assert sorted(store.hints()) == sorted(hints)
        finally:
            close(store)


def test_kv_hint_peer_names_are_checked(tmp_path: Path) -> None:
    s = mr.KvStorage(tmp_path)
    try:
        with pytest.raises(InvalidArgumentError, match="peer names"):
            s.put_with_hints(b"k", b"v", [""])
        with pytest.raises(InvalidArgumentError, match="peer names"):
            s.drop_hints("x" * 256, [b"k"])
        assert s.get(b"k") is None, "a rejected batch writes nothing"
    finally:
        s.close()


def test_kv_epoch_kept_with_the_data_new_when_lost(tmp_path: Path) -> None:
    s = mr.KvStorage(tmp_path)
    assert s.lost_data, "a new store has no epoch yet"
    epoch = s.epoch()
    assert not s.lost_data and s.epoch() == epoch
    s.put(b"e", b"a client key named like the epoch key")
    s.put(b"k", b"v")
    assert s.epoch() == epoch, "client keys never touch the epoch"
    assert dict(s.items()) == {b"e": b"a client key named like the epoch key", b"k": b"v"}
    s.close()
    s = mr.KvStorage(tmp_path)
    assert s.epoch() == epoch and s.get(b"k") == b"v", "data kept: same epoch"
    s.close()
    shutil.rmtree(tmp_path)  # the disk is lost
    s = mr.KvStorage(tmp_path)
    assert s.lost_data and dict(s.items()) == {}
    assert s.epoch() != epoch, "data lost: new epoch (kv679)"
    s.close()


_WRITER = """
import sys
import minide.replication as mr

def op(i):  # each write i touches the keys listed; deletes take back earlier keys
    return [(b"k%d" % i, b"v%d" % i)] + ([(b"k%d" % (i // 2), None)] if i % 3 == 2 else [])

s = mr.KvStorage(sys.argv[1], sync=sys.argv[2])
print("epoch", s.epoch(), flush=True)
i = 0
while True:
    for key, value in op(i):
        if value is None:
            s.delete(key)
        else:
            s.put(key, value)
    print(i, flush=True)  # acknowledged: the store returned
    i += 1
"""


def _op(i: int) -> Iterator[tuple[bytes, bytes | None]]:
    yield b"k%d" % i, b"v%d" % i
    if i % 3 == 2:
        yield b"k%d" % (i // 2), None


@pytest.mark.parametrize("sync", ["batch", "always"])
def test_kv_kill9_keeps_acknowledged_writes(tmp_path: Path, sync: str) -> None:
    """A writer process SIGKILLed mid-stream: every write it acknowledged is there after a
    reopen (with "batch" the OS holds it; with "always" the disk does), and the epoch is kept."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path), sync],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    assert first[:1] == ["epoch"], proc.stderr.read() if proc.stderr else ""
    acked = -1
    while acked < 400:
        line = proc.stdout.readline()
        assert line, "writer died early"
        acked = int(line)
    os.kill(proc.pid, signal.SIGKILL)  # no close, no fsync at exit
    proc.wait()
    for line in proc.stdout:  # acks printed before the kill, still in the pipe
        acked = int(line)
    model: dict[bytes, bytes] = {}
    for i in range(acked + 1):
        for key, value in _op(i):
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
    in_flight = {key for key, _ in _op(acked + 1)}  # may or may not have landed
    s = mr.KvStorage(tmp_path)
    try:
        assert s.epoch() == first[1], "data kept: same epoch"
        got = dict(s.items())
        universe = (set(got) | set(model)) - in_flight
        assert {k: got.get(k) for k in universe} == {k: model.get(k) for k in universe}
        assert set(got) - set(model) <= in_flight, "nothing beyond the last write appears"
    finally:
        s.close()
