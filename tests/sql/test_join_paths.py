"""The join/filter fast paths against DuckDB on random tables with NULLs:

- ``select_rows`` (rust/sql/src/expr/select.rs): conjunctions evaluated one conjunct at a time
  over the rows still selected, with direct tests for ``col op literal``, ``col op col`` and
  ``col [NOT] IN (strings)``;
- dense integer join tables (rust/sql/src/ops/hash_join.rs) next to hashed ones with and
  without a key-range bit filter: keys from a narrow, a middling and a wide range, negative,
  duplicated and NULL;
- the ``semijoin_reduction`` pass: a decorrelated aggregate semi-joined with the keys the other
  side can supply (TPC-H Q17/Q20's shape), checked against DuckDB and with the pass off;
- ``implied_on`` in ``predicate_pushdown``: per-side predicates implied by an OR of ANDs
  (TPC-H Q19's shape).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import minide
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.sql import tpch

DAY0 = dt.date(1995, 1, 1)
INTS = st.one_of(st.none(), st.integers(-5, 5))
STRS = st.sampled_from([None, "AIR", "AIR REG", "MAIL", "SHIP", "", "A"])
FLOATS = st.sampled_from([None, -1.5, 0.0, -0.0, 2.0, 7.25, float("nan")])
DATES = st.one_of(st.none(), st.integers(-3, 3).map(lambda d: DAY0 + dt.timedelta(days=d)))
ROWS = st.lists(st.tuples(INTS, INTS, STRS, FLOATS, DATES, DATES), max_size=40)


def _table(rows: list[Any]) -> pa.Table:
    return pa.table(
        {
            "a": pa.array([r[0] for r in rows], pa.int64()),
            "b": pa.array([r[1] for r in rows], pa.int64()),
            "s": pa.array([r[2] for r in rows], pa.string()),
            "f": pa.array([r[3] for r in rows], pa.float64()),
            "d1": pa.array([r[4] for r in rows], pa.date32()),
            "d2": pa.array([r[5] for r in rows], pa.date32()),
        }
    )


def _run(tables: dict[str, pa.Table], sql: str, disable: tuple[str, ...] = ()) -> Any:
    con = minide.connect()
    for n, t in tables.items():
        con.register(n, t)
    for name in disable:
        con.disable_optimizer(name)
    return con, con.sql(sql).to_arrow()


def _duck(tables: dict[str, pa.Table], sql: str) -> Any:
    dk = duckdb.connect()
    for n, t in tables.items():
        dk.register(n, t)
    return dk.sql(sql).fetchall()


CONJUNCTS = st.sampled_from(
    [
        "a > 0",
        "0 >= a",
        "a <> b",
        "a <= b",
        "b = -2",
        "s = 'AIR'",
        "s <> 'MAIL'",
        "s >= 'B'",
        "s IN ('AIR', 'AIR REG')",
        "s NOT IN ('SHIP', '')",
        "s IN ('A', NULL)",
        "f > 0.0",
        "f = 0.0",
        "f <> 2.0",
        "f < 'NaN'::DOUBLE",
        "d1 < d2",
        "d1 >= DATE '1995-01-01'",
        "d2 <> DATE '1994-12-30'",
        "a + b > 1",
        "s LIKE 'A%'",
        "(a > 1 OR s = 'SHIP')",
        "NOT (b < 0)",
        "f IS NULL",
    ]
)


@settings(max_examples=60, deadline=None)
@given(ROWS, st.lists(CONJUNCTS, min_size=1, max_size=4))
def test_conjunctions_match_duckdb(rows: list[Any], parts: list[str]) -> None:
    tables = {"t": _table(rows)}
    where = " AND ".join(parts)
    sql = f"SELECT a, b, s, f, d1 FROM t WHERE {where}"
    theirs = _duck(tables, sql)
    for threads in (1, 2):
        con = minide.connect()
        con.set("threads", threads)
        con.register("t", tables["t"])
        ours = con.sql(sql).to_arrow()
        assert tpch.compare(ours, theirs, ordered=False) is None, sql
    # without pushdown the predicate stays in a Filter operator instead of the scan
    _, ours2 = _run(tables, sql, disable=("predicate_pushdown",))
    assert tpch.compare(ours2, theirs, ordered=False) is None, sql


KEYS_NARROW = st.one_of(st.none(), st.integers(-3, 6))
KEYS_WIDE = st.one_of(st.none(), st.sampled_from([-(2**62), -7, 0, 5, 2**40, 2**62, 3]))
# too spread for a dense table, narrow enough for the hashed table's bit filter
KEYS_MID = st.one_of(
    st.none(), st.sampled_from([-1_000_000, 0, 3, 63, 64, 1_999_999, 2_000_000, 4_999_999])
)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([KEYS_NARROW, KEYS_MID, KEYS_WIDE]).flatmap(
        lambda k: st.tuples(st.lists(k, max_size=30), st.lists(k, max_size=12))
    ),
    st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]),
)
def test_integer_key_joins_match_duckdb(keys: tuple[list[Any], list[Any]], kind: str) -> None:
    left, right = keys
    tables = {
        "l": pa.table({"k": pa.array(left, pa.int64()), "i": pa.array(range(len(left)))}),
        "r": pa.table({"k": pa.array(right, pa.int64()), "j": pa.array(range(len(right)))}),
    }
    for sql in (
        f"SELECT l.i, r.j FROM l {kind} r ON l.k = r.k",
        "SELECT l.i FROM l WHERE l.k IN (SELECT k FROM r)",
        "SELECT l.i FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k)",
        "SELECT l.i FROM l WHERE l.k NOT IN (SELECT k FROM r)",
    ):
        _, ours = _run(tables, sql)
        assert tpch.compare(ours, _duck(tables, sql), ordered=False) is None, sql


# TPC-H Q17's shape: the outer side keeps few keys, the subquery aggregates over all of them.
Q17_LIKE = """
SELECT sum(t.a) AS total, count(*) AS n
FROM t, p
WHERE p.k = t.b AND p.tag = 'keep'
  AND t.a < (SELECT 2 * avg(t2.a) FROM t AS t2 WHERE t2.b = p.k)
