"""Parameters and streamed fetches of the DB-API face, against DuckDB as the oracle.

Random values bound through ``?`` must give DuckDB's answer for the same SQL and the same
parameters; a string parameter is data whatever SQL it holds; ``fetchmany`` on a big result
converts only the chunks it needs.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc

import duckdb
import minide.sql as driver
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.sql.dbapi import CHUNK_ROWS

TABLE = pa.table(
    {
        "i": pa.array([None, -(2**63), -5, 0, 3, 7, 2**63 - 1], pa.int64()),
        "f": pa.array([1.5, None, -0.5, -1e300, 2.25, 3.0, float("inf")], pa.float64()),
        "s": pa.array(["", "a", "B", None, "héllo", "x' OR '1'='1", "zz"], pa.string()),
        "d": pa.array(
            [
                dt.date(1970, 1, 1),
                dt.date(1, 1, 1),
                None,
                dt.date(2024, 2, 29),
                dt.date(1969, 12, 31),
                dt.date(9999, 12, 31),
                dt.date(2000, 1, 1),
            ],
            pa.date32(),
        ),
        "ts": pa.array(
            [
                dt.datetime(1970, 1, 1),
                None,
                dt.datetime(2024, 2, 29, 12, 0, 0, 1),
                dt.datetime(1900, 6, 1, 23, 59, 59),
                dt.datetime(2100, 1, 1),
                dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
                dt.datetime(2000, 1, 1, 0, 0, 1),
            ],
            pa.timestamp("us"),
        ),
    }
)

_con = driver.connect(threads=1)
_con.register("t", TABLE)
_duck = duckdb.connect()
_duck.register("t", TABLE)

ints = st.integers(-(2**63), 2**63 - 1)
small_ints = st.integers(-1000, 1000)
floats = st.floats(allow_nan=False, width=64)
texts = st.text(st.characters(min_codepoint=1, blacklist_categories=("Cs",)), max_size=12)
dates = st.dates()
datetimes = st.datetimes()  # naive, microsecond precision, years 1..9999
bools = st.booleans()
any_value = st.one_of(st.none(), ints, floats, texts, bools, dates, datetimes)


def _both(sql: str, params: list) -> tuple[list, list]:
    got = _con.execute(sql, params).fetchall()
    want = _duck.execute(sql, params).fetchall()
    return got, want


@given(any_value)
def test_select_parameter_matches_duckdb(v: object) -> None:
    got, want = _both("SELECT ?", [v])
    assert got == want
    assert got[0][0] == v or (v is None and got[0][0] is None)
    assert type(got[0][0]) is type(want[0][0])


@given(st.one_of(st.none(), ints))
def test_int_filter(v: int | None) -> None:
    got, want = _both("SELECT count(*), sum(CASE WHEN i < ? THEN 1 ELSE 0 END) FROM t", [v])
    assert got == want
    got, want = _both("SELECT i FROM t WHERE i >= ? ORDER BY i", [v])
    assert got == want


@given(small_ints, small_ints)
def test_int_between_and_arithmetic(a: int, b: int) -> None:
    got, want = _both("SELECT i FROM t WHERE i BETWEEN ? AND ? ORDER BY i", [min(a, b), max(a, b)])
    assert got == want
    got, want = _both("SELECT i * ? + ? FROM t WHERE i BETWEEN -10 AND 10 ORDER BY 1", [a, b])
    assert got == want


@given(st.one_of(floats, small_ints))
def test_float_filter(v: float) -> None:
    got, want = _both("SELECT f FROM t WHERE f >= ? ORDER BY f", [v])
    assert got == want


def test_negative_zero_compares_equal_to_zero() -> None:
    """-0.0 = 0.0 (IEEE, DuckDB) in filters, projections, joins and ORDER BY; NaN stays the
    largest value, equal to itself."""
    con = driver.connect(threads=1)
    con.register("z", pa.table({"f": [-0.0, float("nan"), 1.0, 0.0]}))
    assert con.execute("SELECT f >= ?, f = ? FROM z LIMIT 1", [0.0, 0.0]).fetchall() == [
        (True, True)
    ]
    assert con.execute("SELECT count(*) FROM z WHERE f = ?", [0.0]).fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM z WHERE f > ?", [1.0]).fetchone() == (1,)
    got = [r[0] for r in con.execute("SELECT f FROM z ORDER BY f").fetchall()]
    assert got[:2] == [0.0, 0.0] and got[2] == 1.0 and got[3] != got[3]
    dk = duckdb.connect()
    dk.register("z", pa.table({"f": [-0.0, float("nan"), 1.0, 0.0]}))
    q = "SELECT count(*) FROM z a JOIN z b ON a.f = b.f"
    assert con.execute(q).fetchone() == dk.execute(q).fetchone()


@given(st.one_of(st.none(), texts), texts)
def test_string_filter(a: str | None, b: str) -> None:
    got, want = _both("SELECT s FROM t WHERE s = ? OR s < ? ORDER BY s", [a, b])
    assert got == want
    got, want = _both("SELECT coalesce(s, ?) || ? FROM t ORDER BY 1 NULLS LAST", [a, b])
    assert got == want


@given(st.one_of(st.none(), dates))
def test_date_filter(v: dt.date | None) -> None:
    got, want = _both("SELECT d FROM t WHERE d <= ? ORDER BY d", [v])
    assert got == want


@given(datetimes)
def test_timestamp_filter(v: dt.datetime) -> None:
    got, want = _both("SELECT ts FROM t WHERE ts > ? ORDER BY ts", [v])
    assert got == want


@settings(max_examples=40)  # DuckDB's executemany takes ~4 ms per parameter set
@given(st.lists(st.tuples(st.one_of(st.none(), small_ints), texts), min_size=1, max_size=12))
def test_executemany_insert_matches_duckdb(rows: list[tuple[int | None, str]]) -> None:
    con = driver.connect(threads=1)
    dk = duckdb.connect()
    for c in (con, dk):
        c.execute("CREATE TABLE x (a BIGINT, b VARCHAR)")
        c.executemany("INSERT INTO x VALUES (?, ?)", rows)
    q = "SELECT a, b FROM x ORDER BY a NULLS FIRST, b"
    assert con.execute(q).fetchall() == dk.execute(q).fetchall()


# ---- parameters are data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "x' OR '1'='1",
        "'; DROP TABLE users; --",
        "bob' --",
        "?",
        "$1",
        "') UNION SELECT name FROM users --",
    ],
)
def test_sql_in_a_parameter_is_data(payload: str) -> None:
    con = driver.connect()
    cur = con.cursor()
    cur.execute("CREATE TABLE users (name VARCHAR)")
    cur.executemany("INSERT INTO users VALUES (?)", [("alice",), ("bob",)])
    cur.execute("SELECT count(*) FROM users WHERE name = ?", [payload])
    assert cur.fetchone() == (0,)
    cur.execute("INSERT INTO users VALUES (?)", [payload])
    cur.execute("SELECT name FROM users WHERE name = $1", [payload])
    assert cur.fetchall() == [(payload,)]
    cur.execute("SELECT count(*) FROM users")
    assert cur.fetchone() == (3,)  # the table is still there, nothing else ran


# ---- streamed fetches ---------------------------------------------------------------------------------


def test_fetchmany_converts_only_what_it_needs() -> None:
    n = 1_000_000
    con = driver.connect()
    con.register("big", pa.table({"x": pa.array(range(n), pa.int64()), "y": pa.array([1.5] * n)}))
    cur = con.execute("SELECT x, y FROM big")
    assert cur.rowcount == n
    rows = cur._result
    assert rows is not None and rows.chunks_converted == 0  # execute converts nothing

    tracemalloc.start()
    first = cur.fetchmany(10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(first) == 10
    assert rows.chunks_converted == 1 and rows.rows_converted <= CHUNK_ROWS
    # a million converted rows would be ~100 MB of tuples, ints and floats
    assert peak < 2_000_000, peak

    more = cur.fetchmany(CHUNK_ROWS)  # crosses into the second chunk only
    assert len(more) == CHUNK_ROWS
    assert rows.chunks_converted == 2
    rest = cur.fetch_arrow_table()  # the remainder stays Arrow
    assert rest.num_rows == n - 10 - CHUNK_ROWS
    assert rows.chunks_converted == 2
    seen = {r[0] for r in first + more} | set(rest.column("x").to_pylist())
    assert seen == set(range(n))
    assert cur.fetchone() is None
