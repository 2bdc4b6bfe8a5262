"""TPC-H through minide.sql vs DuckDB on the same data and thread count.

Sizes: tiny = SF 0.01, small = SF 0.1, large = SF 1 (Parquet generated once by tpchgen-cli and
cached under $MINIDE_CACHE (read here, by the bench) or the temp dir, outside the repository). Two sources:

- ``files`` (default for large): both engines scan the same Parquet files on every query (minide
  registers the paths and decodes lazily with pushdown; DuckDB gets views over read_parquet);
- ``memory`` (default for tiny/small): the tables decoded once, minide registers the Arrow tables
  and DuckDB copies them into native tables.

Set MINIDE_SQL_BENCH_SOURCE=files|memory to choose. Every case first checks that both engines
return the same rows (floats to 1e-9 relative). The harness prints the geometric mean of the
ratios per thread count.

Threads: the harness sets ``con.set("threads", n)`` and DuckDB's ``SET threads = n`` before each
case and reads both back. Both return Arrow (minide ``to_arrow()``, DuckDB ``to_arrow_table()``).

Caches, the same on both sides: each query is parsed, bound, optimized and planned on every call
(no prepared statements, no plan or result cache on either side); ``memory`` tables are decoded
once, before timing, into each engine's own storage (Arrow tables for minide, native tables for
DuckDB); over ``files``, minide keeps each file open with its decoded footer (re-checked by
size, mtime and inode), and DuckDB gets ``SET parquet_metadata_cache = true`` so that it keeps
the decoded footers too; the files' pages are in the OS page cache for both after warm-up.
Both thread counts share one connection per engine: a second DuckDB database in the process
trims glibc's heap (``malloc_trim``), which only minide allocates from.
"""

from __future__ import annotations

import os
from typing import Any

import duckdb
import minide
import minide.columnar
from minide.bench import Case
from minide.bench.pools import DuckDB, MinideSQL
from minide.sql import tpch

SCALES = {"tiny": 0.01, "small": 0.1, "large": 1.0}
QUERIES = list(range(1, 23))


def _statements(sql: str) -> list[str]:
    return [s for s in sql.split(";") if s.strip()]


def _minide_runner(con: Any, sql: str) -> Any:
    stmts = _statements(sql)

    def run() -> Any:
        out = None
        for s in stmts:
            rel = con.sql(s)
            if rel is not None:
                out = rel.to_arrow()
        return out

    return run


def _duckdb_runner(dk: Any, sql: str) -> Any:
    stmts = _statements(sql.replace("day (3)", "day"))

    def run() -> Any:
        out = None
        for s in stmts:
            if s.strip().lower().startswith(("create", "drop")):
                dk.execute(s)
            else:
                out = dk.sql(s).to_arrow_table()
        return out

    return run


def _verify(q: int, ordered: bool) -> Any:
    def check(ours: Any, theirs: Any) -> None:
        diff = tpch.compare(ours, theirs, ordered=ordered)
        if diff is not None:
            raise AssertionError(f"TPC-H Q{q}: minide and DuckDB differ: {diff}")

    return check


def cases(size: str) -> list[Case]:
    scale = SCALES[size]
    source = os.environ.get("MINIDE_SQL_BENCH_SOURCE", "files" if size == "large" else "memory")
    if source not in ("files", "memory"):
        raise ValueError(f"MINIDE_SQL_BENCH_SOURCE must be files or memory, got {source!r}")
    root = tpch.generate(scale, os.environ.get("MINIDE_CACHE"))
    data = tpch.load(scale) if source == "memory" else None
    out: list[Case] = []
    rows = minide.columnar.ParquetFile(root / "lineitem.parquet").num_rows
    # One connection per engine for every thread count (the harness sets the count per case):
    # a second DuckDB database in the process made minide page-fault ~4x as much, since DuckDB
    # calls glibc's malloc_trim(0) (Allocator::FlushAll), returning the heap minide keeps for
    # reuse (minide.keep_freed_memory) to the kernel.
    con = minide.connect()
    dk = duckdb.connect()
    if data is None:
        dk.execute("SET parquet_metadata_cache = true")
    for name in tpch.TABLES:
        if data is None:
            con.register(name, root / f"{name}.parquet")
            dk.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{root / name}.parquet')")
            continue
        con.register(name, data[name])
        dk.register("src", data[name])
        dk.execute(f"CREATE TABLE {name} AS SELECT * FROM src")
        dk.unregister("src")
    for threads in (1, 2):
        for q in QUERIES:
            sql = tpch.query(q)
            out.append(
                Case(
                    name=f"tpch-sf{scale}-{source}-q{q:02d}",
                    minide=_minide_runner(con, sql),
                    baseline=_duckdb_runner(dk, sql),
                    baseline_name="duckdb",
                    threads=threads,
                    repeat=3 if size != "tiny" else 2,
                    items=rows,
                    verify=_verify(q, "order by" in sql.lower()),
                    minide_pools=[MinideSQL(con)],
                    baseline_pools=[DuckDB(dk)],
                )
            )
    return out
