"""Differential tests: Hypothesis generates small tables with NULLs and queries over them
(filters, projections, aggregates, joins, subqueries); every answer is compared with DuckDB's.
Plus the TLP metamorphic check and optimized-vs-unoptimized plans on the same queries."""

from __future__ import annotations

from typing import Any

import duckdb
import minide
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.sql import tpch

INTS = st.one_of(st.none(), st.integers(-4, 4))
STRS = st.sampled_from([None, "x", "y", "xy", "yx", ""])
FLOATS = st.sampled_from([None, -2.5, 0.0, 1.5, 3.0, 0.1])

T1_ROWS = st.lists(st.tuples(INTS, INTS, STRS, FLOATS), min_size=0, max_size=12)
T2_ROWS = st.lists(st.tuples(INTS, INTS), min_size=0, max_size=8)


def _tables(r1: list[Any], r2: list[Any]) -> dict[str, pa.Table]:
    t1 = pa.table(
        {
            "a": pa.array([r[0] for r in r1], pa.int64()),
            "b": pa.array([r[1] for r in r1], pa.int64()),
            "c": pa.array([r[2] for r in r1], pa.string()),
            "d": pa.array([r[3] for r in r1], pa.float64()),
        }
    )
    t2 = pa.table(
        {
            "a": pa.array([r[0] for r in r2], pa.int64()),
            "e": pa.array([r[1] for r in r2], pa.int64()),
        }
    )
    return {"t1": t1, "t2": t2}


def int_expr(depth: int = 2) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["t1.a", "t1.b", "1", "-2", "0"])
    if depth == 0:
        return leaf
    sub = int_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        sub.map(lambda e: f"abs({e})"),
        sub.map(lambda e: f"(- {e})"),
        st.tuples(sub, sub).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(pred(depth - 1), sub, sub).map(
            lambda t: f"(CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END)"
        ),
    )


def pred(depth: int = 2) -> st.SearchStrategy[str]:
    ie = st.sampled_from(["t1.a", "t1.b", "(t1.a + t1.b)", "1", "0", "-1"])
    leaf = st.one_of(
        st.tuples(ie, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), ie).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.sampled_from(
            [
                "t1.c = 'x'",
                "t1.c LIKE 'x%'",
                "t1.c LIKE '%y'",
                "t1.c NOT LIKE '_'",
                "t1.c < 'y'",
                "t1.d > 1.0",
                "t1.d <= 0.1",
                "t1.d IS NULL",
                "t1.a IS NULL",
                "t1.c IS NOT NULL",
                "t1.a BETWEEN -1 AND 2",
                "t1.b NOT BETWEEN 0 AND 3",
                "t1.a IN (1, 2, NULL)",
                "t1.b NOT IN (0, 1)",
                "t1.a IN (-3, 3)",
                "TRUE",
                "FALSE",
                "NULL",
            ]
        ),
    )
    if depth == 0:
        return leaf
    sub = pred(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, sub).map(lambda t: f"({t[0]} AND {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"({t[0]} OR {t[1]})"),
        sub.map(lambda p: f"(NOT {p})"),
    )


def _check(tables: dict[str, pa.Table], sql: str, unoptimized: bool = True) -> None:
    dk = duckdb.connect()
    con = minide.connect()
    for n, t in tables.items():
        dk.register(n, t)
        con.register(n, t)
    theirs = dk.sql(sql).fetchall()
    ours = con.sql(sql).to_arrow()
    diff = tpch.compare(ours, theirs, ordered=False)
    assert diff is None, f"{sql}\n{diff}"
    if unoptimized:
        for name in minide.sql.PASS_NAMES:
            if name != "decorrelate":
                con.disable_optimizer(name)
        plain = con.sql(sql).to_arrow()
        assert tpch.compare(plain, theirs, ordered=False) is None, (
            f"unoptimized plan differs: {sql}"
        )


@settings(max_examples=40, deadline=None)
@given(T1_ROWS, T2_ROWS, pred(), int_expr())
def test_filter_project_matches_duckdb(r1: list[Any], r2: list[Any], p: str, e: str) -> None:
    _check(_tables(r1, r2), f"SELECT t1.a, t1.c, {e} AS x FROM t1 WHERE {p}")


@settings(max_examples=30, deadline=None)
@given(
    T1_ROWS,
    T2_ROWS,
    pred(1),
    int_expr(1),
    st.sampled_from(["t1.a", "t1.c", "t1.a, t1.c", "t1.d", "t1.a, t1.b"]),
)
def test_aggregate_matches_duckdb(r1: list[Any], r2: list[Any], p: str, e: str, g: str) -> None:
    sql = (
        f"SELECT {g}, count(*), count(t1.b), sum({e}), min(t1.d), max(t1.c), count(DISTINCT t1.b), avg(t1.b) "
        f"FROM t1 WHERE {p} GROUP BY {g}"
    )
    _check(_tables(r1, r2), sql)


