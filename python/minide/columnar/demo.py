"""The columnar chapter of `minide demo`, listed in CHAPTERS for minide.demo."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from minide._tour import Chapter, Context, console


def _sales(n: int, rng: np.random.Generator) -> pa.Table:
    """A seeded sales table: ids, categories, prices, timestamps, users, text, flags, dates."""
    cats = np.array([f"category_{i:02d}" for i in range(20)])
    countries = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "JP"])
    words = np.array(["fast", "red", "small", "blue", "big", "quiet", "new", "old", "cheap"])
    ts = 1_704_067_200_000_000 + np.cumsum(rng.integers(0, 2_000_000, n))
    text = np.char.add(np.char.add(words[rng.integers(0, 9, n)], " "), words[rng.integers(0, 9, n)])
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "category": pa.array(cats[rng.integers(0, len(cats), n)]),
            "country": pa.array(countries[rng.integers(0, len(countries), n)]),
            "price": pa.array(np.round(rng.gamma(2.0, 30.0, n), 2)),
            "ts": pa.array(ts, pa.timestamp("us")),
            "user": pa.array(np.char.add("user_", rng.integers(0, 50_000, n).astype(str))),
            "text": pa.array(text),
            "is_member": pa.array(rng.random(n) < 0.35),
            "discount": pa.array(rng.integers(0, 30, n), mask=rng.random(n) < 0.2),
        }
    )


def _parquet(ctx: Context) -> None:
    import minide.columnar as mc

    n = ctx.rows
    table = _sales(n, ctx.rng)
    csv_path = ctx.workdir / "sales.csv"
    pacsv.write_csv(table, csv_path)
    csv_bytes = csv_path.stat().st_size

    path = ctx.workdir / "sales.parquet"
    t0 = time.perf_counter()
    meta = mc.write_parquet(table, path, compression="zstd")
    dt_w = time.perf_counter() - t0
    size = path.stat().st_size
    console.print(
        f"  write_parquet: {n:,} rows x {table.num_columns} columns in {dt_w * 1e3:.0f} ms "
        f"({n / dt_w / 1e6:.1f} M rows/s), {size / 1e6:.2f} MB "
        f"vs {csv_bytes / 1e6:.1f} MB of CSV = {csv_bytes / size:.1f}x smaller"
    )
    ref = ctx.workdir / "pyarrow.parquet"
    pq.write_table(table, ref, compression="zstd")
    console.print(
        f"  pyarrow's file of the same table: {ref.stat().st_size / 1e6:.2f} MB "
        f"(minide / pyarrow = {size / ref.stat().st_size:.2f})"
    )
    col = meta.row_groups[0].columns
    for c in col[:3]:
        console.print(
            f"  column {c.path!r}: {c.physical_type}, {', '.join(c.encodings)}, "
            f"{c.total_compressed_size:,} bytes, min={c.statistics.min if c.statistics else None!r} "
            f"max={c.statistics.max if c.statistics else None!r}"
        )
    excerpt = mc.inspect(path).splitlines()
    console.print("  inspect (excerpt):")
    for line in [ln for ln in excerpt if "page at" in ln or "column" in ln][:8]:
        console.print(f"    {line.strip()}", markup=False)

    t0 = time.perf_counter()
    back = mc.read_parquet(path)
    dt_r = time.perf_counter() - t0
    same_mine = back.equals(table)
    same_pa = pq.read_table(path).equals(table)
    console.print(
        f"  read_parquet: {n:,} rows in {dt_r * 1e3:.0f} ms; equal to the input: {same_mine}; "
        f"pyarrow reads minide's file identically: {same_pa}"
    )
    foreign = mc.read_parquet(ref)
    console.print(
        f"  read_parquet(pyarrow's file) equals pq.read_table: {foreign.equals(pq.read_table(ref))}"
    )
    if not (same_mine and same_pa):
        raise AssertionError("Parquet round trip differs")

    pf = mc.ParquetFile(path)
    lo = n // 2
    t0 = time.perf_counter()
    hit = pf.read(filter=f"id >= {lo} AND id < {lo + 1000} AND country IN ('DE', 'FR')")
    dt_f = time.perf_counter() - t0
    s = pf.last_scan
    if s is not None:
        console.print(
            f"  filter pushdown: {hit.num_rows:,} matching rows in {dt_f * 1e3:.0f} ms; "
            f"{s.row_groups_skipped}/{s.row_groups_total} row groups skipped by statistics, "
            f"{s.pages_skipped} pages skipped by the page index, {s.rows_read:,} rows decoded"
        )


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("Parquet written and read from scratch: write_parquet / read_parquet / inspect", _parquet),
)
