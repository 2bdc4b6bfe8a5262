"""The public API: connect/register/sql/explain/cursor, DDL/DML, errors, the CLI and the demo."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import duckdb
import minide
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from minide.errors import InvalidArgumentError, PlanError, SqlSyntaxError
from minide.sql import ast


def test_connect_is_exported() -> None:
    assert minide.connect is minide.sql.connect
    assert isinstance(minide.connect(), minide.sql.Connection)


def test_parse_returns_typed_ast() -> None:
    q = minide.sql.parse(
        "SELECT a + 1 AS b FROM t WHERE c LIKE 'x%' ORDER BY 1 DESC NULLS FIRST LIMIT 3"
    )
    assert isinstance(q, ast.Query)
    assert isinstance(q.body, ast.Select)
    item = q.body.items[0]
    assert item.alias == "b"
    assert item.expr == ast.BinaryOp("+", ast.ColumnRef("a"), ast.Literal(1, "int"))
    assert q.order_by[0] == ast.OrderItem(ast.Literal(1, "int"), desc=True, nulls_first=True)
    assert q.limit == ast.Literal(3, "int")
    script = minide.sql.parse("CREATE TABLE t (a INT); DROP TABLE t")
    assert isinstance(script, ast.Script) and len(script.statements) == 2


def test_syntax_error_has_line_column_and_caret() -> None:
    with pytest.raises(SqlSyntaxError) as ei:
        minide.sql.parse("SELECT a,\n  FROM t WHERE")
    msg = str(ei.value)
    assert "line 2, column 3" in msg
    assert msg.splitlines()[-1].strip() == "^"
    assert msg.splitlines()[-2].strip() == "FROM t WHERE"


def test_unknown_names_suggest() -> None:
    con = minide.connect()
    con.register("orders", pa.table({"amount": [1]}))
    with pytest.raises(PlanError, match="did you mean orders"):
        con.sql("SELECT * FROM ordrs")
    with pytest.raises(PlanError, match="did you mean amount"):
        con.sql("SELECT amout FROM orders")


def test_register_sources(tmp_path: Path) -> None:
    t = pa.table({"x": [1, 2, 3], "s": ["a", "b", None]})
    pq.write_table(t, tmp_path / "f.parquet")
    pcsv.write_csv(t, tmp_path / "f.csv")
    con = minide.connect()
    con.register("pa_t", t)
    con.register("pl_t", pl.DataFrame({"x": [1, 2, 3]}))
    con.register("dk_t", duckdb.sql("SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3").arrow())
    con.register("pq_t", tmp_path / "f.parquet")
    con.register("csv_t", str(tmp_path / "f.csv"))
    con.register("rb_t", t.to_batches()[0])
    for name in ("pa_t", "pl_t", "dk_t", "pq_t", "csv_t", "rb_t"):
        assert con.sql(f"SELECT sum(x) FROM {name}").fetchall() == [(6,)], name
    with pytest.raises(InvalidArgumentError):
        con.register("bad", object())


def test_relation_outputs() -> None:
    con = minide.connect()
    con.register("t", pa.table({"x": [3, 1, 2]}))
    rel = con.sql("SELECT x, x * 2 AS y FROM t ORDER BY x")
    assert rel.to_arrow().equals(rel.arrow())
    assert rel.fetchall() == [(1, 2), (2, 4), (3, 6)]
    assert rel.columns == ["x", "y"]
    assert rel.to_arrow().schema.names == ["x", "y"]
    assert "│" in repr(rel)


def test_cursor_dbapi() -> None:
    con = minide.connect()
    cur = con.cursor()
    cur.execute("CREATE TABLE t (id INTEGER, name VARCHAR, born DATE)")
    cur.execute(
        "INSERT INTO t VALUES (?, ?, ?)", (1, "o'neil", __import__("datetime").date(2000, 1, 2))
    )
    cur.execute("INSERT INTO t (id) VALUES (2)")
    cur.execute("SELECT id, name, born FROM t WHERE id >= ? ORDER BY id", [1])
    assert [d[0] for d in cur.description] == ["id", "name", "born"]
    assert cur.fetchone() == (1, "o'neil", __import__("datetime").date(2000, 1, 2))
    assert cur.fetchall() == [(2, None, None)]
    assert cur.fetchone() is None
    assert minide.sql.paramstyle == "qmark"
    con.commit()  # autocommit: a no-op that DB-API callers may rely on


def test_ddl_and_dml() -> None:
    con = minide.connect()
    con.sql("CREATE TABLE a AS SELECT 1 AS k, 'x' AS v UNION ALL SELECT 2, 'y'")
    con.sql("INSERT INTO a SELECT k + 10, v FROM a")
    assert con.sql("SELECT count(*), sum(k) FROM a").fetchall() == [(4, 26)]
    with pytest.raises(PlanError, match="already exists"):
        con.sql("CREATE TABLE a (k INT)")
    con.sql("DROP TABLE a")
    con.sql("DROP TABLE IF EXISTS a")
    with pytest.raises(PlanError):
        con.sql("DROP TABLE a")


def test_settings_and_optimizer_switches() -> None:
    con = minide.connect()
    con.set("threads", 1)
    with pytest.raises(InvalidArgumentError):
        con.set("threads", 0)
    with pytest.raises(InvalidArgumentError, match="did you mean join_reorder"):
        con.disable_optimizer("join_reoder")
    con.disable_optimizer("join_reorder")
    con.register("t", pa.table({"a": [1, 2]}))
    assert "pass join_reorder: disabled" in con.explain("SELECT a FROM t")


def test_explain_statement_and_analyze() -> None:
    con = minide.connect()
    con.register("t", pa.table({"a": list(range(100))}))
    text = "\n".join(
        r[0] for r in con.sql("EXPLAIN ANALYZE SELECT count(*) FROM t WHERE a < 10").fetchall()
    )
    assert "actual 10 rows" in text


def test_shell_and_cli(tmp_path: Path) -> None:
    from minide.sql.cli import shell

    con = minide.connect()
    con.register("t", pa.table({"a": [1, 2, 3]}))
    out = io.StringIO()
    old = sys.stdout
    sys.stdout = out
    try:
        shell(
            con,
            io.StringIO(
                ".timer on\nSELECT sum(a)\n  AS s FROM t;\n.explain SELECT a FROM t\nSELECT nope;\n.quit\n"
            ),
        )
    finally:
        sys.stdout = old
    text = out.getvalue()
    assert "│ 6 │" in text and "Run Time" in text and "TableScan t" in text and "Error:" in text
    pq.write_table(pa.table({"x": [5, 6]}), tmp_path / "d.parquet")
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "minide"),
            "sql",
            "--file",
            str(tmp_path / "d.parquet"),
            "AS",
            "d",
            "-c",
            "SELECT sum(x) AS total FROM d",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "total" in res.stdout and "11" in res.stdout


def test_demo_chapter_runs() -> None:
    import numpy as np
    from minide.demo import Context
    from minide.sql.demo import _sql

    _sql(Context(rows=20_000, seed=1, workdir=Path("."), rng=np.random.default_rng(1)))


def test_errors_are_minide_errors() -> None:
    con = minide.connect()
    con.register("t", pa.table({"s": ["a"], "d": pa.array([1], pa.date32())}))
    with pytest.raises(minide.MinideError):
        con.sql("SELECT CAST(s AS INTEGER) FROM t").fetchall()
    with pytest.raises(PlanError):
        con.sql("SELECT s + 1 FROM t")
