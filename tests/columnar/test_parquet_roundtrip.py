"""Round trips through minide's Parquet writer, checked by independent readers.

Oracles: pyarrow.parquet reads what minide writes (exact types via ARROW:schema), DuckDB reads the
same values, and minide's reader returns what pyarrow returns for the same file.
"""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import duckdb
import minide.columnar as mc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

INT_TYPES = {
    "int8": (pa.int8(), -(2**7), 2**7 - 1),
    "int16": (pa.int16(), -(2**15), 2**15 - 1),
    "int32": (pa.int32(), -(2**31), 2**31 - 1),
    "int64": (pa.int64(), -(2**63), 2**63 - 1),
    "uint8": (pa.uint8(), 0, 2**8 - 1),
    "uint16": (pa.uint16(), 0, 2**16 - 1),
    "uint32": (pa.uint32(), 0, 2**32 - 1),
    "uint64": (pa.uint64(), 0, 2**64 - 1),
}


def _column(draw: st.DrawFn, kind: str, n: int) -> pa.Array:
    def vals(strategy: st.SearchStrategy) -> list:
        return draw(st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n))

    if kind in INT_TYPES:
        t, lo, hi = INT_TYPES[kind]
        # Small ranges too, so dictionaries, runs and sorted (delta) pages all happen.
        width = draw(st.sampled_from([3, 1000, None]))
        if width is not None:
            hi = min(hi, lo + width) if lo >= 0 else min(hi, width)
        return pa.array(vals(st.integers(lo, hi)), t)
    if kind == "sorted_int64":
        xs = sorted(draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)))
        return pa.array(xs, pa.int64())
    if kind == "bool":
        return pa.array(vals(st.booleans()), pa.bool_())
    if kind == "float32":
        return pa.array(vals(st.floats(width=32, allow_nan=False)), pa.float32())
    if kind == "float64":
        return pa.array(vals(st.floats(allow_nan=False)), pa.float64())
    if kind in ("string", "large_string"):
        alphabet = st.sampled_from(["a", "b", "é", "日", "\x00", "z"])
        long = st.text(alphabet, min_size=0, max_size=3000)
        s = st.one_of(st.text(alphabet, max_size=4), long)
        return pa.array(vals(s), pa.string() if kind == "string" else pa.large_string())
    if kind == "binary":
        return pa.array(vals(st.binary(max_size=20)), pa.binary())
    if kind == "date32":
        return pa.array(vals(st.dates()), pa.date32())
    if kind.startswith("ts_"):
        unit, tz = kind[3:].split("_") if kind.count("_") == 2 else (kind[3:], None)
        return pa.array(vals(st.integers(-(2**40), 2**40)), pa.timestamp(unit, tz))
    if kind == "time64":
        return pa.array(vals(st.integers(0, 86_400 * 10**6 - 1)), pa.time64("us"))
    if kind == "decimal":
        d = st.decimals(min_value=-(10**8), max_value=10**8, places=2, allow_nan=False)
        return pa.array(vals(d), pa.decimal128(12, 2))
    if kind == "dict_string":
        return pa.array(vals(st.sampled_from(["x", "yy", "zzz"])), pa.string()).dictionary_encode()
    raise AssertionError(kind)


KINDS = [
    *INT_TYPES,
    "sorted_int64",
    "bool",
    "float32",
    "float64",
    "string",
    "large_string",
    "binary",
    "date32",
    "ts_s",
    "ts_ms_UTC",
    "ts_us_Europe/Berlin",
    "ts_ns",
    "time64",
    "decimal",
    "dict_string",
]


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.sampled_from([0, 1, 7, 100, 700]))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5, unique=True))
    cols = {k.replace("/", "_"): _column(draw, k, n) for k in kinds}
    return pa.table(cols)


def same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.equals(b.schema), (a.schema, b.schema)
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_dictionary(x.type):
            x, y = x.cast(x.type.value_type), y.cast(y.type.value_type)
        assert x.combine_chunks().equals(y.combine_chunks()), name


def pyarrow_expected(table: pa.Table, tmp: Path) -> pa.Table:
    """What pyarrow itself reads back after writing `table` (timestamp[s] becomes [ms])."""
    p = tmp / "ref.parquet"
    pq.write_table(table, p)
    return pq.read_table(p)


