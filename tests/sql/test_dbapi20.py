"""PEP 249 compliance suite for minide.sql, modelled on the classic ``dbapi20.py`` tests
(Stuart Bishop's DatabaseAPI20Test): module globals, the exception hierarchy, connection and
cursor methods, description, rowcount, fetch* semantics (also after exhaustion), arraysize,
executemany, both parameter styles, None, type objects and constructors (the last three in
``test_dbapi20_parameters.py``; the shared ``con``/``cur`` fixtures are in ``conftest.py``).
"""

from __future__ import annotations

import threading

import duckdb
import minide
import minide.errors as me
import minide.sql as driver
import pyarrow as pa
import pytest
from dbapi20_base import SAMPLES, TABLE


def _populate(cur: driver.Cursor) -> None:
    for s in SAMPLES:
        cur.execute(f"INSERT INTO {TABLE} VALUES (?)", [s])


# ---- module interface ---------------------------------------------------------------------------


def test_module_globals() -> None:
    assert driver.apilevel == "2.0"
    assert driver.threadsafety in (0, 1, 2, 3)
    assert driver.paramstyle in ("qmark", "numeric", "named", "format", "pyformat")
    assert driver.paramstyle == "qmark"
    assert callable(driver.connect)
    assert minide.connect is driver.connect


def test_exception_hierarchy() -> None:
    assert issubclass(driver.Warning, Exception)
    assert issubclass(driver.Error, Exception)
    for name in ("InterfaceError", "DatabaseError"):
        assert issubclass(getattr(driver, name), driver.Error)
    for name in (
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert issubclass(getattr(driver, name), driver.DatabaseError), name
    # every SQL error is also a MinideError
    assert issubclass(driver.Error, me.MinideError)
    assert issubclass(me.SqlSyntaxError, driver.ProgrammingError)
    assert issubclass(me.PlanError, driver.ProgrammingError)
    assert issubclass(driver.InternalError, me.InternalError)


def test_exceptions_as_connection_attributes(con: driver.Connection) -> None:
    # the optional PEP 249 extension: the same classes as the module's
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(con, name) is getattr(driver, name), name
    assert con.cursor().lastrowid is None


# ---- errors raised for real failures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "cls", "original"),
    [
        ("SELEC 1", driver.ProgrammingError, me.SqlSyntaxError),
        ("SELECT * FROM nope", driver.ProgrammingError, me.PlanError),
        ("SELECT 1 + 'x'", driver.ProgrammingError, me.PlanError),
        ("SELECT CAST(s AS INTEGER) FROM (VALUES ('12x')) v(s)", driver.DataError, None),
    ],
)
def test_errors_map_to_pep249(
    con: driver.Connection, sql: str, cls: type[Exception], original: type[Exception] | None
) -> None:
    cur = con.cursor()
    with pytest.raises(cls) as info:
        cur.execute(sql)
    assert isinstance(info.value, driver.Error)
    assert isinstance(info.value, me.MinideError)
    if original is not None:
        assert isinstance(info.value, original)


@pytest.mark.parametrize(
    ("raised", "pep249"),
    [
        (me.ChecksumError, driver.OperationalError),
        (me.CorruptFileError, driver.OperationalError),
        (me.MinideIOError, driver.OperationalError),
        (me.SchemaError, driver.ProgrammingError),
        (me.UnsupportedError, driver.NotSupportedError),
        (me.StoreClosedError, driver.InterfaceError),
        (me.InternalError, driver.InternalError),
        (me.InvalidArgumentError, driver.ProgrammingError),
        (me.MinideError, driver.DatabaseError),
        (type("FutureError", (me.MinideError,), {}), driver.DatabaseError),
    ],
)
def test_every_minide_error_gets_a_pep249_twin(
    raised: type[me.MinideError], pep249: type[Exception]
) -> None:
    from minide.sql.dbapi import sql_errors

    err = raised("boom")
    err.detail = 7  # type: ignore[attr-defined]
    with pytest.raises(pep249) as info, sql_errors():
        raise err
    assert isinstance(info.value, raised)  # still caught by the original class
    assert isinstance(info.value, driver.Error)
    assert str(info.value) == "boom" and info.value.detail == 7  # type: ignore[attr-defined]
    # inside the executor a bad argument is bad data
    with pytest.raises(driver.DataError), sql_errors(executing=True):
        raise me.InvalidArgumentError("could not convert")


