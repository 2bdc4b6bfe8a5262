"""TPC-H through minide.sql vs DuckDB on the same in-memory data and thread count.

Sizes: tiny = SF 0.01, small = SF 0.1, large = SF 1 (generated once by tpchgen-cli and cached
under $MINIDE_CACHE or the temp dir). DuckDB gets the data as native in-memory tables (copied
from the same Arrow tables minide registers) and ``SET threads = N``. Every case first checks
that both engines return the same rows (floats to 1e-9 relative).
"""

from __future__ import annotations

from typing import Any

import duckdb
import minide
from minide.bench import Case
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
                out = dk.sql(s).fetchall()
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
    data = tpch.load(scale)
    out: list[Case] = []
    rows = data["lineitem"].num_rows
    for threads in (1, 2):
        con = minide.connect()
        con.set("threads", threads)
        dk = duckdb.connect()
        dk.execute(f"SET threads = {threads}")
        for name, table in data.items():
            con.register(name, table)
            dk.register("src", table)
            dk.execute(f"CREATE TABLE {name} AS SELECT * FROM src")
            dk.unregister("src")
        for q in QUERIES:
            sql = tpch.query(q)
            out.append(
                Case(
                    name=f"tpch-sf{scale}-q{q:02d}",
                    minide=_minide_runner(con, sql),
                    baseline=_duckdb_runner(dk, sql),
                    baseline_name="duckdb",
                    threads=threads,
                    repeat=3 if size != "tiny" else 2,
                    items=rows,
                    verify=_verify(q, "order by" in sql.lower()),
                )
            )
    return out
