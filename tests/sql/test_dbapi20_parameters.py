"""PEP 249 compliance suite, part two (part one: ``test_dbapi20.py``): executemany, both
parameter styles (``?`` and ``$n``, bound as typed parameter nodes), None, type objects and
constructors.
"""

from __future__ import annotations

import datetime as dt
import time

import minide.sql as driver
import pyarrow as pa
import pytest
from dbapi20_base import TABLE

# ---- executemany and parameters ------------------------------------------------------------------


def test_executemany_insert(cur: driver.Cursor) -> None:
    cur.executemany(f"INSERT INTO {TABLE} VALUES (?)", [("Cooper's",), ("Boag's",)])
    assert cur.rowcount == 2
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    assert cur.fetchall() == [("Boag's",), ("Cooper's",)]
    cur.executemany(f"INSERT INTO {TABLE} VALUES ($1)", iter([["x"], ["y"], ["z"]]))
    assert cur.rowcount == 3
    cur.executemany(f"INSERT INTO {TABLE} VALUES (?)", [])
    assert cur.rowcount == -1


def test_executemany_insert_batches_parameter_sets(
    con: driver.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minide.sql import connection

    calls: list[int] = []
    real = connection.Connection._insert

    def counting(self: driver.Connection, stmt: object, params: tuple) -> int:
        calls.append(len(params))
        return real(self, stmt, params)

    monkeypatch.setattr(connection.Connection, "_insert", counting)
    cur = con.cursor()
    cur.execute("CREATE TABLE m (a BIGINT, b VARCHAR, c DATE)")
    n = 2 * connection._MANY_ROWS + 5
    day = dt.date(2024, 1, 1)
    cur.executemany(
        "INSERT INTO m (c, a, b) VALUES (?, ?, ?)",
        ((day, i, None if i % 3 else str(i)) for i in range(n)),
    )
    assert cur.rowcount == n
    assert len(calls) == 3  # three statements, not one per parameter set
    cur.execute("SELECT count(*), sum(a), count(b), min(c), max(c) FROM m")
    assert cur.fetchone() == (n, n * (n - 1) // 2, len(range(0, n, 3)), day, day)


def test_executemany_mixed_types_stay_exact(con: driver.Connection) -> None:
    # one position gets an int and a float: inserted row by row, so the big int stays exact
    cur = con.cursor()
    cur.execute("CREATE TABLE m (a BIGINT, d DATE)")
    cur.executemany("INSERT INTO m VALUES (?, ?)", [(2**62 + 1, "2024-01-02"), (0.25, None)])
    assert cur.rowcount == 2
    cur.execute("SELECT a, d FROM m ORDER BY a")
    assert cur.fetchall() == [(0, None), (2**62 + 1, dt.date(2024, 1, 2))]


def test_executemany_select_keeps_last_result(con: driver.Connection) -> None:
    cur = con.executemany("SELECT ? * 2 AS x", [(1,), (2,), (3,)])
    assert cur.fetchall() == [(6,)]
    assert cur.rowcount == 1


def test_executemany_bad_row_count(cur: driver.Cursor) -> None:
    with pytest.raises(driver.ProgrammingError, match="wrong number of parameters"):
        cur.executemany(f"INSERT INTO {TABLE} VALUES (?)", [("a",), ("b", "c")])


def test_qmark_and_numeric_styles(con: driver.Connection) -> None:
    assert con.execute("SELECT ?, ?", [1, "a"]).fetchall() == [(1, "a")]
    assert con.execute("SELECT $2, $1, $2", [1, "a"]).fetchall() == [("a", 1, "a")]
    assert con.execute("SELECT 1 WHERE ? < $2".replace("$2", "?"), [1, 2]).fetchall() == [(1,)]


def test_placeholders_in_strings_and_comments_are_text(con: driver.Connection) -> None:
    sql = "SELECT '?' AS a, '$1' AS b, ? AS c /* ? */ -- $1 ?"
    assert con.execute(sql, ["x"]).fetchall() == [("?", "$1", "x")]
    assert con.execute('SELECT ?::INTEGER + 1 AS "why?"', ["41"]).fetchall() == [(42,)]


def test_parameter_errors(con: driver.Connection) -> None:
    with pytest.raises(driver.ProgrammingError, match="mix"):
        con.execute("SELECT ?, $1", [1])
    with pytest.raises(driver.ProgrammingError, match=r"1 placeholder \(\?\) but 2"):
        con.execute("SELECT ?", [1, 2])
    with pytest.raises(driver.ProgrammingError, match="2 placeholders"):
        con.execute("SELECT ?, ?", [1])
    with pytest.raises(driver.ProgrammingError, match="no placeholders"):
        con.execute("SELECT 1", [1])
    with pytest.raises(driver.ProgrammingError, match=r"\$1\.\.\$n"):
        con.execute("SELECT $3", [1, 2])
    with pytest.raises(driver.ProgrammingError, match="start at \\$1"):
        con.execute("SELECT $0", [1])
    with pytest.raises(driver.ProgrammingError, match="unsupported type bytes"):
        con.execute("SELECT ?", [b"x"])
    with pytest.raises(driver.ProgrammingError, match="named parameters"):
        con.execute("SELECT ?", {"a": 1})
    with pytest.raises(driver.ProgrammingError, match="sequence"):
        con.execute("SELECT ?", "a")
    with pytest.raises(driver.DataError, match="out of range"):
        con.execute("SELECT ?", [2**63])
    with pytest.raises(driver.ProgrammingError, match="cannot have parameters"):
        con.execute("CREATE VIEW v AS SELECT ? AS x", [1])
    # the placeholder is an expression, not text: this is a syntax error, not an identifier
    with pytest.raises(driver.ProgrammingError):
        con.execute("SELECT * FROM ?", ["t"])


def test_none_parameters_and_results(cur: driver.Cursor) -> None:
    cur.execute(f"INSERT INTO {TABLE} VALUES (?)", [None])
    cur.execute(f"SELECT name FROM {TABLE}")
    assert cur.fetchall() == [(None,)]
    cur.execute(f"SELECT count(*) FROM {TABLE} WHERE name IS NULL")
    assert cur.fetchone() == (1,)
    cur.execute("SELECT ? IS NULL, coalesce(?, 5)", [None, None])
    assert cur.fetchone() == (True, 5)
    # a None takes the type of the column it goes into, whatever that type is
    cur.execute("CREATE TABLE n (a BIGINT, d DATE, t TIMESTAMP, b BOOLEAN, f DOUBLE)")
    cur.execute("INSERT INTO n VALUES (?, ?, ?, ?, ?)", [None] * 5)
    cur.executemany("INSERT INTO n (d, a) VALUES (?, ?)", [(None, 1), (None, None)])
    cur.execute("INSERT INTO n (t) VALUES (NULL)")
    cur.execute("SELECT count(*), count(a), count(d), count(t), count(b), count(f) FROM n")
    assert cur.fetchone() == (4, 1, 0, 0, 0, 0)


def test_parameter_types_round_trip(con: driver.Connection) -> None:
    import decimal

    d = dt.date(2024, 2, 29)
    ts = dt.datetime(2024, 2, 29, 12, 30, 1, 123456)
    row = con.execute(
        "SELECT ?, ?, ?, ?, ?, ?, ?", [7, 2.5, "héllo", True, d, ts, decimal.Decimal("1.25")]
    ).fetchone()
    assert row == (7, 2.5, "héllo", True, d, ts, 1.25)
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    # an aware datetime is an instant (TIMESTAMP WITH TIME ZONE), returned in UTC, as DuckDB does
    (back,) = con.execute("SELECT ?", [aware]).fetchone()
    assert back == aware and back.utcoffset() == dt.timedelta(0)
    # parameters are typed: an int parameter in arithmetic stays an int, a date compares as a date
    assert con.execute("SELECT ? + 1, ? - 1", [1, d]).fetchone() == (2, dt.date(2024, 2, 28))


def test_parameters_in_limit_and_values(con: driver.Connection) -> None:
    con.register("t", pa.table({"x": list(range(10))}))
    assert con.execute("SELECT x FROM t ORDER BY x LIMIT ? OFFSET ?", [2, 3]).fetchall() == [
        (3,),
        (4,),
    ]
    assert con.execute("VALUES (?, ?), (?, ?)", [1, "a", 2, "b"]).fetchall() == [
        (1, "a"),
        (2, "b"),
    ]


def test_sql_relation_with_params(con: driver.Connection) -> None:
    con.register("t", pa.table({"x": [1, 2, 3]}))
    rel = con.sql("SELECT sum(x) AS s FROM t WHERE x >= $1", [2])
    assert rel is not None and rel.fetchall() == [(5,)]
    assert rel.to_arrow().column("s").to_pylist() == [5]


# ---- type objects and constructors ----------------------------------------------------------------


def test_constructors() -> None:
    assert driver.Date(2002, 12, 25) == dt.date(2002, 12, 25)
    assert driver.Time(13, 45, 30) == dt.time(13, 45, 30)
    assert driver.Timestamp(2002, 12, 25, 13, 45, 30) == dt.datetime(2002, 12, 25, 13, 45, 30)
    t = time.mktime((2002, 12, 25, 13, 45, 30, 0, 0, -1))
    assert driver.DateFromTicks(t) == dt.date(2002, 12, 25)
    assert driver.TimeFromTicks(t) == dt.time(13, 45, 30)
    assert driver.TimestampFromTicks(t) == dt.datetime(2002, 12, 25, 13, 45, 30)
    assert driver.Binary(b"Something") == b"Something"
    assert driver.Binary(b"") == b""


def test_type_objects() -> None:
    assert driver.STRING == "utf8" and driver.STRING == pa.large_string()  # noqa: SIM300 (both operand orders on purpose)
    assert driver.NUMBER == "int64" and driver.NUMBER == pa.float64()  # noqa: SIM300 (both operand orders on purpose)
    assert driver.NUMBER == pa.decimal128(10, 2) and driver.NUMBER != pa.string()  # noqa: SIM300 (both operand orders on purpose)
    assert driver.DATETIME == "date32" and driver.DATETIME == pa.timestamp("us")  # noqa: SIM300 (both operand orders on purpose)
    assert driver.ROWID != pa.int64()  # noqa: SIM300 (both operand orders on purpose)
    assert driver.STRING != driver.NUMBER and driver.STRING == driver.STRING
    assert len({driver.STRING, driver.BINARY, driver.NUMBER, driver.DATETIME, driver.ROWID}) == 5


def test_date_parameters_via_constructors(con: driver.Connection) -> None:
    cur = con.cursor()
    cur.execute("CREATE TABLE d (a DATE, b TIMESTAMP)")
    cur.execute(
        "INSERT INTO d VALUES (?, ?)",
        [driver.Date(2002, 12, 25), driver.Timestamp(2002, 12, 25, 13, 45, 30)],
    )
    cur.execute("SELECT a, b FROM d")
    assert cur.fetchone() == (dt.date(2002, 12, 25), dt.datetime(2002, 12, 25, 13, 45, 30))
