"""Runtime join filters: a hash join's build-side keys filter the file scan under its probe
side (``rust/sql/src/ops/join_filter.rs``). The filter may only drop rows that could never
join, so every answer is checked against DuckDB: random fact/dimension files (int32, int64 and
date keys, NULL keys, keys outside the dimension), random dimension filters, and join shapes
that do and do not allow the filter (inner, IN/EXISTS, through projections and other joins,
LEFT/anti joins above). EXPLAIN ANALYZE says which scans got keys, and row groups whose key
range holds no key are skipped."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import minide
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

QUERIES = [
    # inner join, the dimension filtered: keys go to the fact scan
    "SELECT f.v, d.name FROM fact f JOIN dim d ON f.k = d.k WHERE d.w < {w}",
    # through a projection and a second join (the fact scan is two joins down)
    "SELECT x.v, x.name, e.w FROM (SELECT f.k AS kk, f.v, d.name FROM fact f "
    "JOIN dim d ON f.k = d.k WHERE d.w < {w}) x JOIN dim e ON x.kk = e.k",
    # IN and EXISTS (semi joins)
    "SELECT f.v FROM fact f WHERE f.k IN (SELECT k FROM dim WHERE w < {w})",
    "SELECT f.v FROM fact f WHERE EXISTS (SELECT 1 FROM dim d WHERE d.k = f.k AND d.w < {w})",
    # NOT IN / NOT EXISTS and LEFT JOIN: rows without a partner stay
    "SELECT f.v FROM fact f WHERE f.k NOT IN (SELECT k FROM dim WHERE w < {w} AND k IS NOT NULL)",
    "SELECT f.v, d.name FROM fact f LEFT JOIN dim d ON f.k = d.k AND d.w < {w}",
    # the fact side is the preserved side of a LEFT join under an inner join
    "SELECT f.v, g.name, d.w FROM fact f LEFT JOIN dim g ON f.v = g.k "
    "JOIN dim d ON f.k = d.k WHERE d.w < {w}",
    # a date key
    "SELECT f.v FROM fact f JOIN dim d ON f.day = d.day WHERE d.w < {w}",
    # the small side outside EXISTS / NOT EXISTS: built on the left, the fact scan probes
    "SELECT d.k, d.name FROM dim d WHERE d.w < {w} AND EXISTS (SELECT 1 FROM fact f "
    "WHERE f.k = d.k AND f.v > 3)",
    "SELECT d.k FROM dim d WHERE d.w < {w} AND NOT EXISTS (SELECT 1 FROM fact f "
    "WHERE f.k = d.k AND f.v > 3)",
    # INTERSECT / EXCEPT: NULL keys match each other, so no keys are pushed
    "SELECT k FROM fact WHERE v < 3 INTERSECT SELECT k FROM fact WHERE v > {w} / 10",
    "SELECT k FROM fact WHERE v < 3 EXCEPT SELECT k FROM fact WHERE v > {w} / 10",
    # aggregates above and a computed key (no filter below the computation)
    "SELECT d.name, sum(f.v) FROM fact f JOIN dim d ON f.k + 0 = d.k WHERE d.w < {w} "
    "GROUP BY d.name",
]


def write(tmp: Path, fact_keys: list[int | None], dim_keys: list[int], key_type: pa.DataType):
    base = dt.date(2020, 1, 1)
    fact = pa.table(
        {
            "k": pa.array(fact_keys, key_type),
            "v": pa.array([i % 17 for i in range(len(fact_keys))], pa.int64()),
            "day": pa.array(
                [None if k is None else base + dt.timedelta(days=k) for k in fact_keys],
                pa.date32(),
            ),
        }
    )
    dim = pa.table(
        {
            "k": pa.array(dim_keys, pa.int64()),
            "w": pa.array([(k * 7) % 100 for k in dim_keys], pa.int64()),
            "name": pa.array([f"n{k % 9}" for k in dim_keys]),
            "day": pa.array([base + dt.timedelta(days=k) for k in dim_keys], pa.date32()),
        }
    )
    pq.write_table(fact, tmp / "fact.parquet", row_group_size=97)
    pq.write_table(dim, tmp / "dim.parquet", row_group_size=50)


def engines(tmp: Path, threads: int) -> tuple[minide.Connection, duckdb.DuckDBPyConnection]:
    con = minide.connect(threads=threads)
    dk = duckdb.connect()
    for t in ("fact", "dim"):
        con.register(t, tmp / f"{t}.parquet")
        dk.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{tmp / t}.parquet')")
    return con, dk


def rows(r: list[tuple]) -> list[tuple]:
    return sorted(r, key=repr)


@settings(max_examples=25, deadline=None)
@given(
    fact=st.lists(st.one_of(st.none(), st.integers(-50, 600)), min_size=1, max_size=400),
    dim=st.lists(st.integers(0, 500), min_size=1, max_size=120, unique=True),
    w=st.integers(0, 100),
    key_type=st.sampled_from([pa.int64(), pa.int32()]),
    threads=st.sampled_from([1, 2]),
)
def test_join_filters_keep_every_answer(
    tmp_path_factory: pytest.TempPathFactory,
    fact: list[int | None],
    dim: list[int],
    w: int,
    key_type: pa.DataType,
    threads: int,
) -> None:
    tmp = tmp_path_factory.mktemp("jf")
    write(tmp, fact, dim, key_type)
    con, dk = engines(tmp, threads)
    for q in QUERIES:
        sql = q.format(w=w)
        assert rows(con.sql(sql).fetchall()) == rows(dk.sql(sql).fetchall()), sql


def analyze(con: minide.Connection, sql: str) -> str:
    return "\n".join(str(v) for row in con.sql("EXPLAIN ANALYZE " + sql).fetchall() for v in row)


def test_explain_says_which_scan_got_keys_and_row_groups_are_skipped(tmp_path: Path) -> None:
    # sorted fact keys: each row group holds a narrow key range, most hold no dimension key
    write(tmp_path, list(range(0, 5000)), list(range(1000, 5000, 40)), pa.int64())
    con, dk = engines(tmp_path, 1)
    sql = "SELECT count(*), sum(f.v) FROM fact f JOIN dim d ON f.k = d.k WHERE d.w < 30"
    assert con.sql(sql).fetchall() == dk.sql(sql).fetchall()
    text = analyze(con, sql)
    fact_line = next(line for line in text.splitlines() if "fact.parquet" in line)
    counters = text.splitlines()[text.splitlines().index(fact_line) + 1]
    assert "keys of 1 join(s) applied" in counters
    skipped, total = map(int, re.search(r"row groups skipped (\d+)/(\d+)", counters).groups())
    assert total == 52 and skipped >= 10  # keys 0..999 hold no dimension key: 10 row groups
    matched = int(re.search(r"matched ([\d,]+)", counters).group(1).replace(",", ""))
    assert matched == con.sql(sql).fetchall()[0][0]  # only rows that join were decoded out
    # a dense build side (every key of its range) is not worth a filter
    dense = "SELECT count(*) FROM fact f JOIN dim d ON f.k = d.k"
    assert "join(s) applied" not in analyze(con, dense.replace("dim d", "fact d"))
    # EXISTS with the dimension outside: built on the left, its keys go to the fact scan
    exists = "SELECT count(*) FROM dim d WHERE d.w < 30 AND EXISTS (SELECT 1 FROM fact f WHERE f.k = d.k)"
    assert con.sql(exists).fetchall() == dk.sql(exists).fetchall()
    assert "build=left" in analyze(con, exists) and "join(s) applied" in analyze(con, exists)
    # a LEFT JOIN keeps every fact row: no keys are pushed
    left = "SELECT count(*) FROM fact f LEFT JOIN dim d ON f.k = d.k AND d.w < 30"
    assert "join(s) applied" not in analyze(con, left)
    assert con.sql(left).fetchall() == dk.sql(left).fetchall()


def test_intersect_and_except_keep_null_keys(tmp_path: Path) -> None:
    """INTERSECT/EXCEPT match NULL with NULL: the side they probe must keep its NULL keys, so
    they push no keys (both sides here hold NULLs and sparse keys)."""
    keys = [None if i % 17 in (1, 12) else i * 7 for i in range(340)]
    write(tmp_path, keys, [1, 2, 3], pa.int64())
    con, dk = engines(tmp_path, 1)
    for op in ("INTERSECT", "EXCEPT"):
        sql = f"SELECT k FROM fact WHERE v < 3 {op} SELECT k FROM fact WHERE v > 5"
        assert rows(con.sql(sql).fetchall()) == rows(dk.sql(sql).fetchall()), sql
