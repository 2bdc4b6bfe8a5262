"""TINYINT, SMALLINT, INTEGER, REAL and TIMESTAMP WITH TIME ZONE keep their own types, against
DuckDB.

Hypothesis draws columns of every numeric width (range edges and NULLs included) and the same
expression, cast, aggregate or set operation runs on both engines. Result Arrow types must be
equal (one documented difference: DuckDB's SUM of integers is a HUGEINT, minide's a BIGINT),
values equal (REAL results exactly: both engines round each operation to f32), and where DuckDB
raises (an INTEGER addition that overflows, an out-of-range cast) minide must raise a
``minide.errors`` error too. Time zones: DuckDB returns instants in its session zone
(``Etc/UTC`` here), minide in ``UTC``: the same instants, compared as such.
"""

from __future__ import annotations

from typing import Any

import duckdb
import minide
import pyarrow as pa
import pytest
from duck_oracle import same_value
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from minide.errors import MinideError

#: column name -> Arrow type
COLS = {
    "b": pa.int8(),
    "s": pa.int16(),
    "i": pa.int32(),
    "l": pa.int64(),
    "f": pa.float32(),
    "d": pa.float64(),
    "m": pa.decimal128(9, 2),
}


def _ints(bits: int) -> st.SearchStrategy[int | None]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.one_of(
        st.none(), st.integers(-100, 100), st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1])
    )


def _f32() -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), st.floats(-1e6, 1e6, width=32, allow_nan=False))


ROW = st.tuples(
    _ints(8),
    _ints(16),
    _ints(32),
    _ints(64),
    _f32(),
    st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    st.one_of(st.none(), st.decimals(-9_999_999, 9_999_999, places=2, allow_nan=False)),
)
ROWS = st.lists(ROW, min_size=0, max_size=10)
NARROW = st.sampled_from(["b", "s", "i", "f"])
ANY = st.sampled_from([*COLS, "1", "-3", "200", "70000", "2.5", "1e0"])
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {name: pa.array([r[k] for r in rows], t) for k, (name, t) in enumerate(COLS.items())}
    )


def _order(row: tuple[Any, ...]) -> str:
    """A sort key for result rows in which -0.0 and 0.0 (equal in SQL) sort together."""
    return repr(tuple(v + 0.0 if isinstance(v, float) else v for v in row))


def _utc(t: pa.DataType) -> pa.DataType:
    return pa.timestamp(t.unit, tz="UTC") if pa.types.is_timestamp(t) and t.tz else t


def check(
    rows: list[tuple[Any, ...]], sql: str, sums: tuple[int, ...] = (), table: Any = None
) -> None:
    """``sums``: result columns that are SUMs of integers (HUGEINT in DuckDB, BIGINT here)."""
    t = _table(rows) if table is None else table
    dk = duckdb.connect()
    dk.register("t", t)
    con = minide.connect()
    con.register("t", t)
    try:
        theirs = dk.sql(sql).to_arrow_table()
    except duckdb.Error:
        with pytest.raises(MinideError):
            con.sql(sql).to_arrow()
        return
    ours = con.sql(sql).to_arrow()
    for k, (fo, ft) in enumerate(zip(ours.schema, theirs.schema, strict=True)):
        want = pa.int64() if k in sums and ft.type == pa.decimal128(38, 0) else ft.type
        assert fo.type == _utc(want), f"{sql}: column {k} is {fo.type}, DuckDB's is {ft.type}"
    a = sorted(zip(*[c.to_pylist() for c in ours.columns], strict=True), key=_order)
    # DuckDB's HUGEINT sums come back as Decimal: compared as the integers they are
    cols = [c.to_pylist() for c in theirs.columns]
    cols = [
        [None if v is None else int(v) for v in c] if k in sums else c for k, c in enumerate(cols)
    ]
    b = sorted(zip(*cols, strict=True), key=_order)
    assert len(a) == len(b), f"{sql}: {len(a)} rows, DuckDB {len(b)}"
    for ra, rb in zip(a, b, strict=True):
        assert all(same_value(x, y) for x, y in zip(ra, rb, strict=True)), f"{sql}: {ra} != {rb}"


@SETTINGS
@given(ROWS, NARROW, st.sampled_from(["+", "-", "*", "%"]), ANY)
def test_arithmetic_keeps_the_narrow_type_and_checks_its_range(
    rows: list[Any], x: str, op: str, y: str
) -> None:
    # x % 0: NULL here, an error or NaN in DuckDB; not compared
    check(rows, f"SELECT {x} {op} {f'NULLIF({y}, 0)' if op == '%' else y} AS r FROM t")
    check(rows, f"SELECT {y} {op} {f'NULLIF({x}, 0)' if op == '%' else x} AS r FROM t")


@SETTINGS
@given(ROWS, NARROW, ANY)
def test_division_comparison_and_unary(rows: list[Any], x: str, y: str) -> None:
    check(rows, f"SELECT {x} / NULLIF({y}, 0) AS r FROM t")
    check(rows, f"SELECT {x} < {y} AS lt, {x} = {y} AS eq FROM t")
    check(rows, f"SELECT -{x} AS n, abs({x}) AS a FROM t")
    check(rows, f"SELECT count(*) AS n FROM t WHERE {x} >= {y}")


