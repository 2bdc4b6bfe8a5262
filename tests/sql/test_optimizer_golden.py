"""Golden tests of the optimizer: the logical plan before and after every pass (EXPLAIN output)
for a few TPC-H queries at SF 0.01, compared with files under tests/sql/golden/ that were
reviewed by eye. Regenerate with MINIDE_UPDATE_GOLDEN=1 after an intended change, and review
the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import minide
import pytest
from minide.sql import tpch

GOLDEN = Path(__file__).parent / "golden"
QUERIES = {"q03": 3, "q06": 6, "q17": 17, "q19": 19, "q20": 20, "q21": 21}


@pytest.fixture(scope="module")
def con() -> Any:
    c = minide.connect()
    for name, table in tpch.load(0.01).items():
        c.register(name, table)
    return c


def _stable(text: str) -> str:
    return re.sub(r" ?\(?\d+\.\d+ ms\)?", "", text)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_optimizer_golden(con: Any, name: str) -> None:
    text = _stable(con.explain(tpch.query(QUERIES[name])))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("MINIDE_UPDATE_GOLDEN"):
        path.write_text(text + "\n")
    assert path.exists(), f"missing golden file {path}; run with MINIDE_UPDATE_GOLDEN=1"
    assert text + "\n" == path.read_text()


def test_explain_analyze_reports_actual_rows(con: Any) -> None:
    text = con.explain(tpch.query(6), analyze=True)
    assert "actual" in text and "est ~" in text
    # the scan of lineitem really produced the filtered rows, and the aggregate one row
    assert re.search(r"HashAggregate .*actual 1 rows", text)


def test_disabled_pass_is_reported(con: Any) -> None:
    c = minide.connect()
    c.register("lineitem", tpch.load(0.01)["lineitem"])
    c.disable_optimizer("predicate_pushdown")
    text = c.explain(tpch.query(6))
    assert "pass predicate_pushdown: disabled" in text
    assert "Filter" in text.split("== physical plan ==")[1]


def test_bounds_of_one_column_estimate_one_range(tmp_path: Any) -> None:
    """``d >= lo AND d < hi`` keeps the share of [min, max] between lo and hi (10%), not the
    product of the two halves (0.9 * 0.2 = 18%)."""

    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "r.parquet"
    pq.write_table(pa.table({"d": pa.array(range(10_000), pa.int64())}), p)
    c = minide.connect()
    c.register("r", p)
    plan = "\n".join(
        r[0] for r in c.sql("EXPLAIN SELECT d FROM r WHERE d >= 1000 AND d < 2000").fetchall()
    )
    est = int(re.search(r"TableScan r .*est ~([\d,]+) rows", plan).group(1).replace(",", ""))
    assert 900 <= est <= 1100, plan