OPTIONS = st.fixed_dictionaries(
    {
        "compression": st.sampled_from(["none", "snappy", "zstd", "gzip", "lz4"]),
        "dictionary": st.booleans(),
        "data_page_version": st.sampled_from(["1.0", "2.0"]),
        "row_group_size": st.sampled_from([1, 50, 1_048_576]),
        "data_page_size": st.sampled_from([64, 1 << 20]),
    }
)


@settings(max_examples=60)
@given(table=tables(), opts=OPTIONS)
def test_roundtrip_pyarrow_reads_what_minide_writes(
    tmp_path_factory: pytest.TempPathFactory, table: pa.Table, opts: dict
) -> None:
    tmp = tmp_path_factory.mktemp("rt")
    path = tmp / "m.parquet"
    meta = mc.write_parquet(table, path, **opts)
    assert meta.num_rows == table.num_rows
    expected = pyarrow_expected(table, tmp)
    same(pq.read_table(path), expected)
    same(mc.read_parquet(path), expected)


def _duck_values(path: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


@settings(max_examples=25)
@given(table=tables(), compression=st.sampled_from(["snappy", "zstd", "none"]))
def test_duckdb_reads_the_same_values(
    tmp_path_factory: pytest.TempPathFactory, table: pa.Table, compression: str
) -> None:
    tmp = tmp_path_factory.mktemp("duck")
    mine, ref = tmp / "m.parquet", tmp / "r.parquet"
    mc.write_parquet(table, mine, compression=compression, row_group_size=64)
    pq.write_table(table, ref, compression=compression)
    assert _duck_values(mine) == _duck_values(ref)


def test_every_type_with_nulls(tmp_path: Path) -> None:
    t = pa.table(
        {
            "i8": pa.array([1, None, -128], pa.int8()),
            "u64": pa.array([0, 2**64 - 1, None], pa.uint64()),
            "f": pa.array([0.0, -0.0, None], pa.float64()),
            "s": pa.array(["", None, "ü" * 5000]),
            "d": pa.array([datetime.date(1970, 1, 1), None, datetime.date(2999, 12, 31)]),
            "ts": pa.array([0, None, -1], pa.timestamp("us", "America/New_York")),
            "dec": pa.array(
                [decimal.Decimal("-0.01"), None, decimal.Decimal("99999999.99")],
                pa.decimal128(10, 2),
            ),
            "all_null": pa.array([None, None, None], pa.int32()),
        }
    )
    mc.write_parquet(t, tmp_path / "x.parquet")
    same(pq.read_table(tmp_path / "x.parquet"), t)
    same(mc.read_parquet(tmp_path / "x.parquet"), t)


def test_statistics_are_exact(tmp_path: Path) -> None:
    t = pa.table(
        {
            "u": pa.array([1, 2**32 - 1, 7], pa.uint32()),
            "s": pa.array(["b", "\xff", "a", None]).slice(0, 3),
            "f": pa.array([float("nan"), 2.0, -3.5]),
            "i": pa.array([5, None, -9], pa.int64()),
        }
    )
    meta = mc.write_parquet(t, tmp_path / "s.parquet")
    cols = {c.path: c.statistics for c in meta.row_groups[0].columns}
    assert (cols["u"].min, cols["u"].max) == (1, 2**32 - 1)  # unsigned order
    assert (cols["s"].min, cols["s"].max) == ("a", "\xff")  # bytewise order
    assert (cols["f"].min, cols["f"].max) == (-3.5, 2.0)  # NaN ignored
    assert (cols["i"].min, cols["i"].max, cols["i"].null_count) == (-9, 5, 1)
    # pyarrow agrees with the statistics minide wrote
    pstats = pq.ParquetFile(tmp_path / "s.parquet").metadata.row_group(0)
    assert pstats.column(0).statistics.max == 2**32 - 1
    assert pstats.column(3).statistics.min == -9


def test_dictionary_falls_back_to_plain_when_too_big(tmp_path: Path) -> None:
    n = 200_000
    t = pa.table({"s": pa.array([f"value-{i:012d}-{'x' * 20}" for i in range(n)])})
    meta = mc.write_parquet(t, tmp_path / "f.parquet")
    encs = meta.row_groups[0].columns[0].encodings
    assert "RLE_DICTIONARY" in encs and "PLAIN" in encs
    assert pq.read_table(tmp_path / "f.parquet").equals(t)
    assert mc.read_parquet(tmp_path / "f.parquet").equals(t)


def test_sorted_ints_use_delta(tmp_path: Path) -> None:
    t = pa.table({"id": pa.array(range(100_000), pa.int64())})
    meta = mc.write_parquet(t, tmp_path / "d.parquet")
    assert "DELTA_BINARY_PACKED" in meta.row_groups[0].columns[0].encodings
    assert meta.row_groups[0].columns[0].total_compressed_size < 20_000
    assert pq.read_table(tmp_path / "d.parquet").equals(t)


NESTED_TYPES = {
    "struct": pa.struct([("a", pa.int64()), ("b", pa.string())]),
    "list": pa.list_(pa.int32()),
    "large_list": pa.large_list(pa.string()),
    "map": pa.map_(pa.string(), pa.int64()),
    "deep": pa.list_(pa.struct([("x", pa.list_(pa.int64())), ("y", pa.bool_())])),
    "struct_of_list": pa.struct([("tags", pa.list_(pa.string())), ("n", pa.int16())]),
}


def _nested_value(draw: st.DrawFn, t: pa.DataType, depth: int = 0) -> object:
    if draw(st.integers(0, 4)) == 0:
        return None
    if pa.types.is_struct(t):
        return {
            t.field(i).name: _nested_value(draw, t.field(i).type, depth + 1)
            for i in range(t.num_fields)
        }
    if pa.types.is_map(t):
        keys = draw(st.lists(st.text("abc", max_size=3), max_size=3, unique=True))
        return [(k, draw(st.one_of(st.none(), st.integers(-5, 5)))) for k in keys]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [
            _nested_value(draw, t.value_type, depth + 1) for _ in range(draw(st.integers(0, 3)))
        ]
    if pa.types.is_string(t):
        return draw(st.text("xyz", max_size=4))
    if pa.types.is_boolean(t):
        return draw(st.booleans())
    return draw(st.integers(-100, 100))


@st.composite
def nested_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.sampled_from([0, 1, 5, 40]))
    names = draw(
        st.lists(st.sampled_from(sorted(NESTED_TYPES)), min_size=1, max_size=3, unique=True)
    )
    cols = {
        name: pa.array(
            [_nested_value(draw, NESTED_TYPES[name]) for _ in range(n)], NESTED_TYPES[name]
        )
        for name in names
    }
    cols["flat"] = pa.array(range(n), pa.int64())
    return pa.table(cols)


