"""read_parquet(filter=...): exact rows (oracle: pyarrow.compute on the whole table) and pruning
proven by counters (row groups skipped by statistics)."""

from __future__ import annotations

import datetime
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError, SchemaError

N = 6000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    t = pa.table(
        {
            "id": pa.array(range(N), pa.int64()),
            "price": pa.array([(i * 37 % 1000) / 10 for i in range(N)]),
            "country": pa.array(
                [["DE", "FR", "US", "JP"][i % 4] if i % 11 else None for i in range(N)]
            ),
            "day": pa.array(
                [datetime.date(2024, 1, 1) + datetime.timedelta(days=i // 60) for i in range(N)]
            ),
            "qty": pa.array([None if i % 9 == 0 else i % 13 for i in range(N)], pa.int32()),
            "u": pa.array([i * 1_000_003 % 2**32 for i in range(N)], pa.uint32()),
        }
    )
    p = tmp_path_factory.mktemp("flt") / "f.parquet"
    mc.write_parquet(t, p, row_group_size=500)
    return t, p


def expr_of(col: str, op: str, v: object) -> pc.Expression:
    f = pc.field(col)
    return {
        "=": f == v,
        "!=": f != v,
        "<": f < v,
        "<=": f <= v,
        ">": f > v,
        ">=": f >= v,
    }[op]


OPS = ["=", "!=", "<", "<=", ">", ">="]


@settings(max_examples=60)
@given(
    op=st.sampled_from(OPS),
    v=st.integers(-10, N + 10),
    op2=st.sampled_from(OPS),
    p=st.floats(0, 100, allow_nan=False),
    countries=st.lists(st.sampled_from(["DE", "FR", "US", "JP", "XX"]), min_size=1, max_size=3),
    conj=st.sampled_from(["AND", "OR"]),
)
def test_filter_matches_pyarrow(
    data: tuple[pa.Table, Path],
    op: str,
    v: int,
    op2: str,
    p: float,
    countries: list[str],
    conj: str,
) -> None:
    t, path = data
    in_list = ", ".join(f"'{c}'" for c in countries)
    sql = f"id {op} {v} {conj} (price {op2} {p!r} OR country IN ({in_list}))"
    a = expr_of("id", op, v)
    b = expr_of("price", op2, p) | pc.field("country").isin(countries)
    want = t.filter(a & b if conj == "AND" else a | b)
    pf = mc.ParquetFile(path)
    got = pf.read(filter=sql)
    assert got.equals(want), sql
    assert pf.last_scan is not None and pf.last_scan.rows_matched == want.num_rows


def test_pruning_skips_row_groups(data: tuple[pa.Table, Path]) -> None:
    t, path = data
    pf = mc.ParquetFile(path)
    got = pf.read(filter="id >= 1000 AND id < 1500")
    assert got.equals(t.slice(1000, 500))
    assert pf.last_scan is not None
    assert pf.last_scan.row_groups_total == 12
    assert pf.last_scan.row_groups_skipped == 11  # only row group 2 (rows 1000..1499) is read
    assert pf.last_scan.rows_read == 500

    got = pf.read(filter=[("day", "<", datetime.date(2024, 1, 3))], columns=["id"])
    assert got.column("id").to_pylist() == list(range(120))
    assert pf.last_scan.row_groups_skipped == 11


def test_tuples_nulls_and_types(data: tuple[pa.Table, Path]) -> None:
    t, path = data
    pf = mc.ParquetFile(path)
    got = pf.read(filter=[("qty", "is null", None)])
    assert got.equals(t.filter(pc.field("qty").is_null()))
    got = pf.read(filter=[[("country", "=", "JP")], [("u", ">", 2**31)]])
    want = t.filter((pc.field("country") == "JP") | (pc.field("u") > 2**31))
    assert got.equals(want)
    got = pf.read(
        filter="country NOT IN ('DE', 'FR') AND day BETWEEN '2024-01-10' AND '2024-01-20'"
    )
    want = t.filter(
        ~pc.field("country").isin(["DE", "FR"])
        & pc.field("country").is_valid()  # SQL: NULL NOT IN (...) is unknown, not true
        & (pc.field("day") >= datetime.date(2024, 1, 10))
        & (pc.field("day") <= datetime.date(2024, 1, 20))
    )
    assert got.equals(want)
    batches = list(pf.iter_batches(batch_size=100, filter="id < 777"))
    assert sum(b.num_rows for b in batches) == 777
    assert max(b.num_rows for b in batches) <= 100


def test_bad_filters(data: tuple[pa.Table, Path]) -> None:
    _, path = data
    with pytest.raises(SchemaError, match="nope"):
        mc.read_parquet(path, filter="nope = 1")
    with pytest.raises(InvalidArgumentError):
        mc.read_parquet(path, filter="id = = 1")
    with pytest.raises(InvalidArgumentError):
        mc.read_parquet(path, filter=[("id", "~", 1)])


def test_page_index_skips_pages(data: tuple[pa.Table, Path], tmp_path: Path) -> None:
    t, _ = data
    p = tmp_path / "pages.parquet"
    meta = mc.write_parquet(t, p, row_group_size=N, data_page_size=512)
    assert meta.row_groups[0].columns[0].has_column_index
    pf = mc.ParquetFile(p)
    got = pf.read(filter="id >= 1000 AND id < 1100")
    assert got.equals(t.slice(1000, 100))
    s = pf.last_scan
    assert s is not None and s.row_groups_skipped == 0
    assert s.pages_skipped > 0  # pages of every column outside rows ~1000..1100 were not read
    assert s.rows_read < N // 4
    # same answer with pruning impossible (a filter on a column without useful page bounds)
    got = pf.read(filter="id >= 1000 AND id < 1100 AND price >= 0")
    assert got.equals(t.slice(1000, 100))


@settings(max_examples=30)
@given(lo=st.integers(0, N), width=st.integers(0, 800), page=st.sampled_from([128, 512, 4096]))
def test_page_selection_exact(
    tmp_path_factory: pytest.TempPathFactory,
    data: tuple[pa.Table, Path],
    lo: int,
    width: int,
    page: int,
) -> None:
    t, _ = data
    p = tmp_path_factory.mktemp("sel") / "s.parquet"
    mc.write_parquet(t, p, row_group_size=2500, data_page_size=page)
    got = mc.ParquetFile(p).read(
        filter=f"id >= {lo} AND id < {lo + width} OR qty = 3", columns=["id", "country"]
    )
    want = t.filter(
        ((pc.field("id") >= lo) & (pc.field("id") < lo + width)) | (pc.field("qty") == 3)
    )
    assert got.equals(want.select(["id", "country"]))


def test_bloom_filters_prune_equality(tmp_path: Path) -> None:
    n = 8000
    # even numbers only: odd values lie inside every row group's min/max but are absent
    t = pa.table(
        {
            "k": pa.array([i * 2 for i in range(n)]),
            "s": pa.array([f"user-{i * 2}" for i in range(n)]),
        }
    )
    p = tmp_path / "b.parquet"
    mc.write_parquet(t, p, row_group_size=1000, bloom_filter_columns=["k", "s"])
    pf = mc.ParquetFile(p)
    got = pf.read(filter="k = 2001 OR s IN ('user-3001', 'user-5001')")
    assert got.num_rows == 0
    assert pf.last_scan is not None
    assert pf.last_scan.row_groups_skipped == 8
    # min/max keeps the 3 row groups whose ranges hold 2001, 3001 and 5001; Bloom drops them
    assert pf.last_scan.row_groups_skipped_bloom == 3
    got = pf.read(filter="k = 2000")
    assert got.column("k").to_pylist() == [2000]
    assert pf.last_scan.row_groups_skipped == 7  # min/max prunes the other 7
    with pytest.raises(InvalidArgumentError):
        mc.write_parquet(t, tmp_path / "x.parquet", bloom_filter_columns=["nope"])


def test_reads_pyarrow_bloom_filters(tmp_path: Path) -> None:
    """Hashing and probing agree with pyarrow's writer: present values are always found,
    absent ones (inside every min/max range) are ruled out by the filters."""
    import pyarrow.parquet as pq

    n = 3000
    t = pa.table(
        {
            "k": pa.array(range(0, 2 * n, 2), pa.int64()),
            "s": pa.array([f"v{i:05d}" for i in range(0, 2 * n, 2)]),
        }
    )
    p = tmp_path / "pb.parquet"
    try:
        pq.write_table(
            t,
            p,
            row_group_size=1000,
            use_dictionary=False,  # the Bloom filters alone decide
            bloom_filter_options={"k": {"ndv": n, "fpp": 0.01}, "s": {"ndv": n, "fpp": 0.01}},
        )
    except TypeError:
        pytest.fail("pyarrow without bloom_filter_options: needs pyarrow >= 21")
    pf = mc.ParquetFile(p)
    for i in range(0, 2 * n, 74):
        assert pf.read(filter=[("k", "=", i)]).num_rows == 1
        assert pf.read(filter=[("s", "=", f"v{i:05d}")]).num_rows == 1
    skipped = 0
    for i in range(1, 2 * n, 30):
        assert pf.read(filter=[("k", "=", i)]).num_rows == 0
        assert pf.last_scan is not None
        skipped += pf.last_scan.row_groups_skipped_bloom
    assert skipped >= 90  # 100 probes at 1% false positives


def test_filter_with_nested_columns(tmp_path: Path) -> None:
    n = 3000
    t = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "tags": pa.array([None if i % 7 == 0 else [f"t{i % 5}"] * (i % 3) for i in range(n)]),
            "pt": pa.array(
                [{"x": i, "y": [i, None]} for i in range(n)],
                pa.struct([("x", pa.int32()), ("y", pa.list_(pa.int64()))]),
            ),
        }
    )
    p = tmp_path / "nf.parquet"
    mc.write_parquet(t, p, row_group_size=1000, data_page_size=256)
    pf = mc.ParquetFile(p)
    got = pf.read(filter="id >= 1500 AND id < 1620 OR id = 2999")
    want = t.filter(((pc.field("id") >= 1500) & (pc.field("id") < 1620)) | (pc.field("id") == 2999))
    assert got.equals(want)
    assert pf.last_scan is not None and pf.last_scan.pages_skipped > 0
