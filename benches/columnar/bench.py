"""Parquet: minide's writer/reader vs pyarrow.parquet on a realistic generated table.

Cases (same table, same process, same thread count, set by the harness on both sides before each
case: minide's ``threads=`` argument, pyarrow's ``set_cpu_count`` and ``set_io_thread_count``):
- write_parquet vs ``pq.write_table`` with zstd and snappy at 1 and 2 threads. pyarrow's Parquet
  writer encodes columns serially (pyarrow exposes no thread option for it).
- read_parquet vs ``pq.read_table(use_threads=threads > 1)`` on the file each library wrote, and
  both on pyarrow's file at one thread.
- scan_cases.py: whole-file and filtered reads of a pyarrow-written zstd file at one thread.
``extra`` reports file sizes and the size ratio minide / pyarrow (target <= 1.05).

Caches: both sides write to / read from the same temp folder; after the warm-up call the files
are in the OS page cache for both readers. Neither library keeps anything between calls: minide's
``read_parquet`` opens the file and decodes its footer on every call (the footer cache belongs to
``minide.sql``'s file sources, not to ``read_parquet``), as ``pq.read_table`` does. Writers start
from the same in-memory table every call.
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

# The harness puts this folder on sys.path only while it loads the module: import here.
from convert_cases import convert_cases
from csv_cases import csv_cases
from minide.bench import Case
from minide.bench.pools import Arg, PyArrow
from scan_cases import scan_cases

ROWS = {"tiny": 20_000, "small": 1_000_000, "large": 10_000_000}

WORDS = [
    "data",
    "lake",
    "stream",
    "table",
    "query",
    "parquet",
    "column",
    "row",
    "group",
    "page",
    "index",
    "bloom",
    "filter",
    "schema",
    "type",
    "value",
    "null",
    "batch",
    "arrow",
    "file",
    "byte",
    "codec",
    "zstd",
    "snappy",
    "delta",
    "plain",
    "dictionary",
    "level",
    "repeat",
    "define",
    "nested",
    "struct",
    "list",
    "map",
    "order",
    "sort",
]


def generate(n: int, seed: int = 42) -> pa.Table:
    """A seeded table with the columns of the issue's dataset (ids, categories, prices,
    timestamps, low/medium-cardinality strings, text, bools, nullable ints, dates)."""
    rng = np.random.default_rng(seed)
    categories = np.array([f"category_{i:02d}" for i in range(20)])
    countries = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "PL", "SE", "JP", "BR", "IN"])
    users = np.array([f"user_{i:06d}" for i in range(50_000)])
    words = np.array(WORDS)
    start = int(datetime.datetime(2024, 1, 1).timestamp() * 1_000_000)
    ts = start + np.cumsum(rng.integers(0, 2_000_000, n))
    text_idx = rng.integers(0, len(words), (n, 6))
    text = [" ".join(row) for row in words[text_idx]]
    qty_mask = rng.random(n) < 0.2
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "category": pa.array(categories[rng.integers(0, len(categories), n)]),
            "country": pa.array(countries[rng.integers(0, len(countries), n)]),
            "price": pa.array(np.round(rng.gamma(2.0, 30.0, n), 2)),
            "quantity": pa.array(rng.integers(1, 50, n).astype(np.int32)),
            "ts": pa.array(ts, pa.timestamp("us")),
            "user": pa.array(users[rng.integers(0, len(users), n)]),
            "text": pa.array(text),
            "is_member": pa.array(rng.random(n) < 0.35),
            "discount": pa.array(rng.integers(0, 30, n), mask=qty_mask),
            "day": pa.array((ts // 86_400_000_000).astype(np.int32), pa.date32()),
        }
    )


def parquet_cases(size: str) -> list[Case]:
    n = ROWS[size]
    table = generate(n)
    tmp = Path(tempfile.mkdtemp(prefix="minide-bench-parquet-"))
    repeat = 3 if size != "tiny" else 2
    out: list[Case] = []

    def sizes(_m: object, _b: object, mp: Path, bp: Path) -> dict[str, float]:
        ms, bs = mp.stat().st_size, bp.stat().st_size
        return {"minide_bytes": ms, "pyarrow_bytes": bs, "size_ratio": ms / bs}

    for codec in ("zstd", "snappy"):
        for threads in (1, 2):
            mp = tmp / f"m-{codec}-{threads}.parquet"
            bp = tmp / f"p-{codec}-{threads}.parquet"

            arg = Arg()

            def m_write(mp: Path = mp, codec: str = codec, arg: Arg = arg) -> Path:
                mc.write_parquet(table, mp, compression=codec, threads=arg.n)
                return mp

            def b_write(bp: Path = bp, codec: str = codec) -> Path:
                pq.write_table(table, bp, compression=codec)
                return bp

            def verify(m: Path, _b: Path) -> None:
                if not pq.read_table(m).equals(table):
                    raise AssertionError("pyarrow reads different data from minide's file")

            out.append(
                Case(
                    name=f"write {codec} x{n:,}",
                    threads=threads,
                    items=n,
                    repeat=repeat,
                    minide=m_write,
                    baseline=b_write,
                    baseline_name="pq.write_table",
                    verify=verify,
                    extra=lambda m, b, mp=mp, bp=bp: sizes(m, b, mp, bp),
                    minide_pools=[arg],
                    baseline_pools=[PyArrow()],
                )
            )

    for codec in ("zstd", "snappy"):
        mp = tmp / f"read-m-{codec}.parquet"
        bp = tmp / f"read-p-{codec}.parquet"
        mc.write_parquet(table, mp, compression=codec)
        pq.write_table(table, bp, compression=codec)
        for threads in (1, 2):
            arg = Arg()

            def m_read(mp: Path = mp, arg: Arg = arg) -> pa.Table:
                return mc.read_parquet(mp, threads=arg.n)

            def b_read(bp: Path = bp) -> pa.Table:
                return pq.read_table(bp, use_threads=pa.cpu_count() > 1)

            def same(m: pa.Table, b: pa.Table) -> None:
                if not m.equals(b):
                    raise AssertionError("read_parquet differs from pq.read_table")

            out.append(
                Case(
                    name=f"read {codec} x{n:,} (own files)",
                    threads=threads,
                    items=n,
                    repeat=repeat,
                    minide=m_read,
                    baseline=b_read,
                    baseline_name="pq.read_table",
                    verify=same,
                    minide_pools=[arg],
                    baseline_pools=[PyArrow()],
                )
            )
        # Same file for both readers: minide reading pyarrow's file.
        arg = Arg()
        out.append(
            Case(
                name=f"read {codec} x{n:,} (pyarrow's file)",
                threads=1,
                items=n,
                repeat=repeat,
                minide=lambda bp=bp, arg=arg: mc.read_parquet(bp, threads=arg.n),
                baseline=lambda bp=bp: pq.read_table(bp, use_threads=pa.cpu_count() > 1),
                baseline_name="pq.read_table",
                verify=same,
                minide_pools=[arg],
                baseline_pools=[PyArrow()],
            )
        )
    return out


def cases(size: str) -> list[Case]:
    """Parquet write/read cases, the CSV reader cases of csv_cases.py and the csv_to_parquet
    cases of convert_cases.py and the scan core cases of scan_cases.py. ``MINIDE_COLUMNAR_CASES``
    (comma-separated: parquet, csv, convert, scan) runs a subset, e.g. ``MINIDE_COLUMNAR_CASES=convert minide bench columnar``."""
    groups = {
        "parquet": parquet_cases,
        "csv": csv_cases,
        "convert": convert_cases,
        "scan": scan_cases,
    }
    wanted = os.environ.get("MINIDE_COLUMNAR_CASES", ",".join(groups)).split(",")
    out: list[Case] = []
    for name in wanted:
        if name.strip() not in groups:
            raise ValueError(f"MINIDE_COLUMNAR_CASES: unknown group {name!r} (use {list(groups)})")
        out += list(groups[name.strip()](size))
    return out
