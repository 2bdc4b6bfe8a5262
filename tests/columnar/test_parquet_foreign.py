"""minide reads files written by other engines exactly as pyarrow reads them.

Matrix: pyarrow codecs x dictionary on/off x data page v1/v2 x every column_encoding pyarrow
allows per type (DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
BYTE_STREAM_SPLIT); plus DuckDB- and Polars-written files.
"""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import duckdb
import minide.columnar as mc
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import SchemaError


def sample_table(n: int = 3000, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.1
    words = np.array(["alpha", "beta", "gamma", "delta", "épsilon", ""])
    return pa.table(
        {
            "i32": pa.array(rng.integers(-1000, 1000, n).astype(np.int32), mask=mask),
            "i64": pa.array(rng.integers(-(2**60), 2**60, n), mask=mask),
            "sorted": pa.array(np.arange(n, dtype=np.int64) * 3),
            "f32": pa.array(rng.random(n).astype(np.float32), mask=mask),
            "f64": pa.array(rng.normal(size=n), mask=mask),
            "s": pa.array(words[rng.integers(0, len(words), n)].tolist(), mask=mask),
            "text": pa.array([f"row {i} {'x' * (i % 37)}" for i in range(n)]),
            "b": pa.array(rng.random(n) < 0.3, mask=mask),
            "bin": pa.array([bytes([i % 256]) * (i % 5) for i in range(n)], pa.binary()),
            "u16": pa.array(rng.integers(0, 2**16, n).astype(np.uint16)),
            "ts": pa.array(rng.integers(0, 2**50, n), pa.timestamp("us", "UTC"), mask=mask),
            "date": pa.array(rng.integers(0, 30000, n).astype(np.int32), pa.date32()),
            "dec": pa.array(
                [decimal.Decimal(int(x)).scaleb(-3) for x in rng.integers(-(10**9), 10**9, n)],
                pa.decimal128(14, 3),
            ),
        }
    )


ENCODINGS = {
    "DELTA_BINARY_PACKED": ["i32", "i64", "sorted", "date", "ts"],
    "DELTA_LENGTH_BYTE_ARRAY": ["s", "text", "bin"],
    "DELTA_BYTE_ARRAY": ["s", "text", "bin"],
    "BYTE_STREAM_SPLIT": ["f32", "f64", "i32", "i64"],
}


def check(path: Path, columns: list[str] | None = None) -> None:
    want = pq.read_table(path, columns=columns)
    got = mc.read_parquet(path, columns=columns)
    assert got.schema.equals(want.schema), (got.schema, want.schema)
    for name in want.column_names:
        assert got.column(name).combine_chunks().equals(want.column(name).combine_chunks()), name


@pytest.mark.parametrize("compression", ["none", "snappy", "zstd", "gzip", "lz4", "brotli"])
@pytest.mark.parametrize("use_dictionary", [True, False])
@pytest.mark.parametrize("data_page_version", ["1.0", "2.0"])
def test_pyarrow_codecs_dictionary_pages(
    tmp_path: Path, compression: str, use_dictionary: bool, data_page_version: str
) -> None:
    t = sample_table()
    p = tmp_path / "p.parquet"
    pq.write_table(
        t,
        p,
        compression=compression,
        use_dictionary=use_dictionary,
        data_page_version=data_page_version,
        row_group_size=1000,
        data_page_size=4096,
        write_page_checksum=True,
    )
    check(p)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("data_page_version", ["1.0", "2.0"])
@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_pyarrow_column_encodings(
    tmp_path: Path, encoding: str, data_page_version: str, compression: str
) -> None:
    t = sample_table()
    cols = ENCODINGS[encoding]
    p = tmp_path / "e.parquet"
    pq.write_table(
        t,
        p,
        use_dictionary=False,
        column_encoding={c: encoding for c in cols},
        data_page_version=data_page_version,
        compression=compression,
        data_page_size=2048,
    )
    encs = pq.ParquetFile(p).metadata.row_group(0).column(t.column_names.index(cols[0])).encodings
    assert encoding in encs
    check(p)


def test_projection_and_column_order(tmp_path: Path) -> None:
    p = tmp_path / "p.parquet"
    pq.write_table(sample_table(), p)
    check(p, columns=["text", "i32"])
    assert mc.read_parquet(p, columns=["text", "i32"]).column_names == ["text", "i32"]
    with pytest.raises(SchemaError, match="nope"):
        mc.read_parquet(p, columns=["nope"])


def test_duckdb_written_file(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    duckdb.sql(
        "SELECT i, i::VARCHAR || 'x' AS s, i * 1.5 AS f, DATE '2020-01-01' + i::INT AS d, "
        "CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS n, TIMESTAMP '2021-01-01' + INTERVAL (i) SECOND AS ts "
        "FROM range(5000) t(i)"
    ).write_parquet(str(p))
    check(p)


@pytest.mark.parametrize("compression", ["zstd", "snappy", "lz4", "uncompressed"])
def test_polars_written_file(tmp_path: Path, compression: str) -> None:
    p = tmp_path / "pl.parquet"
    df = pl.DataFrame(
        {
            "a": list(range(2000)),
            "s": [f"v{i % 17}" for i in range(2000)],
            "f": [None if i % 5 == 0 else i / 3 for i in range(2000)],
            "t": [
                datetime.datetime(2020, 1, 1) + datetime.timedelta(minutes=i) for i in range(2000)
            ],
        }
    )
    df.write_parquet(p, compression=compression)  # type: ignore[arg-type]
    check(p)


def test_int96_timestamps(tmp_path: Path) -> None:
    p = tmp_path / "i96.parquet"
    t = pa.table({"ts": pa.array([0, 10**18, None, -(10**15)], pa.timestamp("ns"))})
    pq.write_table(t, p, use_deprecated_int96_timestamps=True)
    check(p)


@pytest.mark.parametrize("data_page_version", ["1.0", "2.0"])
@pytest.mark.parametrize("use_dictionary", [True, False])
def test_pyarrow_nested(tmp_path: Path, data_page_version: str, use_dictionary: bool) -> None:
    n = 500
    t = pa.table(
        {
            "tags": pa.array(
                [None if i % 7 == 0 else [f"t{j}" for j in range(i % 4)] for i in range(n)]
            ),
            "s": pa.array(
                [None if i % 5 == 0 else {"a": i, "b": [float(i), None]} for i in range(n)],
                pa.struct([("a", pa.int32()), ("b", pa.list_(pa.float64()))]),
            ),
            "m": pa.array(
                [[("k", i), ("j", None)] if i % 3 else None for i in range(n)],
                pa.map_(pa.string(), pa.int64()),
            ),
            "ll": pa.array(
                [[[i], [], None] if i % 2 else [] for i in range(n)], pa.list_(pa.list_(pa.int64()))
            ),
        }
    )
    p = tmp_path / "nested.parquet"
    pq.write_table(
        t, p, data_page_version=data_page_version, use_dictionary=use_dictionary, data_page_size=512
    )
    check(p)
    check(p, columns=["m", "tags"])


def test_integer_decimals_and_float16(tmp_path: Path) -> None:
    t = pa.table(
        {
            "d9": pa.array(
                [decimal.Decimal("1.5"), None, decimal.Decimal("-99.25")], pa.decimal128(9, 2)
            ),
            "d18": pa.array(
                [decimal.Decimal("12345678.123"), decimal.Decimal("0"), None], pa.decimal128(18, 3)
            ),
            "h": pa.array(np.array([1.5, -2.0, 0.0], dtype=np.float16), pa.float16()),
        }
    )
    p = tmp_path / "dec.parquet"
    pq.write_table(t, p, store_decimal_as_integer=True)
    phys = [pq.ParquetFile(p).metadata.row_group(0).column(i).physical_type for i in range(3)]
    assert phys == ["INT32", "INT64", "FIXED_LEN_BYTE_ARRAY"]
    check(p)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.sampled_from(["A", "N", "R", "é", "", "xy", "long value here"])),
        min_size=1,
        max_size=300,
    ),
    widths=st.sampled_from(["one byte", "mixed"]),
)
def test_dictionary_strings_of_every_width_match_pyarrow(
    tmp_path_factory: pytest.TempPathFactory, values: list[str | None], widths: str
) -> None:
    """Dictionary-encoded strings decode by three paths (every entry one byte, entries of at
    most 16 bytes, longer ones), with and without nulls, across pages and row groups."""
    if widths == "one byte":
        values = [v if v is None or len(v.encode()) == 1 else "Z" for v in values]
    p = tmp_path_factory.mktemp("dictw") / "d.parquet"
    t = pa.table({"s": pa.array(values, pa.string())})
    pq.write_table(t, p, use_dictionary=True, row_group_size=128, data_page_size=64)
    got = mc.read_parquet(p, columns=["s"], threads=1)
    assert got.column("s").to_pylist() == values
