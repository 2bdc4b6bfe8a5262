"""Scan core cases: whole-file and filtered reads of a pyarrow-written zstd file.

- ``read whole (pyarrow's zstd file)``: ``mc.read_parquet(path, threads=1)`` vs
  ``pq.read_table(path, use_threads=False)`` with ``pa.set_cpu_count(1)``; ints, floats,
  dictionary-encoded strings and timestamps, 2M rows (the issue's target: >= 1.2x).
- ``read filtered``: a selective filter (one day of a sorted timestamp column and one country):
  minide's scan core (statistics, dictionary, page index, late materialization) vs
  ``pq.read_table(filters=...)`` (pyarrow's row-group statistics pruning and row filter).
  ``extra`` reports minide's counters.

What each side caches: nothing across calls. Both open the file and parse its footer in every
call (minide's ``read_parquet`` opens a fresh ``ParquetFile``; the footer cache keyed by
(path, size, mtime, inode) is only used by datasets and the SQL engine); the file's bytes are in
the OS page cache for both, warmed by the same number of warm-up runs. Freed memory: pyarrow's
allocator pool (jemalloc/mimalloc) keeps the previous read's buffers for the next; minide's first
read sets glibc to keep freed heap the same way (``minide.keep_freed_memory``, on by default).
"""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

import minide.columnar as mc
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from minide.bench import Case
from minide.bench.pools import Arg, PyArrow

ROWS = {"tiny": 20_000, "small": 2_000_000, "large": 2_000_000}


def _table(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    countries = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "PL", "SE", "JP", "BR", "IN"])
    cats = np.array([f"category_{i:02d}" for i in range(40)])
    start = int(datetime.datetime(2024, 1, 1).timestamp() * 1_000_000)
    ts = start + np.cumsum(rng.integers(0, 3_000_000, n))
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "qty": pa.array(rng.integers(1, 50, n).astype(np.int32)),
            "price": pa.array(np.round(rng.gamma(2.0, 30.0, n), 2)),
            "score": pa.array(rng.random(n)),
            "country": pa.array(countries[rng.integers(0, len(countries), n)]),
            "category": pa.array(cats[rng.integers(0, len(cats), n)]),
            "ts": pa.array(ts, pa.timestamp("us")),
        }
    )


def scan_cases(size: str) -> list[Case]:
    n = ROWS[size]
    tmp = Path(tempfile.mkdtemp(prefix="minide-bench-scan-"))
    path = tmp / "pyarrow-zstd.parquet"
    table = _table(n)
    pq.write_table(table, path, compression="zstd", write_page_index=True)
    repeat = 5 if size != "tiny" else 2

    def same(m: pa.Table, b: pa.Table) -> None:
        if not m.equals(b):
            raise AssertionError("read_parquet differs from pq.read_table")

    arg = Arg()

    def m_whole() -> pa.Table:
        return mc.read_parquet(path, threads=arg.n)

    def b_whole() -> pa.Table:
        return pq.read_table(path, use_threads=False)

    day = table.column("ts")[n // 2].as_py().replace(hour=0, minute=0, second=0, microsecond=0)
    nxt = day + datetime.timedelta(days=1)
    text = f"ts >= TIMESTAMP '{day}' AND ts < TIMESTAMP '{nxt}' AND country = 'DE'"
    arrow_filter = [("ts", ">=", day), ("ts", "<", nxt), ("country", "=", "DE")]
    last: dict[str, float] = {}

    def m_filtered() -> pa.Table:
        pf = mc.ParquetFile(path)
        t = pf.read(filter=text, threads=arg.n)
        s = pf.last_scan
        assert s is not None
        last.update(
            row_groups_total=s.row_groups_total,
            row_groups_skipped=s.row_groups_skipped,
            pages_skipped=s.pages_skipped,
            rows_decoded=s.rows_read,
            rows_matched=s.rows_matched,
        )
        return t

    def b_filtered() -> pa.Table:
        return pq.read_table(path, use_threads=False, filters=arrow_filter)

    out = [
        Case(
            name=f"read whole x{n:,} (pyarrow's zstd file)",
            threads=1,
            items=n,
            repeat=repeat,
            minide=m_whole,
            baseline=b_whole,
            baseline_name="pq.read_table",
            verify=same,
            minide_pools=[arg],
            baseline_pools=[PyArrow()],
        ),
        Case(
            name=f"read filtered x{n:,} (one day, one country)",
            threads=1,
            items=n,
            repeat=repeat,
            minide=m_filtered,
            baseline=b_filtered,
            baseline_name="pq.read_table(filters)",
            verify=same,
            extra=lambda _m, _b: dict(last),
            minide_pools=[arg],
            baseline_pools=[PyArrow()],
        ),
    ]
    pa.set_cpu_count(os.cpu_count() or 1)
    return out