"""
# TPC-H Q20's shape: two correlation keys, the keys reach the aggregate through a semi join.
Q20_LIKE = """
SELECT q.k, q.m FROM q
WHERE q.k IN (SELECT k FROM p WHERE tag = 'keep')
  AND q.m > (SELECT sum(t.a) FROM t WHERE t.b = q.k AND t.a = q.m AND t.f IS NOT NULL)
"""


def _reduction_tables(t_rows: list[Any], p_rows: list[Any], q_rows: list[Any]) -> dict[str, Any]:
    return {
        "t": _table(t_rows),
        "p": pa.table(
            {
                "k": pa.array([r[0] for r in p_rows], pa.int64()),
                "tag": pa.array([r[1] for r in p_rows], pa.string()),
            }
        ),
        "q": pa.table(
            {
                "k": pa.array([r[0] for r in q_rows], pa.int64()),
                "m": pa.array([r[1] for r in q_rows], pa.int64()),
            }
        ),
    }


P_ROWS = st.lists(st.tuples(INTS, st.sampled_from(["keep", "drop", None])), max_size=10)
Q_ROWS = st.lists(st.tuples(INTS, INTS), max_size=15)


@settings(max_examples=40, deadline=None)
@given(ROWS, P_ROWS, Q_ROWS, st.sampled_from([Q17_LIKE, Q20_LIKE]))
def test_semijoin_reduction_matches_duckdb(
    t_rows: list[Any], p_rows: list[Any], q_rows: list[Any], sql: str
) -> None:
    tables = _reduction_tables(t_rows, p_rows, q_rows)
    theirs = _duck(tables, sql)
    _, ours = _run(tables, sql)
    assert tpch.compare(ours, theirs, ordered=False) is None
    _, off = _run(tables, sql, disable=("semijoin_reduction",))
    assert tpch.compare(off, theirs, ordered=False) is None


def test_semijoin_reduction_fires_on_the_q17_shape() -> None:
    # many groups in t, a handful of kept keys in p: the estimates favour the rewrite
    t_rows = [(i % 50, i % 400, "AIR", 1.0, None, None) for i in range(2000)]
    p_rows = [(k, "keep" if k % 40 == 0 else f"drop{k % 39}") for k in range(400)]
    tables = _reduction_tables(t_rows, p_rows, [])
    con, ours = _run(tables, Q17_LIKE)
    after = con.explain(Q17_LIKE).split("== after pass semijoin_reduction")[1]
    aggregate_input = after.split("Aggregate group=[b#")[1].splitlines()[1]
    assert "Join semi" in aggregate_input, after
    assert tpch.compare(ours, _duck(tables, Q17_LIKE), ordered=False) is None


@settings(max_examples=40, deadline=None)
@given(ROWS, P_ROWS)
def test_or_of_ands_across_a_join_matches_duckdb(t_rows: list[Any], p_rows: list[Any]) -> None:
    tables = _reduction_tables(t_rows, p_rows, [])
    sql = """
    SELECT t.a, t.s, p.tag FROM t, p
    WHERE (p.k = t.b AND p.tag = 'keep' AND t.a BETWEEN 0 AND 3 AND t.s IN ('AIR', 'MAIL'))
       OR (p.k = t.b AND p.tag IS NULL AND t.a > 2)
       OR (p.k = t.b AND p.tag = 'drop' AND t.f > 0.0)
    """
    _, ours = _run(tables, sql)
    theirs = _duck(tables, sql)
    assert tpch.compare(ours, theirs, ordered=False) is None
    con, _ = _run(tables, sql)
    pushed = con.explain(sql).split("== after pass predicate_pushdown")[1].split("== ")[0]
    scans = {ln.split()[1]: ln for ln in pushed.splitlines() if ln.strip().startswith("Scan ")}
    # each side got the predicate implied about it alone
    assert "filter=" in scans["p"] and "tag#" in scans["p"].split("filter=")[1], pushed
    assert "filter=" in scans["t"] and "a#" in scans["t"].split("filter=")[1], pushed
