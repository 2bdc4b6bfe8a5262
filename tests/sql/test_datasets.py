"""Hive dataset directories registered as tables: scanned lazily by minide.columnar's dataset
reader with column projection and partition pruning; results compared with DuckDB's
``read_parquet(..., hive_partitioning = true)`` over the same files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import minide
import minide.columnar as mc
import numpy as np
import pyarrow as pa
import pytest
from minide.sql import tpch


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(11)
    n = 6000
    regions = np.array(["north", "south", "east west"])  # a space: percent-escaped directory
    t = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "amount": pa.array(rng.normal(100, 30, n), mask=rng.random(n) < 0.05),
            "label": pa.array([f"l{i % 13}" for i in range(n)]),
            "region": pa.array(regions[rng.integers(0, 3, n)]),
            "year": pa.array(rng.integers(2021, 2025, n).astype(np.int32)),
        }
    )
    root = tmp_path_factory.mktemp("ds") / "sales"
    mc.write_dataset(t, root, partition_by=["region", "year"], row_group_size=500)
    return root


def _duck(root: Path, sql: str) -> list[tuple[Any, ...]]:
    dk = duckdb.connect()
    dk.execute(
        "CREATE VIEW sales AS SELECT * FROM read_parquet("
        f"'{root}/**/*.parquet', hive_partitioning = true)"
    )
    return dk.sql(sql).fetchall()


QUERIES = [
    ("SELECT region, year, count(*), sum(amount) FROM sales GROUP BY region, year", 0),
    ("SELECT id, amount FROM sales WHERE year = 2023 AND region = 'south'", 12 - 1),
    ("SELECT count(*), min(id), max(id) FROM sales WHERE year >= 2023", 6),
    ("SELECT label, count(*) FROM sales WHERE region IN ('north', 'east west') GROUP BY label", 4),
    ("SELECT count(*) FROM sales WHERE year = 2022 OR amount > 150", 0),
    ("SELECT sum(amount) FROM sales WHERE year = 1999", 12),
]


@pytest.mark.parametrize(("sql", "skipped"), QUERIES)
def test_dataset_queries_match_duckdb_and_prune(dataset: Path, sql: str, skipped: int) -> None:
    con = minide.connect()
    con.register("sales", dataset)
    ours = con.sql(sql).to_arrow()
    assert tpch.compare(ours, _duck(dataset, sql), ordered=False) is None
    plan = con.explain(sql, analyze=True)
    m = re.search(r"files skipped (\d+)/(\d+) by partition values", plan)
    assert m is not None, plan
    assert (int(m[1]), int(m[2])) == (skipped, 12)


def test_dataset_scan_reads_only_the_needed_columns(dataset: Path) -> None:
    con = minide.connect()
    con.register("sales", dataset)
    plan = con.explain("SELECT sum(amount) FROM sales WHERE year = 2024", analyze=True)
    assert "DatasetScan sales columns=[amount, year]" in plan
    assert "files skipped 9/12" in plan
    assert con.sql("SELECT * FROM sales").to_arrow().num_rows == 6000
