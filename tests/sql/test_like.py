"""LIKE against DuckDB: Hypothesis draws patterns of literals, `%` and `_` over a two-letter
alphabet and values over the same letters, so that partial, overlapping and repeated matches
(the cases a substring searcher gets wrong) come up often."""

from __future__ import annotations

import duckdb
import minide
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

VALUES = st.lists(st.one_of(st.none(), st.text("ab", max_size=7)), min_size=1, max_size=20)
PATTERNS = st.text("ab%_", max_size=7)


@given(values=VALUES, pattern=PATTERNS, negated=st.booleans())
def test_like_matches_duckdb(values: list[str | None], pattern: str, negated: bool) -> None:
    t = pa.table({"s": pa.array(values, pa.string())})
    op = "NOT LIKE" if negated else "LIKE"
    sql = f"SELECT s, s {op} '{pattern}' AS m FROM t ORDER BY s NULLS FIRST, m"
    con = minide.connect()
    con.register("t", t)
    ours = con.sql(sql).to_arrow().to_pylist()
    dk = duckdb.connect()
    dk.register("t", t)
    theirs = dk.sql(sql).to_arrow_table().to_pylist()
    assert ours == theirs, pattern
