"""The 22 TPC-H queries, unmodified, at scale factor 0.01, compared with DuckDB on the same data
exactly: decimals as ``Decimal`` (same value, both sides decimal), doubles to 1e-12 relative; row
order compared where ORDER BY fixes it."""

from __future__ import annotations

from typing import Any

import duckdb
import minide
import pytest
from minide.sql import tpch

SCALE = 0.01


@pytest.fixture(scope="module")
def dbs() -> tuple[Any, Any]:
    data = tpch.load(SCALE)
    con = minide.connect()
    dk = duckdb.connect()
    for name, table in data.items():
        con.register(name, table)
        dk.register(name, table)
    return con, dk


def _run_minide(con: Any, sql: str) -> Any:
    stmts = [s for s in sql.split(";") if s.strip()]
    out = None
    for s in stmts:
        rel = con.sql(s)
        if rel is not None:
            out = rel.to_arrow()
    return out


def _run_duckdb(dk: Any, sql: str) -> Any:
    # DuckDB does not accept the standard's "interval '90' day (3)" precision suffix.
    stmts = [s for s in sql.replace("day (3)", "day").split(";") if s.strip()]
    out = None
    for s in stmts:
        if s.strip().lower().startswith(("create", "drop")):
            dk.execute(s)
        else:
            out = dk.sql(s).fetchall()
    return out


@pytest.mark.parametrize("q", range(1, 23), ids=[f"q{q:02d}" for q in range(1, 23)])
def test_tpch_query_matches_duckdb(dbs: tuple[Any, Any], q: int) -> None:
    con, dk = dbs
    sql = tpch.query(q)
    ours = _run_minide(con, sql)
    theirs = _run_duckdb(dk, sql)
    assert ours is not None and theirs is not None
    assert len(theirs) > 0, "the oracle returned nothing: the query tests nothing"
    diff = tpch.compare(ours, theirs, ordered="order by" in sql.lower(), exact=True)
    assert diff is None, f"Q{q}: {diff}"


@pytest.fixture(scope="module")
def file_dbs() -> tuple[Any, Any]:
    """minide scanning the Parquet files lazily (with pushdown); DuckDB reading the same files."""
    con = minide.connect()
    d = tpch.register_files(con, SCALE)
    dk = duckdb.connect()
    for name in tpch.TABLES:
        dk.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{d / name}.parquet')")
    return con, dk


@pytest.mark.parametrize("q", range(1, 23), ids=[f"q{q:02d}" for q in range(1, 23)])
def test_tpch_over_parquet_files_matches_duckdb(file_dbs: tuple[Any, Any], q: int) -> None:
    con, dk = file_dbs
    sql = tpch.query(q)
    diff = tpch.compare(
        _run_minide(con, sql), _run_duckdb(dk, sql), ordered="order by" in sql.lower(), exact=True
    )
    assert diff is None, f"Q{q}: {diff}"


@pytest.mark.parametrize("q", [1, 3, 5, 6, 10, 12, 14, 19], ids=lambda q: f"q{q:02d}")
def test_tpch_single_thread_and_unoptimized_agree(dbs: tuple[Any, Any], q: int) -> None:
    con, _ = dbs
    sql = tpch.query(q)
    ref = _run_minide(con, sql)
    con.set("threads", 1)
    try:
        one = _run_minide(con, sql)
    finally:
        con.set("threads", 2)
    assert tpch.compare(one, ref, ordered=True, exact=True) is None
    for name in ("join_reorder", "build_side", "projection_pruning", "limit_pushdown"):
        con.disable_optimizer(name)
    try:
        plain = _run_minide(con, sql)
    finally:
        for name in ("join_reorder", "build_side", "projection_pruning", "limit_pushdown"):
            con.enable_optimizer(name)
    assert tpch.compare(plain, ref, ordered="order by" in sql.lower()) is None