def test_data_error_keeps_its_minide_class(con: driver.Connection) -> None:
    with pytest.raises(driver.DataError) as info:
        con.execute("SELECT CAST(s AS INTEGER) FROM (VALUES ('12x')) v(s)")
    # the executor raised InvalidArgumentError: code catching that still works
    assert isinstance(info.value, me.InvalidArgumentError)
    assert "12x" in str(info.value)


def test_relation_and_register_errors_are_pep249_too(con: driver.Connection, tmp_path) -> None:
    rel = con.sql("SELECT CAST(s AS INTEGER) FROM (VALUES ('x')) v(s)")
    assert rel is not None
    with pytest.raises(driver.DataError):
        rel.to_arrow()
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not a parquet file")
    with pytest.raises(driver.OperationalError) as info:
        con.register("f", bad)
    assert isinstance(info.value, me.CorruptFileError)
    with pytest.raises(driver.ProgrammingError) as info2:
        con.register("f", tmp_path / "missing.bin")
    assert isinstance(info2.value, me.InvalidArgumentError)


# ---- connection ----------------------------------------------------------------------------------


def test_connect_threads() -> None:
    import os

    assert driver.connect()._threads == (os.cpu_count() or 1)
    assert driver.connect(threads=1)._threads == 1
    with pytest.raises(me.InvalidArgumentError):
        driver.connect(threads=0)
    c = driver.connect(threads=1)
    c.set("threads", None)
    assert c._threads == (os.cpu_count() or 1)


def test_commit_and_rollback(con: driver.Connection) -> None:
    con.commit()  # autocommit: nothing to do
    with pytest.raises(driver.NotSupportedError, match="no transactions"):
        con.rollback()


def test_close_makes_connection_unusable() -> None:
    con = driver.connect()
    cur = con.cursor()
    con.close()
    con.close()  # twice is fine
    for call in (
        con.cursor,
        con.commit,
        lambda: con.sql("SELECT 1"),
        lambda: con.execute("SELECT 1"),
        lambda: cur.execute("SELECT 1"),
        lambda: con.register("t", pa.table({"a": [1]})),
    ):
        with pytest.raises(driver.InterfaceError, match="closed"):
            call()
    with pytest.raises(driver.Error):
        cur.fetchall()


def test_context_managers() -> None:
    with driver.connect() as con:
        with con.cursor() as cur:
            assert cur.execute("SELECT 1").fetchall() == [(1,)]
        with pytest.raises(driver.InterfaceError):
            cur.execute("SELECT 1")
    with pytest.raises(driver.InterfaceError):
        con.cursor()


def test_cursor_isolation(con: driver.Connection) -> None:
    # two cursors of one connection see each other's changes (no transactions)
    c1, c2 = con.cursor(), con.cursor()
    c1.execute(f"CREATE TABLE {TABLE} (name VARCHAR)")
    c1.execute(f"INSERT INTO {TABLE} VALUES ('Victoria Bitter')")
    c2.execute(f"SELECT name FROM {TABLE}")
    assert c2.fetchall() == [("Victoria Bitter",)]


# ---- cursor: execute, description, rowcount -------------------------------------------------------


def test_execute_returns_cursor(cur: driver.Cursor) -> None:
    assert cur.execute("SELECT 1 AS x") is cur
    assert cur.execute("SELECT 41 + ?", [1]).fetchall() == [(42,)]


def test_description(cur: driver.Cursor) -> None:
    assert cur.description is None  # after CREATE TABLE
    cur.execute(f"SELECT name FROM {TABLE}")
    assert len(cur.description) == 1
    d = cur.description[0]
    assert len(d) == 7
    assert d[0] == "name"
    assert d[1] == driver.STRING
    assert d[2:6] == (None, None, None, None)
    assert d[6] is True
    cur.execute(f"CREATE TABLE {TABLE}2 (x INTEGER)")
    assert cur.description is None