@SETTINGS
@given(
    ROWS, st.sampled_from(list(COLS)), st.sampled_from(["TINYINT", "SMALLINT", "INTEGER", "REAL"])
)
def test_casts_to_narrow_types_check_their_range(rows: list[Any], x: str, target: str) -> None:
    check(rows, f"SELECT CAST({x} AS {target}) AS r FROM t")


@SETTINGS
@given(ROWS, NARROW)
def test_casts_from_narrow_types(rows: list[Any], x: str) -> None:
    # REAL text is compared only for integers: DuckDB writes magnitudes outside [1e-4, 1e7)
    # in scientific notation (`-6.1035156e-05`), minide positionally (not there yet)
    if x != "f":
        check(rows, f"SELECT CAST({x} AS VARCHAR) AS v FROM t")
    check(rows, f"SELECT CAST({x} AS DOUBLE) AS d FROM t")
    check(rows, f"SELECT CAST({x} AS BIGINT) AS l, CAST({x} AS DECIMAL(18,2)) AS m FROM t")


@SETTINGS
@given(ROWS, st.sampled_from(["f", "d"]))
def test_real_rounding_functions(rows: list[Any], x: str) -> None:
    check(rows, f"SELECT round({x}) AS r, round({x}, 1) AS r1, floor({x}) AS fl FROM t")
    check(rows, f"SELECT ceil({x}) AS c, sqrt(abs({x})) AS q FROM t")


@SETTINGS
@given(ROWS, NARROW, ANY)
def test_case_coalesce_and_union_take_the_common_type(rows: list[Any], x: str, y: str) -> None:
    check(rows, f"SELECT coalesce({x}, {y}) AS c FROM t")
    check(rows, f"SELECT CASE WHEN l > 0 THEN {x} ELSE {y} END AS c FROM t")
    if y in COLS:  # a bare integer literal is a BIGINT here, DuckDB's INTEGER
        check(rows, f"SELECT {x} AS u FROM t UNION ALL SELECT {y} FROM t")


@SETTINGS
@given(ROWS, NARROW, st.sampled_from(["b", "s", "i"]))
def test_aggregates_group_by_and_joins(rows: list[Any], x: str, g: str) -> None:
    check(rows, f"SELECT min({x}) lo, max({x}) hi, avg({x}) m, count({x}) n FROM t")
    sums = (1,) if x != "f" else ()
    check(rows, f"SELECT {g}, sum({x}) s, max({x}) hi FROM t GROUP BY {g}", sums=sums)
    check(rows, f"SELECT DISTINCT {x} FROM t")
    check(rows, f"SELECT t1.{g}, t2.l FROM t t1 JOIN t t2 ON t1.{g} = t2.l")
    check(
        rows,
        f"SELECT {x}, min({x}) OVER (PARTITION BY {g}) w, lag({x}) OVER (ORDER BY l, b, s, i, f) p FROM t",
    )


_US = st.integers(-(2**40), 2**52)
TS_ROWS = st.lists(
    st.tuples(st.one_of(st.none(), _US), st.one_of(st.none(), _US), st.integers(-5, 5)),
    max_size=10,
)


def _ts_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {
            "z": pa.array([r[0] for r in rows], pa.timestamp("us", tz="America/New_York")),
            "u": pa.array([r[1] for r in rows], pa.timestamp("us")),
            "k": pa.array([r[2] for r in rows], pa.int64()),
        }
    )


@SETTINGS
@given(TS_ROWS)
def test_timestamps_with_time_zone_stay_instants(rows: list[Any]) -> None:
    t = _ts_table(rows)
    check(
        [], "SELECT z, z + INTERVAL '90 minutes' AS h, z - INTERVAL '2 days' AS d FROM t", table=t
    )
    check([], "SELECT CAST(z AS VARCHAR) AS v, CAST(u AS VARCHAR) AS w FROM t", table=t)
    check(
        [],
        "SELECT CAST(z AS DATE) AS d, CAST(z AS TIMESTAMP) AS n, extract(year FROM z) AS y FROM t",
        table=t,
    )
    check(
        [],
        "SELECT z < u AS lt, coalesce(z, u) AS c, z > TIMESTAMP '2001-02-03 04:05:06' AS g FROM t",
        table=t,
    )
    check(
        [],
        "SELECT k, min(z) AS lo, max(z) AS hi, count(DISTINCT z) AS n FROM t GROUP BY k",
        table=t,
    )
    check([], "SELECT a.z FROM t a JOIN t b ON a.z = b.u", table=t)


def test_file_columns_keep_their_types(tmp_path: Any) -> None:
    """Parquet INT32/INT16/INT8/FLOAT columns come back in their widths from SQL over files."""
    import pyarrow.parquet as pq

    t = _table([(1, 2, 3, 4, 1.5, 2.5, None), (-128, -32768, -(2**31), 0, 3.25, 0.0, None)])
    path = tmp_path / "narrow.parquet"
    pq.write_table(t, path)
    con = minide.connect()
    con.register("p", path)
    out = con.sql("SELECT b, s, i, f, i + 1 AS j, f * 2 AS g FROM p ORDER BY l").to_arrow()
    assert out.schema.types == [
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.float32(),
        pa.int32(),
        pa.float32(),
    ]
    assert out.column("j").to_pylist() == [-(2**31) + 1, 4]
    with pytest.raises(MinideError, match="Overflow in subtraction of INTEGER"):
        con.sql("SELECT i - 1 FROM p").to_arrow()