@settings(max_examples=40, deadline=None)
@given(T1_ROWS, T2_ROWS)
def test_global_aggregate_matches_duckdb(r1: list[Any], r2: list[Any]) -> None:
    _check(
        _tables(r1, r2),
        "SELECT count(*), sum(t1.a), min(t1.c), max(t1.d), avg(t1.d), count(DISTINCT t1.c) FROM t1",
    )


@settings(max_examples=30, deadline=None)
@given(T1_ROWS, T2_ROWS, pred(1), st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]))
def test_join_matches_duckdb(r1: list[Any], r2: list[Any], p: str, kind: str) -> None:
    sql = f"SELECT t1.a, t1.c, t2.e FROM t1 {kind} t2 ON t1.a = t2.a AND t2.e <> 3 WHERE {p} OR t1.a IS NULL"
    _check(_tables(r1, r2), sql)


@settings(max_examples=30, deadline=None)
@given(
    T1_ROWS,
    T2_ROWS,
    st.sampled_from(
        [
            "t1.a IN (SELECT a FROM t2 WHERE e > 0)",
            "t1.a NOT IN (SELECT a FROM t2)",
            "t1.a NOT IN (SELECT a FROM t2 WHERE a IS NOT NULL)",
            "EXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a AND t2.e > t1.b)",
            "NOT EXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a)",
            "t1.b > (SELECT avg(e) FROM t2)",
            "t1.b >= (SELECT max(e) FROM t2 WHERE t2.a = t1.a)",
            "t1.a IN (SELECT a FROM t2) OR t1.c = 'x'",
            "t1.b = (SELECT count(*) FROM t2 WHERE t2.a = t1.a)",
        ]
    ),
)
def test_subqueries_match_duckdb(r1: list[Any], r2: list[Any], p: str) -> None:
    _check(_tables(r1, r2), f"SELECT t1.a, t1.b, t1.c FROM t1 WHERE {p}")


@settings(max_examples=40, deadline=None)
@given(T1_ROWS, T2_ROWS, pred())
def test_tlp_partitioning(r1: list[Any], r2: list[Any], p: str) -> None:
    """Ternary logic partitioning: every row satisfies exactly one of p, NOT p, p IS NULL."""
    con = minide.connect()
    for n, t in _tables(r1, r2).items():
        con.register(n, t)
    whole = con.sql("SELECT t1.a, t1.b, t1.c FROM t1").to_arrow()
    parts = con.sql(
        f"SELECT t1.a, t1.b, t1.c FROM t1 WHERE {p} UNION ALL SELECT t1.a, t1.b, t1.c FROM t1 WHERE NOT ({p}) "
        f"UNION ALL SELECT t1.a, t1.b, t1.c FROM t1 WHERE ({p}) IS NULL"
    ).to_arrow()
    assert tpch.compare(parts, whole, ordered=False) is None, p


@settings(max_examples=30, deadline=None)
@given(T1_ROWS, T2_ROWS, int_expr(1))
def test_order_by_limit_matches_duckdb(r1: list[Any], r2: list[Any], e: str) -> None:
    tables = _tables(r1, r2)
    sql = f"SELECT {e} AS x, t1.c FROM t1 ORDER BY x DESC NULLS FIRST, t1.c NULLS LAST LIMIT 5"
    dk = duckdb.connect()
    con = minide.connect()
    for n, t in tables.items():
        dk.register(n, t)
        con.register(n, t)
    theirs = dk.sql(sql).fetchall()
    ours = con.sql(sql).to_arrow()
    # ties on (x, c) are indistinguishable rows, so an ordered comparison is exact
    assert tpch.compare(ours, theirs, ordered=True) is None, sql


@settings(max_examples=30, deadline=None)
@given(
    T1_ROWS,
    T2_ROWS,
    st.sampled_from(
        [
            "SELECT a, b, c, d, row_number() OVER (PARTITION BY c ORDER BY a, b, d) FROM t1",
            "SELECT a, b, c, d, rank() OVER (ORDER BY a DESC), dense_rank() OVER (PARTITION BY c ORDER BY b) FROM t1",
            "SELECT a, b, c, d, sum(a) OVER (PARTITION BY c), avg(d) OVER (ORDER BY b), "
            "count(*) OVER (PARTITION BY c ORDER BY a) FROM t1",
            "SELECT a, b, c, d, lag(a) OVER (PARTITION BY c ORDER BY a, b, d), "
            "lead(b, 2, 0) OVER (ORDER BY a, b, c, d) FROM t1",
            "SELECT a, b, c, d, min(c) OVER (PARTITION BY a), max(d) OVER (ORDER BY a NULLS FIRST) FROM t1",
            "SELECT c, sum(a), rank() OVER (ORDER BY sum(a) DESC) FROM t1 GROUP BY c",
        ]
    ),
)
def test_window_functions_match_duckdb(r1: list[Any], r2: list[Any], sql: str) -> None:
    """Window functions over partitions/orders with ties and NULLs (orders that leave ties only
    between identical rows, so the compared multisets are deterministic)."""
    _check(_tables(r1, r2), sql)