def test_description_types(con: driver.Connection) -> None:
    cur = con.execute(
        "SELECT 1 AS i, 1.5 AS f, 'a' AS s, DATE '2024-01-02' AS d, "
        "TIMESTAMP '2024-01-02 03:04:05' AS ts, TRUE AS b"
    )
    codes = [d[1] for d in cur.description]
    assert [d[0] for d in cur.description] == ["i", "f", "s", "d", "ts", "b"]
    assert codes[0] == driver.NUMBER and driver.NUMBER == codes[0]  # noqa: SIM300 (both operand orders on purpose)
    assert codes[1] == driver.NUMBER
    assert codes[2] == driver.STRING and codes[2] != driver.NUMBER
    assert codes[3] == driver.DATETIME and codes[4] == driver.DATETIME
    assert all(c != driver.ROWID for c in codes)
    assert codes[0] == pa.int64()  # the type code is the Arrow type
    assert driver.BINARY == pa.binary() and driver.BINARY != pa.string()  # noqa: SIM300 (both operand orders on purpose)


def test_description_decimal_precision_scale() -> None:
    d = driver.dbapi.describe(pa.schema([pa.field("m", pa.decimal128(15, 2))]))
    assert d[0][1] == driver.NUMBER
    assert d[0][4:6] == (15, 2)


def test_rowcount(cur: driver.Cursor) -> None:
    assert cur.rowcount == -1  # DDL
    cur.execute(f"INSERT INTO {TABLE} VALUES ('Victoria Bitter')")
    assert cur.rowcount == 1
    cur.execute(f"INSERT INTO {TABLE} SELECT name FROM {TABLE}")
    assert cur.rowcount == 1
    cur.execute(f"SELECT name FROM {TABLE}")
    assert cur.rowcount == 2  # known: the result is computed at execute


def test_multi_statement_text(cur: driver.Cursor) -> None:
    cur.execute(f"INSERT INTO {TABLE} VALUES ('a'); SELECT count(*) FROM {TABLE}")
    assert cur.fetchall() == [(1,)]


# ---- fetch semantics -----------------------------------------------------------------------------


def test_fetch_without_result_set_raises(cur: driver.Cursor) -> None:
    fresh = cur.connection.cursor()
    for c in (fresh, cur):  # nothing executed; a CREATE TABLE executed
        with pytest.raises(driver.Error):
            c.fetchone()
        with pytest.raises(driver.Error):
            c.fetchmany()
        with pytest.raises(driver.Error):
            c.fetchall()
    cur.execute(f"INSERT INTO {TABLE} VALUES ('x')")
    with pytest.raises(driver.Error):
        cur.fetchone()


def test_fetchone(cur: driver.Cursor) -> None:
    cur.execute(f"SELECT name FROM {TABLE}")
    assert cur.fetchone() is None  # empty table
    assert cur.rowcount == 0
    cur.execute(f"INSERT INTO {TABLE} VALUES ('Victoria Bitter')")
    cur.execute(f"SELECT name FROM {TABLE}")
    assert cur.fetchone() == ("Victoria Bitter",)
    assert cur.fetchone() is None
    assert cur.fetchone() is None  # stays exhausted


def test_fetchmany(cur: driver.Cursor) -> None:
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    assert cur.arraysize == 1
    assert len(cur.fetchmany()) == 1  # arraysize rows by default
    cur.arraysize = 10
    r = cur.fetchmany(3)
    assert [x[0] for x in r] == SAMPLES[1:4]
    r = cur.fetchmany(4)  # only two left
    assert [x[0] for x in r] == SAMPLES[4:]
    assert cur.fetchmany(4) == []
    assert cur.fetchmany() == []
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    assert [x[0] for x in cur.fetchmany()] == SAMPLES  # arraysize 10 > 6 rows
    cur.execute(f"SELECT name FROM {TABLE} WHERE name = 'none'")
    assert cur.fetchmany() == []
    with pytest.raises(driver.ProgrammingError):
        cur.fetchmany(-1)


