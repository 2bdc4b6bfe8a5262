"""A file scan the plan repeats (same table, columns and filter: a self-join, Q21's two reads
of late lineitems) is decoded once and shared; scans that differ are not. Answers are checked
against DuckDB, and EXPLAIN says which scans are shared."""

from __future__ import annotations

from pathlib import Path

import duckdb
import minide
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("shared") / "t.parquet"
    n = 5000
    t = pa.table(
        {
            "k": pa.array([i % 97 for i in range(n)], pa.int64()),
            "v": pa.array([(i * 7) % 13 for i in range(n)], pa.int64()),
            "s": pa.array([f"s{i % 5}" for i in range(n)]),
        }
    )
    pq.write_table(t, p, row_group_size=1000)
    return p


QUERIES = [
    # the same filtered scan twice (a self-join)
    "SELECT a.k, count(*) AS n FROM t a JOIN t b ON a.k = b.k AND a.v <> b.v "
    "WHERE a.v > 3 AND b.v > 3 GROUP BY a.k ORDER BY a.k",
    # EXISTS and NOT EXISTS over the same scan, as TPC-H Q21
    "SELECT count(*) FROM t a WHERE a.v > 6 AND EXISTS (SELECT 1 FROM t b WHERE b.k = a.k "
    "AND b.v <> a.v) AND NOT EXISTS (SELECT 1 FROM t c WHERE c.k = a.k AND c.v > 11)",
    # different filters: not shared
    "SELECT a.s, count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.v = 1 AND b.v = 2 "
    "GROUP BY a.s ORDER BY a.s",
]


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("threads", [1, 2])
def test_shared_scans_match_duckdb(path: Path, sql: str, threads: int) -> None:
    con = minide.connect()
    con.register("t", path)
    con.set("threads", threads)
    dk = duckdb.connect()
    dk.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")
    assert con.sql(sql).fetchall() == dk.sql(sql).fetchall()
    # twice on the same connection: nothing of the first run is left behind
    assert con.sql(sql).fetchall() == dk.sql(sql).fetchall()


def test_explain_names_the_shared_scans(path: Path) -> None:
    con = minide.connect()
    con.register("t", path)
    shared = "decoded once, shared"
    text = "\n".join(r[0] for r in con.sql("EXPLAIN " + QUERIES[0]).fetchall())
    assert text.count(shared) == 2, text
    text = "\n".join(r[0] for r in con.sql("EXPLAIN " + QUERIES[2]).fetchall())
    assert shared not in text, text
    # EXPLAIN ANALYZE: only the scan that ran reports decoding counters
    text = "\n".join(r[0] for r in con.sql("EXPLAIN ANALYZE " + QUERIES[0]).fetchall())
    assert text.count("rows decoded") == 1, text
