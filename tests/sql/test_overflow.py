"""BIGINT arithmetic and SUM never wrap around: a result out of range is an error naming the
operation (DuckDB raises too), and SUM keeps an exact total, so a running sum that leaves the
range and comes back is still right. Checked against DuckDB where both give a value."""

from __future__ import annotations

import duckdb
import minide
import pyarrow as pa
import pytest
from minide.errors import InvalidArgumentError

BIG = 2**63 - 1


def _con(**cols: list[int | None]) -> minide.sql.Connection:
    con = minide.connect()
    con.register("t", pa.table({k: pa.array(v, pa.int64()) for k, v in cols.items()}))
    return con


@pytest.mark.parametrize(
    ("expr", "what"),
    [
        ("a + 1", "addition"),
        ("-a - 2", "subtraction"),
        ("a * 2", "multiplication"),
        ("a * a", "multiplication"),
    ],
)
def test_bigint_arithmetic_overflow_raises(expr: str, what: str) -> None:
    con = _con(a=[1, BIG])
    with pytest.raises(InvalidArgumentError, match=f"Overflow in {what} of BIGINT"):
        con.sql(f"SELECT {expr} FROM t").fetchall()
    dk = duckdb.connect()
    dk.register("t", pa.table({"a": pa.array([1, BIG], pa.int64())}))
    with pytest.raises(duckdb.Error):
        dk.sql(f"SELECT {expr} FROM t").fetchall()


def test_overflow_in_a_null_row_is_not_an_error() -> None:
    # The value under a NULL is garbage to the engine; it must not raise.
    con = _con(a=[BIG, 1], b=[None, 2])
    assert con.sql("SELECT a + b FROM t").fetchall() == [(None,), (3,)]


def test_sum_is_exact_and_raises_only_when_the_total_does_not_fit() -> None:
    vals = [BIG, 1, -1, 5, -5]
    con = _con(a=vals, g=[1, 1, 1, 2, 2])
    sql = "SELECT g, SUM(a) FROM t GROUP BY g ORDER BY g"
    dk = duckdb.connect()
    dk.register("t", pa.table({"a": pa.array(vals, pa.int64()), "g": [1, 1, 1, 2, 2]}))
    assert con.sql(sql).fetchall() == [(g, int(s)) for g, s in dk.sql(sql).fetchall()]
    with pytest.raises(InvalidArgumentError, match="Overflow in SUM"):
        _con(a=[BIG, 1]).sql("SELECT SUM(a) FROM t").fetchall()


def test_window_sum_is_exact_and_raises_when_it_does_not_fit() -> None:
    con = _con(a=[BIG, 1, -1], o=[1, 2, 3])
    with pytest.raises(InvalidArgumentError, match="Overflow in SUM"):
        con.sql("SELECT SUM(a) OVER (ORDER BY o) FROM t").fetchall()
    got = con.sql("SELECT SUM(a) OVER () FROM t").fetchall()
    assert got == [(BIG,)] * 3
