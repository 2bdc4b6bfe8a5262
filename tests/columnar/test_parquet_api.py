"""The public API of minide.columnar's Parquet part: inputs, options, metadata, inspect, errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import minide.columnar as mc
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minide.errors import InvalidArgumentError, MinideIOError, SchemaError


def table(n: int = 1000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "cat": pa.array([["a", "b", "c"][i % 3] for i in range(n)]),
            "x": pa.array([None if i % 5 == 0 else i * 0.25 for i in range(n)]),
        }
    )


def test_inputs_polars_duckdb_reader_batch(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"]})
    mc.write_parquet(df, tmp_path / "pl.parquet")
    assert pq.read_table(tmp_path / "pl.parquet").to_pylist() == df.to_dicts()
    assert mc.read_parquet(tmp_path / "pl.parquet").to_pylist() == df.to_dicts()

    rel = duckdb.sql("SELECT range AS i, range::VARCHAR AS s FROM range(50)")
    mc.write_parquet(rel, tmp_path / "dk.parquet")
    assert mc.read_parquet(tmp_path / "dk.parquet").column("i").to_pylist() == list(range(50))

    t = table()
    mc.write_parquet(t.to_reader(max_chunksize=77), tmp_path / "r.parquet", row_group_size=300)
    assert mc.read_parquet(tmp_path / "r.parquet").equals(t)
    mc.write_parquet(t.to_batches()[0], tmp_path / "b.parquet")
    assert mc.read_parquet(tmp_path / "b.parquet").equals(t)
    with pytest.raises(InvalidArgumentError, match="__arrow_c_stream__"):
        mc.write_parquet([1, 2, 3], tmp_path / "x.parquet")


def test_metadata(tmp_path: Path) -> None:
    t = table()
    meta = mc.write_parquet(t, tmp_path / "m.parquet", compression="snappy", row_group_size=400)
    assert meta.num_rows == 1000 and meta.num_row_groups == 3 and meta.num_columns == 3
    assert [g.num_rows for g in meta.row_groups] == [400, 400, 200]
    c = meta.column(0, "cat")
    assert c.codec == "SNAPPY" and c.physical_type == "BYTE_ARRAY"
    assert "RLE_DICTIONARY" in c.encodings
    assert c.statistics is not None and (c.statistics.min, c.statistics.max) == ("a", "c")
    assert meta.column(0, "x").statistics.null_count == 80  # type: ignore[union-attr]
    assert c.has_column_index and c.has_offset_index
    assert meta.created_by and meta.created_by.startswith("minide")
    assert "ARROW:schema" in meta.key_value_metadata
    # pyarrow sees the same layout
    pmeta = pq.ParquetFile(tmp_path / "m.parquet").metadata
    assert pmeta.num_row_groups == 3
    assert pmeta.row_group(0).column(1).compression == "SNAPPY"
    pf = mc.ParquetFile(tmp_path / "m.parquet")
    assert pf.schema == t.schema
    assert pf.num_rows == 1000 and pf.num_row_groups == 3


def test_options(tmp_path: Path) -> None:
    t = table()
    for codec in ("none", "snappy", "gzip", "zstd", "lz4"):
        meta = mc.write_parquet(t, tmp_path / f"{codec}.parquet", compression=codec)
        want = {"none": "UNCOMPRESSED", "lz4": "LZ4_RAW"}.get(codec, codec.upper())
        assert meta.row_groups[0].columns[0].codec == want
    meta = mc.write_parquet(t, tmp_path / "z9.parquet", compression="zstd", compression_level=9)
    assert pq.read_table(tmp_path / "z9.parquet").equals(t)
    meta = mc.write_parquet(
        t, tmp_path / "nd.parquet", dictionary=False, statistics=False, page_index=False
    )
    c = meta.row_groups[0].columns[1]
    assert "RLE_DICTIONARY" not in c.encodings and c.statistics is None and not c.has_column_index
    meta = mc.write_parquet(t, tmp_path / "v2.parquet", data_page_version="2.0", threads=1)
    assert pq.read_table(tmp_path / "v2.parquet").equals(t)
    with pytest.raises(InvalidArgumentError):
        mc.write_parquet(t, tmp_path / "x.parquet", compression="lzo")
    with pytest.raises(InvalidArgumentError):
        mc.write_parquet(t, tmp_path / "x.parquet", compression="snappy", compression_level=3)
    with pytest.raises(InvalidArgumentError):
        mc.write_parquet(t, tmp_path / "x.parquet", data_page_version="3.0")
    with pytest.raises(InvalidArgumentError):
        mc.write_parquet(t, tmp_path / "x.parquet", row_group_size=0)


def test_iter_batches_and_projection(tmp_path: Path) -> None:
    t = table()
    mc.write_parquet(t, tmp_path / "i.parquet", row_group_size=300)
    pf = mc.ParquetFile(tmp_path / "i.parquet")
    batches = list(pf.iter_batches(batch_size=128, columns=["x", "id"]))
    assert all(b.num_rows <= 128 for b in batches)
    assert pa.Table.from_batches(batches).equals(t.select(["x", "id"]))
    with pytest.raises(SchemaError):
        pf.read(columns=["missing"])


def test_inspect(tmp_path: Path) -> None:
    mc.write_parquet(table(), tmp_path / "s.parquet", row_group_size=600, data_page_size=1024)
    text = mc.inspect(tmp_path / "s.parquet")
    assert "row group 0: 600 rows" in text and "row group 1: 400 rows" in text
    assert "DICTIONARY_PAGE" in text and "DATA_PAGE" in text and "crc" in text
    assert 'column "cat"' in text and 'min="a"' in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MinideIOError, match=r"nope\.parquet"):
        mc.read_parquet(tmp_path / "nope.parquet")


@pytest.mark.parametrize("data_page_version", ["1.0", "2.0"])
@pytest.mark.parametrize("compression", ["zstd", "snappy", "lz4", "none"])
def test_polars_reads_minide_files(
    tmp_path: Path, data_page_version: str, compression: str
) -> None:
    t = table(3000).append_column("tags", pa.array([[i % 3] * (i % 4) for i in range(3000)]))
    p = tmp_path / "p.parquet"
    mc.write_parquet(
        t, p, compression=compression, data_page_version=data_page_version, row_group_size=700
    )
    got = pl.read_parquet(p)
    assert got.to_dicts() == pl.from_arrow(t).to_dicts()  # type: ignore[union-attr]
