"""Identifiers that begin with a keyword (`notes`, `distinct_x`, `description`, `first_name`)
are identifiers: the keyword terminals end at a word boundary. Checked against DuckDB."""

from __future__ import annotations

import duckdb
import minide
import pyarrow as pa
import pytest

COLUMNS = [
    "notes", "note", "distinct_x", "description", "ascending", "first_name", "last_name",
    "likes", "all_items", "leftover", "rights", "fullname", "outer_id", "inner_id",
    "cross_ref", "union_id", "except_x", "intersection", "rows_n", "range_end", "analyzed",
]  # fmt: skip


@pytest.mark.parametrize("col", COLUMNS)
def test_keyword_prefixed_identifiers(col: str) -> None:
    t = pa.table({col: [3, 1, None, 2], "other": [1, 2, 3, 4]})
    sql = (
        f"SELECT {col}, NOT ({col} > 1) AS n FROM t WHERE {col} IS NOT NULL "
        f"AND {col} NOT IN (7) ORDER BY {col} DESC"
    )
    con = minide.connect()
    con.register("t", t)
    dk = duckdb.connect()
    dk.register("t", t)
    assert con.sql(sql).fetchall() == dk.sql(sql).fetchall()
