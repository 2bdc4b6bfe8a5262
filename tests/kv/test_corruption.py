"""Torn and corrupt files: WAL truncation at every byte, mid-log corruption, SST bit flips."""

from __future__ import annotations

import os
import random
import shutil
import struct
from pathlib import Path

import minide.kv as kv
import pytest
from minide.errors import CorruptFileError


def wal_records(path: Path) -> list[tuple[int, int]]:
    """(start, end) of each record: length u32 | crc(len) u32 | crc(payload) u32 | payload."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append((pos, pos + 12 + n))
        pos += 12 + n
    return out


def make_log(tmp_path: Path, n: int = 10) -> tuple[Path, Path]:
    """A store whose WAL holds n single-put records (closed without a flush)."""
    tpl = tmp_path / "template"
    db = kv.open(tpl, sync="always")
    for i in range(n):
        db.put(f"k{i}", f"value-{i}".encode() * (i + 1))
    db.close()
    wals = sorted(tpl.glob("*.wal"), key=lambda p: p.stat().st_size)
    return tpl, wals[-1]


def fresh_copy(tpl: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(tpl, dst)
    return dst


def present(path: Path, n: int, **opts: str) -> list[bool]:
    with kv.open(path, **opts) as db:  # type: ignore[arg-type]
        vals = db.get_many([f"k{i}" for i in range(n)])
    for i, v in enumerate(vals):
        assert v is None or v == f"value-{i}".encode() * (i + 1), f"k{i} has a wrong value"
    return [v is not None for v in vals]


def test_wal_truncated_at_every_byte_of_last_three_records(tmp_path: Path) -> None:
    n = 10
    tpl, wal = make_log(tmp_path, n)
    recs = wal_records(wal)
    assert len(recs) == n
    size = wal.stat().st_size
    for cut in range(recs[-3][0], size + 1):
        work = fresh_copy(tpl, tmp_path / "work")
        with open(work / wal.name, "r+b") as f:
            f.truncate(cut)
        complete = sum(1 for _, end in recs if end <= cut)
        assert present(work, n) == [i < complete for i in range(n)], f"cut at byte {cut}"
        # Recovery made the recovered prefix durable: a second open sees the same.
        assert present(work, n) == [i < complete for i in range(n)]


def test_wal_corruption_mid_log_is_an_error(tmp_path: Path) -> None:
    n = 10
    tpl, wal = make_log(tmp_path, n)
    recs = wal_records(wal)
    start, end = recs[3]
    for at in range(start, end):
        work = fresh_copy(tpl, tmp_path / "work")
        data = bytearray((work / wal.name).read_bytes())
        data[at] ^= 0x5A
        (work / wal.name).write_bytes(bytes(data))
        with pytest.raises(CorruptFileError):
            kv.open(work)
        # The explicit recovery option stops exactly at the corruption; never a record after it.
        assert present(work, n, recovery="stop_at_corruption") == [i < 3 for i in range(n)]


def test_wal_zero_filled_tail_is_a_torn_write(tmp_path: Path) -> None:
    tpl, wal = make_log(tmp_path, 5)
    work = fresh_copy(tpl, tmp_path / "work")
    with open(work / wal.name, "ab") as f:
        f.write(b"\0" * 4096)
    assert present(work, 5) == [True] * 5


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_sst_bit_flips_never_return_a_wrong_value(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "db"
    n = 300
    expected = {f"key{i:04d}".encode(): (b"%d-" % i) * (i % 7 + 1) for i in range(n)}
    with kv.open(path, block_size=256, compression=compression) as db:  # type: ignore[arg-type]
        with db.write_batch() as b:
            for k, v in expected.items():
                b.put(k, v)
        db.flush()
    (sst,) = path.glob("*.sst")
    good = sst.read_bytes()
    keys = list(expected)
    flips = int(os.environ.get("MINIDE_KV_FLIPS", "1500"))
    rng = random.Random(f"bitflip-{compression}")
    outcomes = {"open failed": 0, "read failed": 0, "all correct": 0}
    for _ in range(flips):
        bit = rng.randrange(len(good) * 8)
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << (bit % 8)
        sst.write_bytes(bytes(bad))
        try:
            db = kv.open(path, compression=compression)  # type: ignore[arg-type]
        except CorruptFileError:
            outcomes["open failed"] += 1
            continue
        failed = False
        with db:
            for k in [*rng.sample(keys, 20), b"absent"]:
                try:
                    assert db.get(k) == expected.get(k), f"bit {bit}: wrong value for {k!r}"
                except CorruptFileError:
                    failed = True
            try:
                assert dict(db.scan()) == expected, f"bit {bit}: scan returned wrong data"
            except CorruptFileError:
                failed = True
        outcomes["read failed" if failed else "all correct"] += 1
    sst.write_bytes(good)
    assert present_all(path, expected)
    # Most flips hit data blocks, which are only read (and rejected) on access.
    assert outcomes["read failed"] > 0 and outcomes["open failed"] > 0, outcomes


def present_all(path: Path, expected: dict[bytes, bytes]) -> bool:
    with kv.open(path) as db:
        return dict(db.scan()) == expected


def test_leftovers_of_an_interrupted_flush_are_ignored(tmp_path: Path) -> None:
    """A crash between writing a table / temp manifest and installing them leaves strays."""
    path = tmp_path / "db"
    with kv.open(path) as db:
        db.put("a", b"1")
        db.flush()
        db.put("b", b"2")
    (path / "999999.sst").write_bytes(b"half a table")
    (path / "MANIFEST.tmp").write_bytes(b"half a manifest")
    with kv.open(path) as db:
        assert (db.get("a"), db.get("b")) == (b"1", b"2")
    assert not (path / "999999.sst").exists()


def test_corrupt_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with kv.open(path) as db:
        db.put("a", b"1")
        db.flush()
    data = bytearray((path / "MANIFEST").read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / "MANIFEST").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="MANIFEST"):
        kv.open(path)
