"""The scan core (rust/columnar/src/scan) from Python: filtered reads against pyarrow as the
oracle (random tables written by pyarrow and by minide, random predicates as text and as
tuples), pruning counters that must move, datasets against pyarrow.dataset, and the
ARROW:schema hint giving pyarrow's types.

NaN is left out of the random floats: SQL compares NaN as unknown, pyarrow as unequal."""

from __future__ import annotations

import datetime
import decimal
import tempfile
from pathlib import Path
from typing import Any

import minide.columnar as mc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError, SchemaError

D0 = datetime.date(2024, 1, 1)
T0 = datetime.datetime(2024, 1, 1)
TYPES = {
    "i": pa.int64(),
    "j": pa.int32(),
    "f": pa.float64(),
    "s": pa.string(),
    "d": pa.date32(),
    "ts": pa.timestamp("us"),
    "dec": pa.decimal128(9, 2),
    "b": pa.bool_(),
}


def _value(col: str) -> st.SearchStrategy[Any]:
    return {
        "i": st.integers(-50, 50),
        "j": st.integers(-50, 50),
        "f": st.integers(-200, 200).map(lambda x: x / 4),
        "s": st.sampled_from(["", "a", "ab", "b", "ba", "c", "é", "zz"]),
        "d": st.integers(0, 60).map(lambda k: D0 + datetime.timedelta(days=k)),
        "ts": st.integers(0, 10_000).map(lambda k: T0 + datetime.timedelta(seconds=k * 37)),
        "dec": st.integers(-5000, 5000).map(lambda k: decimal.Decimal(k).scaleb(-2)),
        "b": st.booleans(),
    }[col]


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 300))
    cols = {}
    for c, t in TYPES.items():
        nulls = draw(st.booleans())
        vals = draw(
            st.lists(_value(c) | (st.none() if nulls else st.nothing()), min_size=n, max_size=n)
        )
        if draw(st.booleans()) and c in ("i", "s", "d"):
            vals = sorted(vals, key=lambda v: (v is None, v))  # sorted columns prune well
        cols[c] = pa.array(vals, t)
    return pa.table(cols)


def _literal(col: str) -> st.SearchStrategy[Any]:
    """Literals for `col`, including other numeric types (exact comparison)."""
    base = _value(col)
    if col in ("i", "j"):
        return base | st.integers(-100, 100).map(lambda x: x / 2)  # int column vs 2.5
    if col == "dec":
        return (
            base
            | st.integers(-60, 60)
            | st.integers(-5000, 5000).map(lambda k: decimal.Decimal(k).scaleb(-3))
        )
    return base


@st.composite
def leaves(draw: st.DrawFn) -> tuple[Any, ...]:
    col = draw(st.sampled_from(sorted(TYPES)))
    kind = draw(st.sampled_from(["cmp", "cmp", "cmp", "in", "isnull", "between"]))
    if col == "b" and kind in ("between",):
        kind = "cmp"
    if kind == "cmp":
        ops = ["=", "!="] if col == "b" else ["=", "!=", "<", "<=", ">", ">="]
        return ("cmp", col, draw(st.sampled_from(ops)), draw(_literal(col)))
    if kind == "in":
        vals = draw(st.lists(_value(col), min_size=1, max_size=4))
        return ("in", col, vals, draw(st.booleans()))
    if kind == "isnull":
        return ("isnull", col, draw(st.booleans()))
    lo, hi = sorted([draw(_value(col)), draw(_value(col))])
    return ("between", col, lo, hi, draw(st.booleans()))


def predicates() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.recursive(
        leaves(),
        lambda sub: (
            st.tuples(st.sampled_from(["and", "or"]), sub, sub) | st.tuples(st.just("not"), sub)
        ),
        max_leaves=5,
    )


def _pa_scalar(col: str, v: Any) -> pa.Scalar:
    if isinstance(v, float) and col in ("i", "j"):
        return pa.scalar(v, pa.float64())
    if isinstance(v, int) and not isinstance(v, bool) and col == "dec":
        return pa.scalar(decimal.Decimal(v), pa.decimal128(12, 0))
    if isinstance(v, decimal.Decimal):
        return pa.scalar(v, pa.decimal128(12, max(0, -v.as_tuple().exponent)))
    return pa.scalar(v, TYPES[col])


