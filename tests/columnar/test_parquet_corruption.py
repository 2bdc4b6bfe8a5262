"""Damaged files never crash, hang, allocate unboundedly or decode into wrong values.

Page bodies carry CRC32 checksums, so any change inside the column data is detected; footer and
page-header damage is caught by the bounded Thrift reader and the cross-checks of sizes, offsets
and row counts. The oracle for every mutant: `CorruptFileError` naming the file, or exactly the
original table (a change in bytes no reader looks at, such as padding of a bit-packed run).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pytest
from minide.errors import CorruptFileError, MinideError


def small_table() -> pa.Table:
    n = 60
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "cat": pa.array([["x", "y", "z"][i % 3] if i % 7 else None for i in range(n)]),
            "v": pa.array([i * 0.5 for i in range(n)], pa.float64()),
            "flag": pa.array([i % 2 == 0 for i in range(n)]),
            "n": pa.array([None if i % 4 == 0 else (i * 37) % 11 for i in range(n)], pa.int32()),
            "tags": pa.array(
                [None if i % 9 == 0 else [f"t{j}" for j in range(i % 3)] for i in range(n)]
            ),
            "point": pa.array(
                [None if i % 5 == 0 else {"x": i, "y": [i, None]} for i in range(n)],
                pa.struct([("x", pa.int32()), ("y", pa.list_(pa.int64()))]),
            ),
        }
    )


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def original(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, pa.Table]:
    d = tmp_path_factory.mktemp("orig")
    t = small_table()
    p = d / "o.parquet"
    mc.write_parquet(
        t,
        p,
        row_group_size=30,
        data_page_size=64,
        compression="snappy",
        data_page_version=request.param,
    )
    return p.read_bytes(), mc.read_parquet(p)


def outcome(path: Path) -> pa.Table | Exception:
    try:
        return mc.read_parquet(path)
    except MinideError as e:
        return e


def assert_detected_or_same(path: Path, want: pa.Table, what: str) -> None:
    got = outcome(path)
    if isinstance(got, Exception):
        assert isinstance(got, CorruptFileError), f"{what}: {type(got).__name__}: {got}"
        assert str(path) in str(got), f"{what}: error does not name the file: {got}"
    else:
        assert got.equals(want), f"{what}: decoded into different values"


@pytest.mark.timeout(120)
def test_truncation_at_every_offset(tmp_path: Path, original: tuple[bytes, pa.Table]) -> None:
    data, _ = original
    p = tmp_path / "t.parquet"
    for cut in range(len(data)):
        p.write_bytes(data[:cut])
        got = outcome(p)
        assert isinstance(got, CorruptFileError), f"cut at {cut}: {got!r}"
        assert str(p) in str(got)


def footer_start(data: bytes) -> int:
    return len(data) - 8 - int.from_bytes(data[-8:-4], "little")


@pytest.mark.timeout(120)
def test_mutations_in_pages_are_detected(tmp_path: Path, original: tuple[bytes, pa.Table]) -> None:
    """Bit flips and overwritten length-like words anywhere before the footer."""
    data, want = original
    rng = random.Random(1234)
    p = tmp_path / "m.parquet"
    end = footer_start(data)
    for i in range(1500):
        buf = bytearray(data)
        off = rng.randrange(4, end)
        kind = i % 3
        if kind == 0:
            buf[off] ^= 1 << rng.randrange(8)
        elif kind == 1:
            word = rng.choice([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f"])
            buf[off : off + 4] = word[: max(0, min(4, end - off))]
        else:
            buf[off] = rng.choice([0x00, 0xFF, 0x7F, 0x80])
        p.write_bytes(bytes(buf))
        assert_detected_or_same(p, want, f"mutation {i} at {off}")


@pytest.mark.timeout(120)
def test_mutations_in_footer_are_detected(tmp_path: Path, original: tuple[bytes, pa.Table]) -> None:
    """Parquet has no footer checksum; minide adds one (key-value `minide:footer_crc32`), so a
    changed byte anywhere in the footer of a minide file (schema, types, statistics, offsets)
    is reported, except inside that key itself, which disables the check but changes nothing."""
    data, want = original
    rng = random.Random(99)
    p = tmp_path / "f.parquet"
    start = footer_start(data)
    for i in range(1500):
        buf = bytearray(data)
        off = rng.randrange(start, len(data))
        if i % 2:
            buf[off] ^= 1 << rng.randrange(8)
        else:
            buf[off] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x15, 0x19])
        p.write_bytes(bytes(buf))
        assert_detected_or_same(p, want, f"footer mutation {i} at {off}")


def test_footer_length_fields(tmp_path: Path, original: tuple[bytes, pa.Table]) -> None:
    data, _ = original
    p = tmp_path / "l.parquet"
    for word in (
        b"\x00\x00\x00\x00",
        b"\xff\xff\xff\xff",
        b"\xff\xff\xff\x7f",
        b"\x10\x00\x00\x00",
    ):
        p.write_bytes(data[:-8] + word + b"PAR1")
        with pytest.raises(CorruptFileError, match=re.escape(str(p))):
            mc.read_parquet(p)


def test_not_parquet(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    p.write_bytes(b"hello world, definitely not parquet")
    with pytest.raises(CorruptFileError, match="PAR1"):
        mc.ParquetFile(p)
