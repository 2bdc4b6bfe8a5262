"""Event-time windows: minide's window step vs Polars ``group_by_dynamic``.

Data (``keyed_events``): ``n`` events of 10,000 int64 keys (random 62-bit ids), event times
spread evenly over 2 hours, arriving in event-time order plus up to 30 s of jitter (so rows are
out of order), int64 ``amount``; 100k-row batches. With ``allowed_lateness="1m"`` no row is
late, so every window of the complete data is emitted and both sides compute the same result:
per (key, window): row count, sum and mean of ``amount``.

- **tumbling**: 1-minute windows. **hopping**: 5-minute windows every minute (5 per row);
  Polars gets ``offset=-4m`` so that its first window per key starts 4 minutes before the key's
  first minute, like minide's windows that hold the first row (checked: same rows out).
- **minide** streams the batches in arrival order through ``ms.window(...)`` (a new step per
  run: no state is kept between runs), then ``flush()``; output: one ``pyarrow.Table``.
- **Polars** computes on the complete in-memory ``DataFrame`` (built from the same Arrow data
  before timing). ``group_by_dynamic`` needs the time column sorted, so two cases: *pre-sorted*
  (the frame sorted by time once before timing, Polars' best case, the sort not timed) and
  *sort+group*, which times ``sort`` too (the work a user must do on out-of-order data).
  Output: ``.to_arrow()``. For tumbling windows a third case gives Polars its fastest
  equivalent query, a hash ``group_by(key, event_time.dt.truncate("1m"))`` (no sort needed):
  ``group_by_dynamic`` with 10,000 groups is far slower than that on this data.
- Threads: both sides use ``THREADS`` (minide ``threads=THREADS``; Polars' pool is sized by
  ``POLARS_MAX_THREADS`` before Polars is imported, and every case checks
  ``pl.thread_pool_size()``). Warm-up: the harness runs each side once before timing and then
  alternates runs.
"""

from __future__ import annotations

import minide.stream as ms
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

EVENTS = {"tiny": 50_000, "small": 2_000_000, "large": 10_000_000}
KEYS = 10_000
SPAN_MS = 2 * 3_600_000
JITTER_MS = 30_000


def keyed_events(n: int, *, keys: int = KEYS, batch_rows: int = 100_000, seed: int = 11):
    rng = np.random.default_rng(seed)
    ids = rng.choice(2**62, size=keys, replace=False).astype(np.int64)
    t0 = 1_700_000_000_000
    t = t0 + np.sort(rng.integers(0, SPAN_MS, n))
    arrival = t + rng.integers(0, JITTER_MS, n)
    order = np.argsort(arrival, kind="stable")
    table = pa.table(
        {
            "key": pa.array(ids[rng.integers(0, keys, n)]),
            "event_time": pa.array(t[order], pa.timestamp("ms")),
            "amount": pa.array(rng.integers(0, 1_000, n)),
        }
    )
    return table.to_batches(max_chunksize=batch_rows)


def _minide(batches, kind: str, threads: int) -> pa.Table:
    if kind == "tumbling":
        step = ms.window("tumbling", size="1m", key="key", allowed_lateness="1m",
                         aggs=AGGS, threads=threads)  # fmt: skip
    else:
        step = ms.window("sliding", size="5m", slide="1m", key="key", allowed_lateness="1m",
                         aggs=AGGS, threads=threads)  # fmt: skip
    outs = [step.process(b) for b in batches]
    outs.append(step.flush())
    return pa.Table.from_batches([o for o in outs if o.num_rows] or outs[-1:])


AGGS = {"n": (None, "count"), "total": ("amount", "sum"), "avg": ("amount", "mean")}


