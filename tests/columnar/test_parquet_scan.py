"""ParquetFile.scan: late-materializing filtered scans, checked against pyarrow (the oracle reads
the same file and filters with pyarrow.compute). Files come from minide's writer and pyarrow's,
with dictionary and plain pages, required and nullable columns, so both the dictionary row
gather and the decode-then-cut path run."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError, SchemaError

N = 3000
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("k", pa.int32(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("amount", pa.decimal128(15, 2), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("tag", pa.string(), nullable=False),
        # Many distinct values of 1..50 bytes: dictionary pages that overflow and fall back to
        # PLAIN pages mid-chunk in the pyarrow_fallback file.
        pa.field("note", pa.string(), nullable=False),
        pa.field("maybe", pa.int64(), nullable=True),
    ]
)


def _table(seed: int) -> pa.Table:
    rows = range(N)
    return pa.table(
        {
            "id": [i for i in rows],
            "k": [(i * 7 + seed) % 23 for i in rows],
            "price": [((i * 37 + seed) % 1000) / 10 for i in rows],
            "amount": [Decimal((i * 13 + seed) % 997) / 100 for i in rows],
            "day": [
                datetime.date(2024, 1, 1) + datetime.timedelta(days=(i * 5) % 400) for i in rows
            ],
            "tag": [["a", "bb", "ccc", "dddd"][(i + seed) % 4] for i in rows],
            "note": [f"n{(i * 31 + seed) % 1500}" + "x" * (i % 45) for i in rows],
            "maybe": [None if (i + seed) % 5 == 0 else i % 17 for i in rows],
        },
        schema=SCHEMA,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[pa.Table, Path]]:
    d = tmp_path_factory.mktemp("scan")
    out = {}
    t = _table(3)
    p = d / "minide.parquet"
    mc.write_parquet(t, p, row_group_size=700, data_page_size=2048)
    out["minide"] = (t, p)
    p = d / "minide_plain.parquet"
    mc.write_parquet(t, p, row_group_size=1000, dictionary=False, compression="snappy")
    out["minide_plain"] = (t, p)
    p = d / "pyarrow.parquet"
    pq.write_table(
        t,
        p,
        row_group_size=800,
        data_page_size=1024,
        compression="snappy",
        store_decimal_as_integer=True,
    )
    out["pyarrow"] = (t, p)
    p = d / "pyarrow_fallback.parquet"
    pq.write_table(t, p, row_group_size=1500, data_page_size=512, dictionary_pagesize_limit=2048)
    out["pyarrow_fallback"] = (t, p)
    return out


OPS = ["=", "!=", "<", "<=", ">", ">="]


def _cmp(col: str, op: str, v: object) -> pc.Expression:
    f = pc.field(col)
    return {"=": f == v, "!=": f != v, "<": f < v, "<=": f <= v, ">": f > v, ">=": f >= v}[op]


terms = st.one_of(
    st.tuples(st.just("id"), st.sampled_from(OPS), st.integers(-5, N + 5)),
    st.tuples(st.just("k"), st.sampled_from(OPS), st.integers(-1, 24)),
    st.tuples(st.just("price"), st.sampled_from(OPS), st.floats(-1, 101, allow_nan=False)),
    st.tuples(st.just("amount"), st.sampled_from(OPS), st.integers(0, 1000).map(lambda c: c / 100)),
    st.tuples(st.just("day"), st.sampled_from(OPS), st.integers(0, 400)),
    st.tuples(st.just("tag"), st.sampled_from(OPS), st.sampled_from(["a", "bb", "c", "zz"])),
    st.tuples(st.just("maybe"), st.sampled_from(OPS), st.integers(-1, 18)),
    st.tuples(st.just("note"), st.sampled_from(OPS), st.sampled_from(["n1", "n7xx", "n99", "o"])),
)


def _sql_and_expr(term: tuple[str, str, object]) -> tuple[str, pc.Expression]:
    col, op, v = term
    if col == "day":
        d = datetime.date(2024, 1, 1) + datetime.timedelta(days=int(v))  # type: ignore[call-overload]
        return f"{col} {op} '{d.isoformat()}'", _cmp(col, op, d)
    if col in ("tag", "note"):
        return f"{col} {op} '{v}'", _cmp(col, op, v)
    if col == "amount":
        return f"{col} {op} {v!r}", _cmp(col, op, pa.scalar(Decimal(repr(v)), pa.decimal128(15, 2)))
    return f"{col} {op} {v!r}", _cmp(col, op, v)


@settings(max_examples=80)
@given(
    source=st.sampled_from(["minide", "minide_plain", "pyarrow", "pyarrow_fallback"]),
    a=terms,
    b=terms,
    c=terms,
    shape=st.sampled_from(["a AND b", "a OR b", "a AND (b OR c)", "(a AND b) OR c", "a"]),
    columns=st.one_of(
        st.none(),
        st.lists(st.sampled_from(SCHEMA.names), min_size=1, max_size=4, unique=True),
    ),
    batch_rows=st.sampled_from([None, 1, 500, 65_536]),
    threads=st.sampled_from([1, 2]),
)
def test_scan_matches_pyarrow(
    files: dict[str, tuple[pa.Table, Path]],
    source: str,
    a: tuple[str, str, object],
    b: tuple[str, str, object],
    c: tuple[str, str, object],
    shape: str,
    columns: list[str] | None,
    batch_rows: int | None,
    threads: int,
) -> None:
    _, path = files[source]
    (sa, ea), (sb, eb), (sc, ec) = (_sql_and_expr(x) for x in (a, b, c))
    sql, expr = {
        "a AND b": (f"{sa} AND {sb}", ea & eb),
        "a OR b": (f"{sa} OR {sb}", ea | eb),
        "a AND (b OR c)": (f"{sa} AND ({sb} OR {sc})", ea & (eb | ec)),
        "(a AND b) OR c": (f"({sa} AND {sb}) OR {sc}", (ea & eb) | ec),
        "a": (sa, ea),
    }[shape]
    want = pq.read_table(path).filter(expr)
    if columns is not None:
        want = want.select(columns)
    pf = mc.ParquetFile(path)
    batches = list(pf.scan(columns, filter=sql, batch_rows=batch_rows, threads=threads))
    if batch_rows is not None:
        assert all(0 < b.num_rows <= batch_rows for b in batches)
    got = pa.Table.from_batches(batches, schema=pf.scan_schema(columns))
    assert got.equals(want.cast(got.schema)), sql
    assert pf.last_scan is not None and pf.last_scan.rows_matched == want.num_rows

    # exact=False: a superset of the matching rows, in file order, that filters to the same.
    loose = pa.Table.from_batches(
        list(pf.scan(filter=sql, exact=False, threads=threads)), schema=pf.scan_schema()
    )
    full = pq.read_table(path)
    assert loose.filter(expr).equals(full.filter(expr).cast(loose.schema)), sql
    ids = loose.column("id").to_pylist()
    assert ids == sorted(ids) and set(ids) <= set(full.column("id").to_pylist())


def test_scan_without_filter_and_decimals_as_float(
    files: dict[str, tuple[pa.Table, Path]],
) -> None:
    t, path = files["pyarrow"]
    pf = mc.ParquetFile(path)
    got = pa.Table.from_batches(list(pf.scan()), schema=pf.scan_schema())
    assert got.equals(pq.read_table(path).cast(got.schema))
    assert pf.last_scan is not None and pf.last_scan.rows_read == N

    fl = pa.Table.from_batches(
        list(pf.scan(["amount", "id"], filter="amount < 2.5", decimals_as_float=True)),
        schema=pf.scan_schema(["amount", "id"], decimals_as_float=True),
    )
    assert fl.schema.field("amount").type == pa.float64()
    want = t.filter(pc.field("amount") < pa.scalar(Decimal("2.5"), pa.decimal128(15, 2)))
    assert fl.column("id").to_pylist() == want.column("id").to_pylist()
    assert fl.column("amount").to_pylist() == [float(x) for x in want.column("amount").to_pylist()]


def test_scan_prunes_row_groups(files: dict[str, tuple[pa.Table, Path]]) -> None:
    t, path = files["minide"]
    pf = mc.ParquetFile(path)
    got = pa.Table.from_batches(list(pf.scan(["id"], filter="id >= 1400 AND id < 1500")))
    assert got.column("id").to_pylist() == list(range(1400, 1500))
    s = pf.last_scan
    assert s is not None
    assert s.row_groups_total == 5 and s.row_groups_skipped == 4  # rows 1400..2099 only
    assert s.rows_read == 700 and s.rows_matched == 100
    assert not pf.skips_pages("id >= 1400 AND id < 1500")  # whole row groups: no page skipped
    p = path.with_name("one_group.parquet")
    mc.write_parquet(t, p, row_group_size=N, data_page_size=512)
    one = mc.ParquetFile(p)
    assert one.skips_pages("id >= 1400 AND id < 1500")  # small pages: the page index helps
    assert not one.skips_pages("k < 5")


def test_scan_bad_arguments(files: dict[str, tuple[pa.Table, Path]]) -> None:
    _, path = files["minide"]
    pf = mc.ParquetFile(path)
    with pytest.raises(InvalidArgumentError):
        next(pf.scan(batch_rows=0))
    with pytest.raises(SchemaError):
        list(pf.scan(["nope"]))
