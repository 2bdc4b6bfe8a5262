"""File scans through minide.columnar: Parquet and CSV registered by path, decoded lazily per
query with projection and predicate pushdown. Pruning is checked through the reader's counters
(shown by EXPLAIN ANALYZE) and every answer is compared with DuckDB reading the same file."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import minide
import minide.columnar as mc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minide.errors import UnsupportedError
from minide.sql import tpch


def _same(con: minide.sql.Connection, sql: str, path: Path, ordered: bool = False) -> None:
    ours = con.sql(sql).to_arrow()  # type: ignore[union-attr]
    theirs = duckdb.sql(sql.replace("FROM t", f"FROM '{path}' t")).fetchall()
    diff = tpch.compare(ours, theirs, ordered=ordered)
    assert diff is None, f"{sql}: {diff}"


def _counters(con: minide.sql.Connection, sql: str) -> tuple[int, int, int]:
    """(row groups skipped, row groups total, pages skipped) of the query's one file scan."""
    text = con.explain(sql, analyze=True)
    m = re.search(r"row groups skipped (\d+)/(\d+) .*pages skipped (\d+)", text)
    assert m is not None, text
    return int(m[1]), int(m[2]), int(m[3])


@pytest.fixture(scope="module")
def sorted_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 row groups of 1000 rows, sorted by k, with a decimal stored as INT64 (as tpchgen does)."""
    n = 10_000
    t = pa.table(
        {
            "k": pa.array(range(n), pa.int64()),
            "d": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i // 100) for i in range(n)]),
            "price": pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(15, 2)),
            "s": pa.array([f"s{i % 7}" for i in range(n)], pa.string()),
            "v": pa.array([None if i % 5 == 0 else i * 0.5 for i in range(n)], pa.float64()),
        }
    )
    path = tmp_path_factory.mktemp("files") / "sorted.parquet"
    pq.write_table(t, path, row_group_size=1000, store_decimal_as_integer=True)
    return path


def test_row_groups_are_pruned_and_results_match(sorted_file: Path) -> None:
    con = minide.connect()
    con.register("t", sorted_file)
    sql = "SELECT count(*), sum(v), min(s) FROM t WHERE k >= 2500 AND k < 3100"
    skipped, total, _ = _counters(con, sql)
    assert total == 10 and skipped == 8
    _same(con, sql, sorted_file)
    # decimals stored as INT64: statistics are unscaled ints in the file
    sql = "SELECT count(*), sum(price) FROM t WHERE price < 12.5"
    assert _counters(con, sql)[0] == 8
    _same(con, sql, sorted_file)
    sql = "SELECT k, s FROM t WHERE d = DATE '2020-01-05' OR k IN (9998, 9999) ORDER BY k"
    assert _counters(con, sql)[0] == 8
    _same(con, sql, sorted_file, ordered=True)


def test_pages_are_pruned_by_the_page_index(tmp_path: Path) -> None:
    n = 20_000
    t = pa.table({"k": pa.array(range(n), pa.int64()), "x": pa.array([i % 13 for i in range(n)])})
    path = tmp_path / "pages.parquet"
    mc.write_parquet(t, path, data_page_size=4096, dictionary=False)
    con = minide.connect()
    con.register("t", path)
    sql = "SELECT count(*), sum(x) FROM t WHERE k BETWEEN 100 AND 300"
    skipped, total, pages = _counters(con, sql)
    assert total == 1 and skipped == 0 and pages > 0
    _same(con, sql, path)


def test_explain_shows_pushed_columns_and_filter(sorted_file: Path) -> None:
    con = minide.connect()
    con.register("t", sorted_file)
    text = con.explain("SELECT s FROM t WHERE k > 10 AND s LIKE 's1%'")
    line = next(x for x in text.splitlines() if "ParquetScan" in x)
    assert "columns=[k, s]" in line
    assert '"k" > 10' in line and "LIKE" not in line  # LIKE stays in the Rust scan


def test_unprunable_filters_still_give_exact_results(sorted_file: Path) -> None:
    con = minide.connect()
    con.register("t", sorted_file)
    for sql in [
        "SELECT count(*) FROM t WHERE v IS NULL",
        "SELECT count(*), sum(k) FROM t WHERE s <> 's3' AND v > 100",
        "SELECT s, count(*) FROM t WHERE NOT (k < 5000) GROUP BY s",
        "SELECT count(*) FROM t",
    ]:
        _same(con, sql, sorted_file)


def test_scans_are_lazy(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    mc.write_parquet(pa.table({"a": [1, 2, 3]}), path)
    con = minide.connect()
    con.register("t", path)
    mc.write_parquet(pa.table({"a": [10, 20, 30, 40]}), path)  # replaced after registration
    assert con.sql("SELECT count(*), sum(a) FROM t").fetchall() == [(4, 100)]  # type: ignore[union-attr]


def test_csv_scan_with_projection(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    lines = ["id,name,amount,day"] + [
        f"{i},n{i % 4},{'' if i % 6 == 0 else i * 1.25},2021-03-{1 + i % 28:02d}"
        for i in range(500)
    ]
    path.write_text("\n".join(lines) + "\n")
    con = minide.connect()
    con.register("t", path)
    sql = "SELECT name, count(*), sum(amount) FROM t WHERE day < DATE '2021-03-10' GROUP BY name"
    _same(con, sql, path)
    line = next(x for x in con.explain(sql).splitlines() if "CsvScan" in x)
    assert "columns=[name, amount, day]" in line
    with pytest.raises(UnsupportedError, match="registered file"):
        con.sql("INSERT INTO t VALUES (1, 'a', 2.0, DATE '2020-01-01')")


OPS = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
CONDS = st.one_of(
    st.tuples(st.just("a"), OPS, st.integers(-5, 30)).map(lambda t: f"a {t[1]} {t[2]}"),
    st.tuples(st.just("b"), OPS, st.sampled_from(["'p'", "'q'", "'r'", "''"])).map(
        lambda t: f"b {t[1]} {t[2]}"
    ),
    st.tuples(OPS, st.sampled_from(["0.5", "2", "-1.25"])).map(lambda t: f"c {t[0]} {t[1]}"),
    st.tuples(OPS, st.sampled_from(["1.50", "-2", "0.005"])).map(lambda t: f"d {t[0]} {t[1]}"),
    st.tuples(OPS, st.integers(0, 12)).map(lambda t: f"e {t[0]} DATE '2021-01-{t[1] + 1:02d}'"),
    st.sampled_from(
        [
            "a IS NULL",
            "c IS NOT NULL",
            "a IN (1, 7, 20)",
            "b IN ('p', 'r')",
            "NOT (a < 5)",
            "NOT (b = 'q' OR d > 0)",
            "a NOT IN (2, 3)",
            "a = 2.5",
            "a > 2.5",
            "d IN (1.50, 0.25)",
            "e IS NULL",
        ]
    ),
)
PREDS = st.lists(CONDS, min_size=1, max_size=3).map(
    lambda cs: " AND ".join(cs) if len(cs) < 3 else f"({cs[0]} OR {cs[1]}) AND {cs[2]}"
)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-3, 25)),
        st.sampled_from([None, "p", "q", "r"]),
        st.sampled_from([None, -1.25, 0.5, 2.0, 3.5]),
        st.sampled_from([None, "1.50", "-2.00", "0.25", "0.01"]),
        st.one_of(st.none(), st.integers(0, 12)),
    ),
    min_size=0,
    max_size=40,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, pred=PREDS, sort=st.booleans())
def test_pushdown_differential(tmp_path: Path, rows: list[Any], pred: str, sort: bool) -> None:
    """Random predicates with NULLs over small row groups: same answer as DuckDB."""
    if sort:
        rows = sorted(rows, key=lambda r: (r[0] is None, r[0] or 0))
    t = pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.int64()),
            "b": pa.array([r[1] for r in rows], pa.string()),
            "c": pa.array([r[2] for r in rows], pa.float64()),
            "d": pa.array(
                [None if r[3] is None else Decimal(r[3]) for r in rows], pa.decimal128(5, 2)
            ),
            "e": pa.array(
                [None if r[4] is None else dt.date(2021, 1, 1 + r[4]) for r in rows], pa.date32()
            ),
        }
    )
    path = tmp_path / "d.parquet"
    mc.write_parquet(t, path, row_group_size=7)
    con = minide.connect()
    con.register("t", path)
    _same(con, f"SELECT a, b, c, d, e FROM t WHERE {pred}", path)


def test_pruning_decision_follows_a_rewritten_file(tmp_path: Path) -> None:
    """Pruning decisions (and the cached 'page index skips pages' check) follow the file's
    version: rewriting the file (different size/mtime) must redo them."""
    path = tmp_path / "r.parquet"
    sql = "SELECT count(*) FROM t WHERE k >= 2500"
    pq.write_table(pa.table({"k": pa.array(range(4000), pa.int64())}), path, row_group_size=1000)
    con = minide.connect()
    con.register("t", path)
    for _ in range(2):  # second run: from the cache
        assert _counters(con, sql)[:2] == (2, 4)
        _same(con, sql, path)
    # every row group now may match: nothing pruned
    pq.write_table(
        pa.table({"k": pa.array(range(3000, 9000), pa.int64())}), path, row_group_size=1000
    )
    assert _counters(con, sql)[:2] == (0, 6)
    _same(con, sql, path)


@pytest.mark.parametrize("on", [True, False])
def test_keep_freed_memory_switch(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """``minide.sql.keep_freed_memory(False)`` leaves glibc's allocator settings alone; on (the
    default) tunes them once per process at the first file scan."""
    import ctypes

    import minide.sql
    from minide import _memory as sources

    seen: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            seen.append((param, value))
            return 1

    monkeypatch.setattr(sources, "_malloc_tuned", False)
    monkeypatch.setattr(sources, "_keep_freed", True)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    minide.sql.keep_freed_memory(on)
    sources.tune_once()
    assert seen == ([(-1, 512 << 20), (-3, 64 << 20)] if on else [])
    sources.tune_once()  # once per process
    assert len(seen) == (2 if on else 0)


def test_keep_freed_memory_off_after_tuning_restores_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctypes

    import minide.sql
    from minide import _memory as sources

    seen: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            seen.append((param, value))
            return 1

    monkeypatch.setattr(sources, "_malloc_tuned", False)
    monkeypatch.setattr(sources, "_keep_freed", True)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    sources.tune_once()
    minide.sql.keep_freed_memory(False)
    assert seen[2:] == [(-1, 128 << 10), (-3, 128 << 10)]
    sources.tune_once()  # stays off
    assert len(seen) == 4
    minide.sql.keep_freed_memory(True)
    sources.tune_once()
    assert len(seen) == 6


def test_library_reads_no_minide_environment_variables() -> None:
    """No hidden switches: the SQL file sources and the memory switch never read the
    environment."""
    import inspect

    import minide._memory
    import minide.sql.sources

    for mod in (minide.sql.sources, minide._memory):
        text = inspect.getsource(mod)
        assert "os.environ" not in text and "getenv" not in text