def oracle(p: tuple[Any, ...]) -> pc.Expression:
    """pyarrow's expression with SQL's three-valued logic (Kleene AND/OR; IN as ORed equalities)."""
    k = p[0]
    if k == "and":
        return oracle(p[1]) & oracle(p[2])
    if k == "or":
        return oracle(p[1]) | oracle(p[2])
    if k == "not":
        return ~oracle(p[1])
    f = pc.field(p[1])
    if k == "isnull":
        return ~f.is_null() if p[2] else f.is_null()
    if k == "in":
        e = f == _pa_scalar(p[1], p[2][0])
        for v in p[2][1:]:
            e = e | (f == _pa_scalar(p[1], v))
        return ~e if p[3] else e
    if k == "between":
        e = (f >= _pa_scalar(p[1], p[2])) & (f <= _pa_scalar(p[1], p[3]))
        return ~e if p[4] else e
    op = {
        "=": "equal",
        "!=": "not_equal",
        "<": "less",
        "<=": "less_equal",
        ">": "greater",
        ">=": "greater_equal",
    }[p[2]]
    return pc.Expression._call(op, [f, _pa_scalar(p[1], p[3])])


def _sql_lit(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, datetime.datetime):
        return f"TIMESTAMP '{v.isoformat(sep=' ')}'"
    if isinstance(v, datetime.date):
        return f"DATE '{v.isoformat()}'"
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    return repr(v)


def to_sql(p: tuple[Any, ...]) -> str:
    k = p[0]
    if k in ("and", "or"):
        return f"({to_sql(p[1])} {k.upper()} {to_sql(p[2])})"
    if k == "not":
        return f"NOT ({to_sql(p[1])})"
    col = f'"{p[1]}"'
    if k == "isnull":
        return f"{col} IS {'NOT ' if p[2] else ''}NULL"
    if k == "in":
        return f"{col} {'NOT ' if p[3] else ''}IN ({', '.join(_sql_lit(v) for v in p[2])})"
    if k == "between":
        return f"{col} {'NOT ' if p[4] else ''}BETWEEN {_sql_lit(p[2])} AND {_sql_lit(p[3])}"
    return f"{col} {p[2]} {_sql_lit(p[3])}"