def _polars(df: pl.DataFrame, kind: str, threads: int, sort: bool) -> pa.Table:
    if pl.thread_pool_size() != threads:
        raise AssertionError(f"Polars runs {pl.thread_pool_size()} threads, not {threads}")
    if sort:
        df = df.sort("event_time")
    if kind == "tumbling":
        g = df.group_by_dynamic("event_time", every="1m", group_by="key")
    else:
        g = df.group_by_dynamic("event_time", every="1m", period="5m", offset="-4m", group_by="key")
    return g.agg(
        pl.len().alias("n"),
        pl.col("amount").sum().alias("total"),
        pl.col("amount").mean().alias("avg"),
    ).to_arrow()


def _polars_truncate(df: pl.DataFrame, threads: int) -> pa.Table:
    if pl.thread_pool_size() != threads:
        raise AssertionError(f"Polars runs {pl.thread_pool_size()} threads, not {threads}")
    start = pl.col("event_time").dt.truncate("1m").alias("window_start")
    return (
        df.group_by("key", start)
        .agg(
            pl.len().alias("n"),
            pl.col("amount").sum().alias("total"),
            pl.col("amount").mean().alias("avg"),
        )
        .to_arrow()
    )


def _same_windows(got: pa.Table, want: pa.Table) -> None:
    g = got.select(["key", "window_start", "n", "total", "avg"]).sort_by(
        [("key", "ascending"), ("window_start", "ascending")]
    )
    w = want.rename_columns(["key", "window_start", "n", "total", "avg"]).sort_by(
        [("key", "ascending"), ("window_start", "ascending")]
    )
    if g.num_rows != w.num_rows:
        raise AssertionError(f"minide emitted {g.num_rows} windows, Polars {w.num_rows}")
    for c in ("key", "n", "total"):
        if g.column(c).to_pylist() != w.column(c).cast(g.column(c).type).to_pylist():
            raise AssertionError(f"column {c} differs")
    starts_w = w.column("window_start").cast(pa.int64())
    if not pc.all(pc.equal(g.column("window_start").cast(pa.int64()), starts_w)).as_py():
        raise AssertionError("window starts differ")
    diff = pc.max(pc.abs(pc.subtract(g.column("avg"), w.column("avg")))).as_py()
    if diff is not None and diff > 1e-9:
        raise AssertionError(f"means differ by up to {diff}")


def cases(size: str, Case, threads: int) -> list:
    from minide.bench.pools import Arg, Polars

    arg = Arg("window threads=")
    n = EVENTS[size]
    batches = keyed_events(n)
    df = pl.from_arrow(pa.Table.from_batches(batches))
    assert isinstance(df, pl.DataFrame)
    df_sorted = df.sort("event_time")
    out = []
    for kind in ("tumbling", "hopping"):
        label = "tumbling 1m" if kind == "tumbling" else "hopping 5m/1m"
        for sort in (False, True):
            out.append(
                Case(
                    name=f"windows {label} x{n:,} ({KEYS:,} int keys) vs polars "
                    + ("sort+group" if sort else "pre-sorted"),
                    threads=threads,
                    items=n,
                    minide=lambda k=kind: _minide(batches, k, arg.n),
                    baseline=lambda k=kind, s=sort: _polars(df if s else df_sorted, k, threads, s),
                    baseline_name="polars sort + group_by_dynamic"
                    if sort
                    else "polars group_by_dynamic (pre-sorted)",
                    verify=_same_windows,
                    repeat=3 if size == "large" else 5,
                    minide_pools=[arg],
                    baseline_pools=[Polars()],
                )
            )
    out.insert(
        2,
        Case(
            name=f"windows tumbling 1m x{n:,} ({KEYS:,} int keys) vs polars group_by+truncate",
            threads=threads,
            items=n,
            minide=lambda: _minide(batches, "tumbling", arg.n),
            baseline=lambda: _polars_truncate(df, threads),
            baseline_name="polars group_by(key, truncate(time))",
            verify=_same_windows,
            repeat=3 if size == "large" else 5,
            minide_pools=[arg],
            baseline_pools=[Polars()],
        ),
    )
    return out
