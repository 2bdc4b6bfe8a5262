"""hash_column against the reference xxhash package, over every supported Arrow type."""

from __future__ import annotations

import datetime as dt
import decimal
import struct

import minide
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError, MinideError, UnsupportedError


def ref(b: bytes | None) -> int | None:
    return None if b is None else xxhash.xxh3_64_intdigest(b)


INT_TYPES = {
    pa.int8(): "<b",
    pa.int16(): "<h",
    pa.int32(): "<i",
    pa.int64(): "<q",
    pa.uint8(): "<B",
    pa.uint16(): "<H",
    pa.uint32(): "<I",
    pa.uint64(): "<Q",
}


@pytest.mark.parametrize("typ", list(INT_TYPES), ids=str)
@given(data=st.data())
def test_integers_match_xxhash(typ: pa.DataType, data: st.DataObject) -> None:
    fmt = INT_TYPES[typ]
    bits = typ.bit_width
    lo, hi = (0, 2**bits - 1) if fmt[1].isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    values = data.draw(st.lists(st.none() | st.integers(lo, hi), max_size=50))
    got = minide.hash_column(pa.array(values, type=typ)).to_pylist()
    assert got == [ref(None if v is None else struct.pack(fmt, v)) for v in values]


@given(st.lists(st.none() | st.text(max_size=40), max_size=50))
def test_strings_match_xxhash(values: list[str | None]) -> None:
    want = [ref(None if v is None else v.encode()) for v in values]
    for typ in (pa.string(), pa.large_string(), pa.string_view()):
        assert minide.hash_column(pa.array(values, type=typ)).to_pylist() == want
    assert minide.hash_column(pa.array(values).dictionary_encode()).to_pylist() == want


@given(st.lists(st.none() | st.binary(max_size=40), max_size=50))
def test_binary_match_xxhash(values: list[bytes | None]) -> None:
    want = [ref(v) for v in values]
    for typ in (pa.binary(), pa.large_binary(), pa.binary_view()):
        assert minide.hash_column(pa.array(values, type=typ)).to_pylist() == want


@given(
    st.lists(st.none() | st.floats(allow_nan=False), max_size=30),
    st.integers(0, 30),
    st.integers(0, 30),
)
def test_floats_and_slices(values: list[float | None], start: int, length: int) -> None:
    arr = pa.array(values, type=pa.float64()).slice(start, length)
    want = [ref(None if v is None else struct.pack("<d", v)) for v in arr.to_pylist()]
    assert minide.hash_column(arr).to_pylist() == want


def test_bool_date_timestamp_decimal_fixed() -> None:
    assert minide.hash_column(pa.array([True, False, None])).to_pylist() == [
        ref(b"\x01"),
        ref(b"\x00"),
        None,
    ]
    d = dt.date(2024, 2, 29)
    days = (d - dt.date(1970, 1, 1)).days
    assert minide.hash_column(pa.array([d])).to_pylist() == [ref(struct.pack("<i", days))]
    ts = pa.array([1_700_000_000_000_000], type=pa.timestamp("us", tz="UTC"))
    assert minide.hash_column(ts).to_pylist() == [ref(struct.pack("<q", 1_700_000_000_000_000))]
    dec = pa.array([decimal.Decimal("-1.25")], type=pa.decimal128(10, 2))
    assert minide.hash_column(dec).to_pylist() == [ref((-125).to_bytes(16, "little", signed=True))]
    fsb = pa.array([b"abcd", None], type=pa.binary(4))
    assert minide.hash_column(fsb).to_pylist() == [ref(b"abcd"), None]


def test_readme_example() -> None:
    assert minide.hash_column(pa.array(["a", None])).to_pylist() == [ref(b"a"), None]


def test_chunked_polars_and_lists() -> None:
    chunked = pa.chunked_array([[1, 2], [3]], type=pa.int64())
    got = minide.hash_column(chunked)
    assert isinstance(got, pa.ChunkedArray)
    want = [ref(struct.pack("<q", v)) for v in (1, 2, 3)]
    assert got.to_pylist() == want
    assert minide.hash_column(pl.Series([1, 2, 3], dtype=pl.Int64)).to_pylist() == want
    assert minide.hash_column([1, 2, 3]).to_pylist() == want


def test_zero_copy_large_array() -> None:
    # A million values: the kernel reads pyarrow's buffer in place and returns a new array.
    arr = pa.array(np.arange(1_000_000, dtype=np.int64))
    h = minide.hash_column(arr)
    assert len(h) == 1_000_000 and h.null_count == 0
    assert h[999_999].as_py() == ref(struct.pack("<q", 999_999))


def test_unsupported_and_bad_input_raise_minide_errors() -> None:
    with pytest.raises(UnsupportedError, match="List"):
        minide.hash_column(pa.array([[1], [2]]))
    with pytest.raises(InvalidArgumentError, match="expects an Arrow array"):
        minide.hash_column(object())
    assert issubclass(UnsupportedError, MinideError)
