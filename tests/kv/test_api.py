"""minide.kv API: reads and writes, bitemporal semantics, errors, snapshots, CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import minide.kv as kv
import pyarrow as pa
import pytest
from minide.errors import InvalidArgumentError, StoreClosedError


def test_put_get_delete_and_time_travel(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db") as db:
        t1 = db.put("user:1", b"alice")
        t2 = db.put(b"user:1", b"alice2")
        t3 = db.delete("user:1")
        assert t1 < t2 < t3
        assert db.get("user:1") is None
        assert db.get("user:1", as_of=t1) == b"alice"
        assert db.get("user:1", as_of=t2) == b"alice2"
        assert db.get("user:1", as_of=t1 - 1) is None
        assert db.get("missing") is None
        h = db.history("user:1")
        assert [v.value for v in h] == [b"alice", b"alice2", None]
        assert [(v.system_from, v.system_to) for v in h] == [(t1, t2), (t2, t3), (t3, None)]
        assert h[2].is_tombstone
        # datetimes for as_of: every commit at or before that wall-clock time
        assert db.get("user:1", as_of=dt.datetime.now(dt.UTC)) is None
        assert db.get("user:1", as_of=kv.datetime_from_ts(t1) - dt.timedelta(days=1)) is None


def test_valid_time_and_datetimes(tmp_path: Path) -> None:
    jan = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    feb = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    with kv.open(tmp_path / "db") as db:
        db.put("rate", b"1.0", valid_from=jan)
        t = db.put("rate", b"1.5", valid_from=feb)
        db.put("rate", b"1.2", valid_from=jan + dt.timedelta(days=10), valid_to=feb)
        assert db.get("rate", valid_at=jan + dt.timedelta(days=1)) == b"1.0"
        assert db.get("rate", valid_at=jan + dt.timedelta(days=15)) == b"1.2"
        assert db.get("rate", as_of=t, valid_at=jan + dt.timedelta(days=15)) == b"1.0"
        assert db.get("rate", valid_at=feb) == b"1.5"
        assert db.get("rate", valid_at=dt.datetime(2023, 1, 1)) is None
        micros = int(feb.timestamp()) * 1_000_000
        assert db.get("rate", valid_at=micros) == b"1.5"
        with pytest.raises(InvalidArgumentError):
            db.put("rate", b"x", valid_from=10, valid_to=10)
        tbl = db.to_arrow(valid_at=micros)
        assert tbl.column_names == ["key", "value", "system_from", "valid_from", "valid_to"]
        assert tbl.column("valid_from").to_pylist() == [micros]


def test_scan_prefix_range_reverse(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db", memtable_size=8192, block_size=256) as db:
        keys = [f"k{i:04d}".encode() for i in range(3000)]
        with db.write_batch() as b:
            for k in keys:
                b.put(k, k[::-1])
        db.delete("k0005")
        db.flush()
        db.put("k0006", b"new")
        got = list(db.scan())
        assert len(got) == 2999
        assert dict(got)[b"k0006"] == b"new"
        assert [k for k, _ in db.scan("k0010", "k0013")] == [b"k0010", b"k0011", b"k0012"]
        assert [k for k, _ in db.scan(prefix="k012")] == [f"k012{i}".encode() for i in range(10)]
        assert [k for k, _ in db.scan(prefix="k000", reverse=True)][:2] == [b"k0009", b"k0008"]
        assert db.get_many(["k0001", "nope", "k0005", b"k2999"]) == [b"1000k", None, None, b"9992k"]
        assert db.to_arrow(prefix="k29").num_rows == 100
        stats = db.stats()
        assert stats["commits"] >= 3 and stats["flushes"] >= 1


def test_write_batch_is_atomic_with_one_timestamp(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db") as db:
        with db.write_batch() as b:
            b.put("a", b"1")
            b.put("b", b"2")
            b.put("a", b"0", valid_from=0, valid_to=10)
        assert b.ts is not None
        ts = {v.system_from for k in ("a", "b") for v in db.history(k)}
        assert ts == {b.ts}
        assert db.get("a") == b"0"  # the later write of the batch wins
        assert db.get("a", valid_at=20) == b"1"
        with pytest.raises(RuntimeError), db.write_batch() as b2:
            b2.put("c", b"3")
            raise RuntimeError("abort")
        assert db.get("c") is None


def test_write_batch_and_get_many_take_every_argument_type(tmp_path: Path) -> None:
    # WriteBatch.put/delete and DB.get_many are Rust methods bound per instance: they must
    # accept (and reject) exactly what the documented Python signatures do.
    when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    with kv.open(tmp_path / "db") as db:
        with db.write_batch() as b:
            b.put("s", bytearray(b"ba"))
            b.put(bytearray(b"ba"), memoryview(b"mv"))
            b.put(b"z\x00ero", b"zero key", valid_from=when)
            b.put(b"gone", b"x")
            b.delete(b"gone", valid_from=5, valid_to=None)
            assert len(b) == 5
            with pytest.raises(InvalidArgumentError):
                b.put("k", "str value")  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError):
                b.put(3, b"v")  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError):
                b.put("k", b"v", valid_from=True)
            with pytest.raises(InvalidArgumentError):
                b.delete("k", valid_to=2**63)
        assert len(b) == 0  # committed: the ops moved into the store
        with pytest.raises(InvalidArgumentError):
            b.put("late", b"v")
        with pytest.raises(InvalidArgumentError):
            b.commit()
        assert db.get("late") is None
        keys = ["s", b"ba", bytearray(b"z\x00ero"), "gone", "nope"]
        want = [b"ba", b"mv", b"zero key", None, None]  # "gone": the batch's later tombstone
        assert db.get_many(keys) == want == [db.get(k) for k in keys]
        assert db.get_many(iter(keys), valid_at=when) == want
        assert db.get_many(keys, valid_at=7) == [b"ba", b"mv", None, None, None]
        assert db.get_many(keys, valid_at=3) == [b"ba", b"mv", None, b"x", None]
        assert db.get_many(keys, as_of=b.ts - 1) == [None] * 5
        with pytest.raises(InvalidArgumentError):
            db.get_many([1])  # type: ignore[list-item]
        with pytest.raises(InvalidArgumentError):
            db.get_many(keys, as_of=-1)


def test_snapshot_is_stable(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db", retention={"versions": 1}) as db:
        db.put("k", b"1")
        with db.snapshot() as snap:
            for i in range(2, 50):
                db.put("k", str(i).encode())
            db.compact()
            assert snap.get("k") == b"1"
            assert list(snap.scan()) == [(b"k", b"1")]
            assert snap.to_arrow().num_rows == 1
        with pytest.raises(StoreClosedError):
            snap.get("k")
        db.compact()
        assert [v.value for v in db.history("k")] == [b"49"]


def test_closed_store_raises(tmp_path: Path) -> None:
    db = kv.open(tmp_path / "db")
    db.put("a", b"1")
    it = db.scan()
    db.close()
    db.close()  # idempotent
    for call in (
        lambda: db.get("a"),
        lambda: db.put("a", b"2"),
        lambda: db.get_many(["a"]),
        lambda: db.history("a"),
        lambda: list(it),
        lambda: db.flush(),
        lambda: db.stats(),
        lambda: db.write_batch(),
        lambda: db.snapshot(),
    ):
        with pytest.raises(StoreClosedError):
            call()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        kv.open(tmp_path / "a", sync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        kv.open(tmp_path / "b", compression="lz4")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        kv.open(tmp_path / "c", retention={"versions": 0})
    with kv.open(tmp_path / "d") as db:
        with pytest.raises(InvalidArgumentError):
            db.put("k", "str value")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            db.get(3)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            db.get("k", as_of=-1)


def test_concurrent_writers_group_commit(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db", sync="always") as db:
        stamps: list[int] = []
        lock = threading.Lock()

        def writer(t: int) -> None:
            for i in range(100):
                ts = db.put(f"t{t}-{i}", b"x")
                with lock:
                    stamps.append(ts)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(set(stamps)) == 400
        assert len(list(db.scan())) == 400
        assert db.stats()["wal_syncs"] <= 400


def test_reopen_keeps_data_and_clock(tmp_path: Path) -> None:
    db = kv.open(tmp_path / "db")
    last = db.put("a", b"1")
    db.close()
    db = kv.open(tmp_path / "db")
    assert db.get("a") == b"1"
    assert db.put("b", b"2") > last
    db.close()
    text = kv.inspect(tmp_path / "db")
    assert "level 0" in text and ".sst" in text


_MAIN = "import sys; from minide.cli import main; sys.exit(main())"


def test_cli(tmp_path: Path) -> None:
    path = str(tmp_path / "db")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _MAIN, "kv", path, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = cli("put", "greeting", "hello")
    assert r.returncode == 0, r.stderr
    ts = int(r.stdout.split()[-1])
    assert cli("put", "greeting", "bye").returncode == 0
    assert cli("get", "greeting").stdout.strip() == "bye"
    assert cli("get", "greeting", "--as-of", str(ts)).stdout.strip() == "hello"
    assert cli("get", "missing").returncode == 1
    assert "greeting" in cli("scan").stdout
    hist = cli("history", "greeting").stdout
    assert "hello" in hist and "bye" in hist
    assert "level" in cli("inspect").stdout


def test_arrow_roundtrip_types(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db") as db:
        db.put(b"\x00\xff", b"\x00")
        t = db.to_arrow()
        assert t.schema.field("key").type == pa.binary()
        assert t.column("key").to_pylist() == [b"\x00\xff"]


def test_retention_by_age_keeps_the_horizon_and_snapshots(tmp_path: Path) -> None:
    import time

    with kv.open(tmp_path / "db", retention=dt.timedelta(seconds=1)) as db:
        old = []
        snap = None
        for i in range(5):
            old.append(db.put("k", b"%d" % i))
            if i == 1:
                snap = db.snapshot()
        assert snap is not None
        time.sleep(1.5)  # every old version is now past the 1 s horizon
        t_new = db.put("k", b"new")
        db.compact()
        values = [v.value for v in db.history("k")]
        # v0, v2, v3 are invisible at the horizon and at the snapshot: dropped. v1 is pinned by
        # the snapshot; v4 is what a read at the horizon sees (unless this machine stalled for a
        # second between the last put and compact(), which moves the horizon past it).
        assert b"0" not in values and b"2" not in values and b"3" not in values
        assert values[:1] == [b"1"] and values[-1] == b"new"
        assert snap.get("k") == b"1"
        assert db.get("k", as_of=t_new) == b"new"
        snap.close()
        db.compact()
        assert b"1" not in [v.value for v in db.history("k")]


def test_second_open_of_a_directory_fails(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db"), pytest.raises(InvalidArgumentError, match="already open"):
        kv.open(tmp_path / "db")
    kv.open(tmp_path / "db").close()