def _write(t: pa.Table, path: Path, writer: str, rg: int) -> None:
    if writer == "pyarrow":
        pq.write_table(t, path, row_group_size=rg, data_page_size=256, write_page_index=True)
    else:
        mc.write_parquet(
            t, path, row_group_size=rg, data_page_size=256, bloom_filter_columns=["s", "i"]
        )


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    t=tables(),
    p=predicates(),
    writer=st.sampled_from(["pyarrow", "minide"]),
    rg=st.sampled_from([7, 64, 1000]),
)
def test_text_filters_match_pyarrow(t: pa.Table, p: tuple[Any, ...], writer: str, rg: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.parquet"
        _write(t, path, writer, rg)
        want = pq.read_table(path).filter(oracle(p))
        got = mc.read_parquet(path, filter=to_sql(p), threads=2)
        assert got.schema.types == want.schema.types
        assert got.to_pylist() == want.to_pylist(), to_sql(p)


def _leaf_tuple(p: tuple[Any, ...]) -> tuple[Any, ...]:
    k = p[0]
    if k == "cmp":
        return (p[1], p[2], p[3])
    if k == "in":
        return (p[1], "not in" if p[3] else "in", p[2])
    if k == "isnull":
        return (p[1], "is not" if p[2] else "is", None)
    raise AssertionError(k)


tuple_leaves = leaves().filter(lambda p: p[0] != "between")


@SETTINGS
@given(
    t=tables(),
    dnf=st.lists(st.lists(tuple_leaves, min_size=1, max_size=3), min_size=1, max_size=3),
    writer=st.sampled_from(["pyarrow", "minide"]),
)
def test_tuple_filters_match_pyarrow(
    t: pa.Table, dnf: list[list[tuple[Any, ...]]], writer: str
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.parquet"
        _write(t, path, writer, 50)
        expr = None
        for conj in dnf:
            e = oracle(conj[0])
            for x in conj[1:]:
                e = e & oracle(x)
            expr = e if expr is None else expr | e
        want = pq.read_table(path).filter(expr)
        filt: Any = [[_leaf_tuple(x) for x in conj] for conj in dnf]
        if len(filt) == 1:
            filt = filt[0]
        got = mc.read_parquet(path, filter=filt, threads=1)
        assert got.to_pylist() == want.to_pylist(), filt


@SETTINGS
@given(t=tables(), p=predicates(), limit=st.integers(0, 50), batch=st.integers(1, 40))
def test_scan_stream_limit_and_batches(
    t: pa.Table, p: tuple[Any, ...], limit: int, batch: int
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.parquet"
        _write(t, path, "minide", 30)
        want = pq.read_table(path).filter(oracle(p)).slice(0, limit)
        pf = mc.ParquetFile(path)
        batches = list(pf.scan(filter=to_sql(p), batch_rows=batch, limit=limit, threads=2))
        assert all(0 < b.num_rows <= batch for b in batches)
        got = pa.Table.from_batches(batches, schema=pf.scan_schema())
        assert got.to_pylist() == want.to_pylist()


# ---- pruning must happen ------------------------------------------------------------------------


def _sorted_table(n: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": pa.array([f"user-{(i % 500) * 2:04d}" for i in range(n)]),
            "v": pa.array([i * 0.5 for i in range(n)]),
        }
    )


def test_statistics_and_page_index_prune(tmp_path: Path) -> None:
    t = _sorted_table(20_000)
    p = tmp_path / "s.parquet"
    pq.write_table(t, p, row_group_size=2000, data_page_size=1024, write_page_index=True)
    pf = mc.ParquetFile(p)
    got = pf.read(filter="id BETWEEN 5100 AND 5150")
    assert got.equals(t.slice(5100, 51))
    s = pf.last_scan
    assert s is not None
    assert s.row_groups_skipped_statistics == 9 and s.row_groups_total == 10
    assert s.pages_skipped > 0 and s.rows_read < 2000
    assert "pages skipped" in s.describe()


def test_dictionary_prunes_without_bloom(tmp_path: Path) -> None:
    t = _sorted_table(8000)
    p = tmp_path / "d.parquet"
    pq.write_table(t, p, row_group_size=1000)  # dictionary-encoded names, no Bloom filters
    pf = mc.ParquetFile(p)
    # odd numbers are inside every row group's min/max but in no dictionary
    got = pf.read(filter=[("name", "in", ["user-0003", "user-0501"])])
    assert got.num_rows == 0
    s = pf.last_scan
    assert s is not None and s.row_groups_skipped_dictionary == 8 and s.rows_read == 0
    got = pf.read(filter=[("name", "=", "user-0004")])
    assert got.equals(t.filter(pc.field("name") == "user-0004"))


def test_bloom_prunes_pyarrow_files(tmp_path: Path) -> None:
    n = 3000
    t = pa.table({"k": pa.array([2 * i for i in range(n)], pa.int64())})
    p = tmp_path / "pb.parquet"
    pq.write_table(t, p, row_group_size=1000, bloom_filter_options={"k": {"ndv": n, "fpp": 0.01}})
    pf = mc.ParquetFile(p)
    present = pf.read(filter=[("k", "in", [0, 2002, 5998])])
    assert present.column("k").to_pylist() == [0, 2002, 5998]
    absent = pf.read(filter=[("k", "in", [1, 2001, 5997])])
    assert absent.num_rows == 0
    assert pf.last_scan is not None and pf.last_scan.row_groups_skipped_bloom >= 2


def test_exact_mixed_type_comparisons(tmp_path: Path) -> None:
    big = 2**60
    t = pa.table(
        {
            "i": pa.array([1, 2, 3, big, big + 1], pa.int64()),
            "dec": pa.array(
                [decimal.Decimal(x) for x in ["1.50", "2.00", "2.01", "-0.50", "3.00"]],
                pa.decimal128(5, 2),
            ),
        }
    )
    p = tmp_path / "m.parquet"
    mc.write_parquet(t, p)
    assert mc.read_parquet(p, filter="i > 2.5", columns=["i"]).column(0).to_pylist() == [
        3,
        big,
        big + 1,
    ]
    assert mc.read_parquet(p, filter="i = 2.5").num_rows == 0
    # a float that rounds to 2**60 must not match 2**60 + 1
    assert mc.read_parquet(p, filter=[("i", "=", float(big))]).column("i").to_pylist() == [big]
    assert mc.read_parquet(p, filter="dec = 2").column("dec").to_pylist() == [
        decimal.Decimal("2.00")
    ]
    assert mc.read_parquet(p, filter="dec > 2").num_rows == 2
    assert mc.read_parquet(p, filter=[("dec", "<", decimal.Decimal("1.505"))]).num_rows == 2


def test_bad_filters_raise_clear_errors(tmp_path: Path) -> None:
    p = tmp_path / "b.parquet"
    mc.write_parquet(_sorted_table(10), p)
    with pytest.raises(SchemaError, match="nope"):
        mc.read_parquet(p, filter="nope = 1")
    with pytest.raises(InvalidArgumentError, match="name"):
        mc.read_parquet(p, filter=[("name", ">", 3)])
    with pytest.raises(InvalidArgumentError, match="unsupported expression"):
        mc.read_parquet(p, filter="id + 1 > 3")
    with pytest.raises(InvalidArgumentError, match="operator"):
        mc.read_parquet(p, filter=[("id", "~", 3)])
    from minide.errors import MinideError

    with pytest.raises(MinideError):
        mc.read_parquet(p, filter="id >")


def test_sql_names_match_columns_ignoring_case(tmp_path: Path) -> None:
    p = tmp_path / "c.parquet"
    mc.write_parquet(pa.table({"Price": [1, 5, 9]}), p)
    assert mc.read_parquet(p, filter="price > 4").column(0).to_pylist() == [5, 9]
    assert mc.read_parquet(p, filter='"Price" > 4').num_rows == 2


def test_importing_columnar_loads_no_sql_engine() -> None:
    """Text filters import the SQL parser inside the function that needs it."""
    import ast
    import subprocess
    import sys

    code = "import sys, minide; print('minide.sql' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if out.stdout.strip() == "False":
        code = (
            "import sys, minide.columnar; print('lark' in sys.modules, 'minide.sql' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["False", "False"]
    # `import minide` itself may still load the SQL engine (the package face's business):
    # check that no module of minide.columnar imports it at module level.
    for f in Path(mc.__file__).parent.glob("*.py"):
        for node in ast.parse(f.read_text()).body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for n in names:
                assert not n.startswith(("minide.sql", "lark")), (f.name, n)


# ---- datasets -----------------------------------------------------------------------------------


HIVE_PARTS = pads.partitioning(
    pa.schema([("part", pa.string()), ("yr", pa.int32())]), flavor="hive"
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=tables().filter(lambda t: t.num_rows > 0), p=predicates())
def test_datasets_match_pyarrow_dataset(t: pa.Table, p: tuple[Any, ...]) -> None:
    t = t.append_column(
        "part",
        pa.array([f"p/{k % 3}" if k % 5 else None for k in range(t.num_rows)], pa.string()),
    )
    t = t.append_column("yr", pa.array([2020 + k % 2 for k in range(t.num_rows)], pa.int32()))
    t = t.drop_columns(["j"])
    with tempfile.TemporaryDirectory() as d:
        mc.write_dataset(t, d, partition_by=["part", "yr"], row_group_size=20)
        part_leaf = ("cmp", "part", "=", "p/1")
        for q in (p, ("and", p, part_leaf), ("or", ("isnull", "part", False), p)):
            q = _drop_j(q)
            # typed partitioning: with every `part` NULL (a one-row table) pyarrow cannot infer
            want = pads.dataset(d, partitioning=HIVE_PARTS).to_table(filter=oracle_ds(q))
            ds = mc.Dataset(d)
            got = ds.read(filter=to_sql(q), threads=2)
            key = ["i", "s", "f", "part", "yr", "ts"]
            assert got.schema.names == want.schema.names
            assert _sorted(got, key) == _sorted(want, key)
        s = ds.last_scan
        assert s is not None and s.files_total == len(ds.files)


def _drop_j(p: tuple[Any, ...]) -> tuple[Any, ...]:
    if p[0] in ("and", "or"):
        return (p[0], _drop_j(p[1]), _drop_j(p[2]))
    if p[0] == "not":
        return ("not", _drop_j(p[1]))
    if p[1] == "j":
        return (p[0], "i", *p[2:])
    return p


def oracle_ds(p: tuple[Any, ...]) -> pc.Expression:
    if p[0] in ("and", "or", "not") or p[1] != "part":
        if p[0] == "and":
            return oracle_ds(p[1]) & oracle_ds(p[2])
        if p[0] == "or":
            return oracle_ds(p[1]) | oracle_ds(p[2])
        if p[0] == "not":
            return ~oracle_ds(p[1])
        return oracle(p)
    if p[0] == "isnull":
        return ~pc.field("part").is_null() if p[2] else pc.field("part").is_null()
    return pc.field("part") == pa.scalar(p[3])


def _sorted(t: pa.Table, key: list[str]) -> list[dict[str, Any]]:
    rows = t.to_pylist()
    return sorted(rows, key=lambda r: [(r[k] is None, str(r[k])) for k in key])


def test_partition_pruning_counts_files(tmp_path: Path) -> None:
    t = pa.table({"x": list(range(100)), "c": [["DE", "FR", "a b/c"][i % 3] for i in range(100)]})
    mc.write_dataset(t, tmp_path, partition_by="c")
    ds = mc.Dataset(tmp_path)
    got = ds.read(filter="c = 'a b/c' AND x < 50")
    want = t.filter((pc.field("c") == "a b/c") & (pc.field("x") < 50))
    assert sorted(got.column("x").to_pylist()) == sorted(want.column("x").to_pylist())
    assert set(got.column("c").to_pylist()) == {"a b/c"}
    assert ds.last_scan is not None and ds.last_scan.files_skipped == 2
    assert ds.last_scan.files_total == 3


# ---- the ARROW:schema hint --------------------------------------------------------------------


def test_hint_gives_pyarrows_types(tmp_path: Path) -> None:
    t = pa.table(
        {
            "ls": pa.array(["a", None, "b"], pa.large_string()),
            "dict": pa.array(["x", "y", "x"]).dictionary_encode(),
            "tz": pa.array([0, 1, None], pa.timestamp("ms", tz="Europe/Paris")),
            "dur": pa.array([1, 2, 3], pa.duration("us")),
            "d64": pa.array([0, 86_400_000, None], pa.date64()),
            "u8": pa.array([1, 2, 255], pa.uint8()),
            "lb": pa.array([b"a", b"", None], pa.large_binary()),
            "t32": pa.array([1, 2, 3], pa.time32("ms")),
        }
    )
    p = tmp_path / "h.parquet"
    pq.write_table(t, p)
    want = pq.read_table(p)
    got = mc.read_parquet(p)
    assert got.schema.types == want.schema.types
    assert got.to_pylist() == want.to_pylist()
    assert mc.ParquetFile(p).schema.types == want.schema.types


@pytest.mark.parametrize("as_integer", [True, False])
def test_file_types_give_stored_decimals(tmp_path: Path, as_integer: bool) -> None:
    """``file_types=True`` (the SQL engine's scan): INT32/INT64-backed decimals come out as
    ``decimal64`` (the stored integers), others as ``decimal128``; values equal pyarrow's, and
    filters on them (pushed into the typed masks) keep the same rows."""
    vals = [decimal.Decimal(k).scaleb(-2) for k in range(-500, 500, 7)]
    t = pa.table(
        {
            "small": pa.array(vals, pa.decimal128(9, 2)),
            "mid": pa.array(vals, pa.decimal128(18, 2)),
            "wide": pa.array(vals, pa.decimal128(30, 2)),
            "k": pa.array(range(len(vals)), pa.int64()),
        }
    )
    p = tmp_path / "d.parquet"
    pq.write_table(t, p, row_group_size=40, store_decimal_as_integer=as_integer)
    pf = mc.ParquetFile(p)
    got = pa.Table.from_batches(
        list(pf.scan(batch_rows=None, file_types=True)),
        schema=pf.scan_schema(file_types=True),
    )
    stored = pa.decimal64 if as_integer else pa.decimal128
    assert got.schema.field("small").type == stored(9, 2)
    assert got.schema.field("mid").type == stored(18, 2)
    assert got.schema.field("wide").type == pa.decimal128(30, 2)
    for c in ("small", "mid", "wide"):
        assert got.column(c).to_pylist() == vals
    flt = "small >= -1.005 AND mid < 2.5 AND small != 0.35"
    rows = pa.Table.from_batches(
        list(pf.scan(["k"], filter=flt, batch_rows=None, file_types=True))
    ).column("k")
    want = [
        i
        for i, v in enumerate(vals)
        if v >= decimal.Decimal("-1.005")
        and v < decimal.Decimal("2.5")
        and v != decimal.Decimal("0.35")
    ]
    assert rows.to_pylist() == want