def test_fetchall(cur: driver.Cursor) -> None:
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE}")
    rows = cur.fetchall()
    assert cur.rowcount in (-1, len(SAMPLES))
    assert sorted(r[0] for r in rows) == SAMPLES
    assert all(isinstance(r, tuple) and len(r) == 1 for r in rows)
    assert cur.fetchall() == []
    cur.execute(f"SELECT name FROM {TABLE} WHERE 1 = 0")
    assert cur.fetchall() == []


def test_mixed_fetch(cur: driver.Cursor) -> None:
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    r1 = cur.fetchone()
    r23 = cur.fetchmany(2)
    r4 = cur.fetchone()
    r56 = cur.fetchall()
    assert [r1, *r23, r4, *r56] == [(s,) for s in SAMPLES]


def test_iteration_and_arrow_rest(cur: driver.Cursor) -> None:
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    assert next(iter(cur)) == (SAMPLES[0],)
    rest = cur.fetch_arrow_table()
    assert rest.column("name").to_pylist() == SAMPLES[1:]
    cur.execute(f"SELECT name FROM {TABLE} ORDER BY name")
    assert [r[0] for r in cur] == SAMPLES


def test_arraysize_settable(cur: driver.Cursor) -> None:
    assert hasattr(cur, "arraysize")
    cur.arraysize = 3
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE}")
    assert len(cur.fetchmany()) == 3


def test_setinputsizes_setoutputsize(cur: driver.Cursor) -> None:
    cur.setinputsizes((25,))
    cur.setoutputsize(1000)
    cur.setoutputsize(2000, 0)
    _populate(cur)
    cur.execute(f"SELECT name FROM {TABLE}")
    assert len(cur.fetchall()) == len(SAMPLES)


# ---- threads share a connection (threadsafety 2) ----------------------------------------------------


def test_threads_share_a_connection() -> None:
    con = driver.connect(threads=1)
    con.register("t", pa.table({"x": list(range(1000))}))
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            cur = con.cursor()
            for i in range(20):
                con.register(f"t{k}", pa.table({"y": [i] * (k + 1)}))
                cur.execute(f"SELECT sum(y), count(*) FROM t{k}")
                assert cur.fetchall() == [(i * (k + 1), k + 1)]
                cur.execute("SELECT sum(x) FROM t WHERE x < ?", [k * 100])
                assert cur.fetchone() == (sum(range(k * 100)) if k else None,)
        except BaseException as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


# ---- engine errors the PEP 249 mapping relies on ------------------------------------------------


def test_integer_overflow_is_a_data_error(con: driver.Connection) -> None:
    con.register("o", pa.table({"i": pa.array([2**63 - 1], pa.int64())}))
    with pytest.raises(driver.DataError):
        con.execute("SELECT i + 1 FROM o")


def test_float_to_int_cast_out_of_range_is_a_data_error(con: driver.Connection) -> None:
    """Out of BIGINT's range (or NaN, infinity) is an error naming the value, as in DuckDB;
    values that fit round half to even (DuckDB's cast), and NULLs stay NULL."""
    for bad in (1e300, -1e19, float("nan"), float("inf")):
        con.register("o", pa.table({"f": [1.0, bad]}))
        with pytest.raises(driver.DataError, match="out of range"):
            con.execute("SELECT CAST(f AS BIGINT) FROM o")
    vals = [2.5, -2.5, 3.5, 2.6, None, 9.2e18]
    con.register("o", pa.table({"f": vals}))
    got = con.execute("SELECT CAST(f AS BIGINT) FROM o").fetchall()
    dk = duckdb.connect()
    dk.register("o", pa.table({"f": vals}))
    assert got == dk.execute("SELECT CAST(f AS BIGINT) FROM o").fetchall()
    assert got[:4] == [(2,), (-2,), (4,), (3,)]


def test_constant_cast_failure_is_a_data_error(con: driver.Connection) -> None:
    with pytest.raises(driver.DataError):
        con.execute("SELECT CAST(? AS INTEGER)", ["zz"])
