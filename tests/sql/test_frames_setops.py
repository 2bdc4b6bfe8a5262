"""Window frames (ROWS/RANGE BETWEEN ... with aggregates OVER) and INTERSECT ALL / EXCEPT ALL,
differentially against DuckDB on Hypothesis-generated tables with NULLs."""

from __future__ import annotations

from typing import Any

import duckdb
import minide
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import PlanError, UnsupportedError
from minide.sql import tpch

VALS = st.one_of(st.none(), st.integers(-3, 3))
ROWS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), VALS), max_size=25)

BOUNDS_START = ["UNBOUNDED PRECEDING", "2 PRECEDING", "1 PRECEDING", "CURRENT ROW", "1 FOLLOWING"]
BOUNDS_END = ["1 PRECEDING", "CURRENT ROW", "1 FOLLOWING", "3 FOLLOWING", "UNBOUNDED FOLLOWING"]
FUNCS = ["sum(v)", "count(v)", "count(*)", "avg(v)", "min(v)", "max(v)"]


def _table(rows: list[Any]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(len(rows)), pa.int64()),
            "g": pa.array([r[0] for r in rows], pa.int64()),
            "k": pa.array([r[1] for r in rows], pa.int64()),
            "v": pa.array([r[2] for r in rows], pa.int64()),
        }
    )


def _check(tables: dict[str, pa.Table], sql: str) -> None:
    con = minide.connect()
    dk = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
        dk.register(name, t)
    ours = con.sql(sql).to_arrow()  # type: ignore[union-attr]
    theirs = dk.sql(sql).fetchall()
    diff = tpch.compare(ours, theirs, ordered=False)
    assert diff is None, f"{sql}: {diff}"


@settings(max_examples=60, deadline=None)
@given(
    rows=ROWS,
    func=st.sampled_from(FUNCS),
    lo=st.sampled_from(BOUNDS_START),
    hi=st.sampled_from(BOUNDS_END),
    partitioned=st.booleans(),
)
def test_rows_frames_match_duckdb(
    rows: list[Any], func: str, lo: str, hi: str, partitioned: bool
) -> None:
    part = "PARTITION BY g " if partitioned else ""
    sql = f"SELECT id, {func} OVER ({part}ORDER BY id ROWS BETWEEN {lo} AND {hi}) FROM t"
    if _rank(lo) > _rank(hi):  # DuckDB rejects these too
        with pytest.raises(PlanError, match="starts after it ends"):
            minide.connect().register("t", _table(rows)).sql(sql)
        return
    _check({"t": _table(rows)}, sql)


def _rank(bound: str) -> int:
    order = ["UNBOUNDED PRECEDING", "PRECEDING", "CURRENT ROW", "FOLLOWING", "UNBOUNDED FOLLOWING"]
    return order.index(bound.lstrip("0123456789 ") if bound[0].isdigit() else bound)


@settings(max_examples=40, deadline=None)
@given(
    rows=ROWS,
    func=st.sampled_from(FUNCS),
    frame=st.sampled_from(
        [
            "RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
            "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
            "RANGE BETWEEN CURRENT ROW AND CURRENT ROW",
            "RANGE UNBOUNDED PRECEDING",
            "ROWS UNBOUNDED PRECEDING",
            "ROWS 1 PRECEDING",
        ]
    ),
)
def test_range_frames_over_peers_match_duckdb(rows: list[Any], func: str, frame: str) -> None:
    # ORDER BY k has ties: RANGE frames are whole peer groups (ROWS ones are ordered by id too)
    order = "k, id" if frame.startswith("ROWS") else "k"
    sql = f"SELECT id, {func} OVER (PARTITION BY g ORDER BY {order} {frame}) FROM t"
    _check({"t": _table(rows)}, sql)


def test_frame_errors() -> None:
    con = minide.connect()
    con.register("t", _table([(0, 1, 2)]))
    with pytest.raises(PlanError, match="starts after it ends"):
        con.sql("SELECT sum(v) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM t")
    with pytest.raises(PlanError, match="cannot start"):
        con.sql("SELECT sum(v) OVER (ORDER BY id ROWS UNBOUNDED FOLLOWING) FROM t")
    with pytest.raises(UnsupportedError, match="RANGE frames"):
        con.sql("SELECT sum(v) OVER (ORDER BY id RANGE 2 PRECEDING) FROM t")


SMALL = st.lists(st.tuples(st.sampled_from([None, 1, 2]), st.sampled_from([None, "x", "y"])))


@settings(max_examples=60, deadline=None)
@given(left=SMALL, right=SMALL, op=st.sampled_from(["INTERSECT ALL", "EXCEPT ALL"]))
def test_bag_set_operations_match_duckdb(left: list[Any], right: list[Any], op: str) -> None:
    def table(rows: list[Any]) -> pa.Table:
        return pa.table(
            {
                "a": pa.array([r[0] for r in rows], pa.int64()),
                "b": pa.array([r[1] for r in rows], pa.string()),
            }
        )

    sql = f"SELECT a, b FROM l {op} SELECT a, b FROM r"
    _check({"l": table(left), "r": table(right)}, sql)
    # chained and mixed with the set versions
    _check(
        {"l": table(left), "r": table(right)},
        f"SELECT a FROM l {op} SELECT a FROM r UNION ALL SELECT a FROM r",
    )


@settings(max_examples=40, deadline=None)
@given(
    ks=st.lists(st.one_of(st.none(), st.integers(-(10**6), 10**6)), max_size=12),
    scale=st.integers(0, 5),
)
def test_decimal_casts_match_duckdb(ks: list[int | None], scale: int) -> None:
    """DECIMAL(p, s) results (casts, arithmetic and sums over them) agree with DuckDB's exact
    decimals to 1e-9 relative; values k/7 are never halfway between two decimals."""
    t = pa.table({"x": pa.array([None if k is None else k / 7 for k in ks], pa.float64())})
    sql = (
        f"SELECT CAST(x AS DECIMAL(18, {scale})) AS d, CAST(x AS DECIMAL) AS d3, "
        f"CAST(x AS DECIMAL(18, {scale})) * CAST(x AS DECIMAL(18, 2)) AS m, "
        f"sum(CAST(x AS DECIMAL(18, {scale}))) OVER () AS s, CAST(CAST(x AS VARCHAR) AS NUMERIC(20, 1)) "
        "FROM t"
    )
    _check({"t": t}, sql)
