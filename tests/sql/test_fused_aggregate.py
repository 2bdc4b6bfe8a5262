"""Scan -> filter -> hash aggregate runs fused in Rust (rows failing the filter go to a scratch
group when most rows pass, else the morsel is compacted); small string group keys are coded
through per-morsel dictionaries; repeated arithmetic subexpressions of aggregate arguments are
evaluated once. All of it is checked against DuckDB on random tables with NULLs."""

from __future__ import annotations

from typing import Any

import duckdb
import minide
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.sql import tpch

ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-20, 20)),
        st.sampled_from([None, "A", "N", "R", "xy", ""]),
        st.sampled_from([None, "F", "O"]),
        st.one_of(st.none(), st.floats(-10, 10, allow_nan=False).map(lambda f: round(f, 2))),
    ),
    max_size=300,
)
PREDS = st.sampled_from(
    [
        "a > {k}",
        "a > {k} OR a IS NULL",
        "NOT (a < {k})",
        "d < {k} AND a IS NOT NULL",
        "b <> 'A' OR a > {k}",
    ]
)

SQL = """SELECT b, c, sum(a), sum(d * (1 - a)), sum(d * (1 - a) * (1 + a)), avg(a), avg(d),
  min(b), max(d), count(*), count(d), count(DISTINCT a)
FROM t WHERE {pred} GROUP BY b, c"""


@settings(max_examples=40, deadline=None)
@given(rows=ROWS, pred=PREDS, k=st.integers(-25, 25), grouped=st.booleans())
def test_fused_filter_aggregate_matches_duckdb(
    rows: list[Any], pred: str, k: int, grouped: bool
) -> None:
    t = pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.int64()),
            "b": pa.array([r[1] for r in rows], pa.string()),
            "c": pa.array([r[2] for r in rows], pa.string()),
            "d": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    sql = SQL.format(pred=pred.format(k=k))
    if not grouped:
        sql = sql.replace("SELECT b, c,", "SELECT").replace(" GROUP BY b, c", "")
    con = minide.connect()
    con.register("t", t)
    dk = duckdb.connect()
    dk.register("t", t)
    ours = con.sql(sql).to_arrow()  # type: ignore[union-attr]
    theirs = dk.sql(sql).fetchall()
    diff = tpch.compare(ours, theirs, ordered=False)
    assert diff is None, f"{sql}: {diff}"


def test_fused_path_over_many_morsels() -> None:
    """More rows than one morsel, ~90% passing: the scratch-group path across morsels/threads."""
    n = 200_000
    t = pa.table(
        {
            "a": pa.array([i % 97 for i in range(n)], pa.int64()),
            "b": pa.array(["AN"[i % 2] + "FO"[i % 3 % 2] for i in range(n)], pa.string()),
        }
    )
    sql = "SELECT b, count(*), sum(a), avg(a * 2 - 1) FROM t WHERE a >= 10 GROUP BY b"
    for threads in (1, 2):
        con = minide.connect()
        con.set("threads", threads)
        con.register("t", t)
        theirs = duckdb.sql(sql).fetchall()
        assert tpch.compare(con.sql(sql).to_arrow(), theirs, ordered=False) is None  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(-20, 20), st.sampled_from("ANRZ"), st.sampled_from("FO")),
        min_size=1,
        max_size=300,
    ),
    k=st.integers(12, 25),  # most rows pass: the fused filter aggregates in place
    two_keys=st.booleans(),
    fused=st.booleans(),
)
def test_one_byte_string_keys_match_duckdb(
    rows: list[Any], k: int, two_keys: bool, fused: bool
) -> None:
    """Group keys of one-byte strings without nulls (Q1's flags) take the raw-byte group-id
    path; a key seen only in rows the fused filter drops ('Z' when a > k fails) must not
    become a group."""
    t = pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.int64()),
            "b": pa.array([r[1] if r[0] <= k else "Z" for r in rows], pa.string()),
            "c": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    keys = "b, c" if two_keys else "b"
    where = f"WHERE a <= {k}" if fused else ""
    sql = f"SELECT {keys}, count(*), sum(a) FROM t {where} GROUP BY {keys}"
    con = minide.connect()
    con.register("t", t)
    dk = duckdb.connect()
    dk.register("t", t)
    diff = tpch.compare(con.sql(sql).to_arrow(), dk.sql(sql).fetchall(), ordered=False)  # type: ignore[union-attr]
    assert diff is None, f"{sql}: {diff}"


def test_a_key_seen_only_in_filtered_rows_is_no_group() -> None:
    """90% of rows pass (aggregated in place); the 'Z' key occurs only in the other 10%."""
    n = 1000
    t = pa.table(
        {
            "a": pa.array(list(range(n)), pa.int64()),
            "b": pa.array(["AN"[i % 2] if i < 900 else "Z" for i in range(n)]),
            "c": pa.array(["FO"[i % 3 % 2] for i in range(n)]),
        }
    )
    con = minide.connect()
    con.register("t", t)
    dk = duckdb.connect()
    dk.register("t", t)
    for keys in ("b", "b, c"):
        sql = f"SELECT {keys}, count(*), sum(a) FROM t WHERE a < 900 GROUP BY {keys}"
        diff = tpch.compare(con.sql(sql).to_arrow(), dk.sql(sql).fetchall(), ordered=False)  # type: ignore[union-attr]
        assert diff is None, f"{sql}: {diff}"


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(-5, 40))),
        max_size=400,
    ),
    threads=st.sampled_from([1, 2]),
)
def test_count_distinct_of_integers_and_dates_matches_duckdb(rows: list[Any], threads: int) -> None:
    """COUNT(DISTINCT) of BIGINT and DATE keeps the values themselves per group (merged across
    threads); NULLs are not counted."""
    import datetime as dt

    day = dt.date(2000, 1, 1)
    t = pa.table(
        {
            "g": pa.array([r[0] for r in rows], pa.int64()),
            "v": pa.array([r[1] for r in rows], pa.int64()),
            "d": pa.array(
                [None if r[1] is None else day + dt.timedelta(days=r[1]) for r in rows],
                pa.date32(),
            ),
        }
    )
    sql = "SELECT g % 7, count(DISTINCT v), count(DISTINCT d), count(*) FROM t GROUP BY g % 7"
    con = minide.connect(threads=threads)
    con.register("t", t)
    dk = duckdb.connect()
    dk.register("t", t)
    for q in (sql, "SELECT count(DISTINCT v), count(DISTINCT d) FROM t"):
        diff = tpch.compare(con.sql(q).to_arrow(), dk.sql(q).fetchall(), ordered=False)  # type: ignore[union-attr]
        assert diff is None, f"{q}: {diff}"
