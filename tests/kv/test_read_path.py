"""The read path against a dict model: streaming scans both ways, get_many, argument types.

The store is spread over every kind of source at once (memtable, level-0 tables, compacted
levels) with small blocks, so scans cross many block and table boundaries in both directions.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import minide.kv as kv
import pytest
from minide.errors import InvalidArgumentError


def layered_store(path: Path) -> tuple[kv.DB, dict[bytes, bytes], int, dict[bytes, bytes]]:
    """Writes in three rounds (compacted, flushed, in memory) with overwrites and deletes.

    Returns the store, the model now, the commit ts after round one and the model then.
    """
    rng = random.Random(29)
    db = kv.open(path, memtable_size=1 << 16, block_size=256)
    model: dict[bytes, bytes] = {}
    old_ts = 0
    old: dict[bytes, bytes] = {}
    for rnd in range(3):
        with db.write_batch() as b:
            for _ in range(1500):
                k = b"k%05d" % rng.randrange(4000)
                if rng.random() < 0.15:
                    b.delete(k)
                    model.pop(k, None)
                else:
                    v = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                    b.put(k, v)
                    model[k] = v
        if rnd == 0:
            db.compact()
            old_ts, old = db.last_ts, dict(model)
        elif rnd == 1:
            db.flush()
    return db, model, old_ts, old


def test_scans_both_ways_match_the_model(tmp_path: Path) -> None:
    db, model, old_ts, old = layered_store(tmp_path / "db")
    with db:
        assert db.stats()["sst_files"] >= 2 and db.stats()["memtable_entries"] > 0
        want = sorted(model.items())
        assert list(db.scan()) == want
        assert list(db.scan(reverse=True)) == want[::-1]
        for lo, hi in [(b"k00100", b"k00900"), (b"k03999", None), (None, b"k00001"), (b"a", b"b")]:
            sub = [(k, v) for k, v in want if (lo is None or k >= lo) and (hi is None or k < hi)]
            assert list(db.scan(lo, hi)) == sub
            assert list(db.scan(lo, hi, reverse=True)) == sub[::-1]
        pre = [(k, v) for k, v in want if k.startswith(b"k012")]
        assert list(db.scan(prefix="k012", reverse=True)) == pre[::-1]
        # Time travel in both directions: the compacted round alone.
        then = sorted(old.items())
        assert list(db.scan(as_of=old_ts)) == then
        assert list(db.scan(as_of=old_ts, reverse=True)) == then[::-1]


def test_reverse_scan_streams_from_its_end(tmp_path: Path) -> None:
    db, model, _, _ = layered_store(tmp_path / "db")
    with db:
        it = db.scan(reverse=True)
        first = [next(it) for _ in range(3)]
        assert first == sorted(model.items())[::-1][:3]
        # The scan reads at its start time: a later write is not seen, the rest still comes.
        db.put(b"k99999", b"late")
        rest = list(it)
        assert b"k99999" not in dict(rest)
        assert len(first) + len(rest) == len(model)
        assert db.stats()["live_snapshots"] == 0  # the exhausted scan released its pin


def test_get_many_matches_get(tmp_path: Path) -> None:
    db, model, old_ts, old = layered_store(tmp_path / "db")
    with db:
        rng = random.Random(3)
        keys = [b"k%05d" % rng.randrange(4200) for _ in range(3000)]
        assert db.get_many(keys) == [model.get(k) for k in keys]
        assert db.get_many(keys) == [db.get(k) for k in keys]
        assert db.get_many(keys, as_of=old_ts) == [old.get(k) for k in keys]
        assert db.get_many([]) == []


def test_get_takes_the_facade_argument_types(tmp_path: Path) -> None:
    with kv.open(tmp_path / "db") as db:
        t1 = db.put("ключ", b"1", valid_from=dt.datetime(2024, 1, 1))
        db.put("ключ", b"2")
        assert db.get("ключ") == b"2"
        assert db.get("ключ".encode(), as_of=t1) == b"1"
        # Not in the typed signature, but the facade has always taken them.
        assert db.get(bytearray("ключ".encode()), as_of=t1) == b"1"  # type: ignore[arg-type]
        assert db.get(memoryview("ключ".encode()), as_of=t1) == b"1"  # type: ignore[arg-type]
        assert db.get("ключ", as_of=kv.datetime_from_ts(t1) - dt.timedelta(days=1)) is None
        assert db.get("ключ", as_of=t1, valid_at=dt.datetime(2023, 1, 1)) is None
        with pytest.raises(InvalidArgumentError, match="keys are bytes or str"):
            db.get(12)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="as_of"):
            db.get("ключ", as_of=-1)
        with pytest.raises(InvalidArgumentError, match="as_of"):
            db.get("ключ", as_of=True)
        with pytest.raises(InvalidArgumentError, match="valid_at"):
            db.get("ключ", valid_at=2**70)
        with pytest.raises(InvalidArgumentError, match="valid_at"):
            db.get("ключ", valid_at="now")  # type: ignore[arg-type]