@settings(max_examples=40)
@given(table=nested_tables(), opts=OPTIONS)
def test_nested_roundtrip(
    tmp_path_factory: pytest.TempPathFactory, table: pa.Table, opts: dict
) -> None:
    tmp = tmp_path_factory.mktemp("nested")
    path = tmp / "n.parquet"
    mc.write_parquet(table, path, **opts)
    expected = pyarrow_expected(table, tmp)
    same(pq.read_table(path), expected)
    same(mc.read_parquet(path), expected)
    # minide reads pyarrow's nested files as pyarrow does
    same(mc.read_parquet(tmp / "ref.parquet"), expected)


@settings(max_examples=40)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=300),
    strings=st.lists(
        st.one_of(st.none(), st.text("aZé\x00", max_size=5)), min_size=1, max_size=300
    ),
    page=st.sampled_from([16, 64, 1 << 20]),
)
def test_chunk_statistics_exact(
    tmp_path_factory: pytest.TempPathFactory, values: list, strings: list, page: int
) -> None:
    """Chunk min/max (folded from per-page bounds) equal the true extremes of every row group."""
    n = min(len(values), len(strings))
    t = pa.table({"i": pa.array(values[:n], pa.int64()), "s": pa.array(strings[:n], pa.string())})
    p = tmp_path_factory.mktemp("stats") / "s.parquet"
    meta = mc.write_parquet(t, p, row_group_size=50, data_page_size=page)
    start = 0
    for rg in meta.row_groups:
        part = t.slice(start, rg.num_rows)
        start += rg.num_rows
        for c in rg.columns:
            col = [v for v in part.column(c.path).to_pylist() if v is not None]
            assert c.statistics is not None
            assert c.statistics.null_count == rg.num_rows - len(col)
            if not col:
                continue
            if c.path == "s":
                enc = [v.encode() for v in col]  # Parquet orders strings by unsigned bytes
                assert (c.statistics.min.encode(), c.statistics.max.encode()) == (
                    min(enc),
                    max(enc),
                )
            else:
                assert (c.statistics.min, c.statistics.max) == (min(col), max(col))
