"""Deduplicator.process vs Polars unique, a pyarrow.compute.unique-based dedup and a Python set.

Data (benches/stream/data.py): events with 20% duplicates, duplicates within 10 minutes,
arrival jitter below the allowed lateness, 1-hour window, 100k-row batches. On this data the
exact deduplicator's output is "first occurrence of each event_id in arrival order", which is
what every baseline computes over the concatenated batches (so every case is verified).

Thread counts: minide's ``process`` runs on minide's global rayon pool, Polars on its own pool;
both are sized when the library starts (RAYON_NUM_THREADS, POLARS_MAX_THREADS), so the harness
runs a case in a process started with both set to the case's count when this process's pools
have another size. The Polars cases run at ``THREADS`` (2, or $MINIDE_BENCH_THREADS). pyarrow's
``unique``/``index_in`` kernels and the Python set loop are single-threaded, so those cases run
minide on one thread too (pyarrow's pools are set to 1 as well). The end-to-end case (Redis
Streams → dedup → Parquet) is described in benches/stream/e2e.py, the window cases
(minide's window step vs Polars group_by_dynamic) in benches/stream/windows.py.

Caches: none between calls. Each minide call starts a new ``Deduplicator`` (empty state) over
the same pre-built Arrow batches; Polars and pyarrow are stateless over the same in-memory
table (the Polars DataFrame is made from it once, before timing, zero-copy).
"""

from __future__ import annotations

import os

import minide.stream as ms
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

# The harness puts this folder on sys.path only while it loads the module: import here.
from data import events
from e2e import cases as e2e_cases
from minide.bench import Case
from minide.bench.pools import Caller, Polars, PyArrow, RayonGlobal
from windows import cases as window_cases

THREADS = int(os.environ.get("MINIDE_BENCH_THREADS", str(min(os.cpu_count() or 1, 2))))

EVENTS = {"tiny": 50_000, "small": 2_000_000, "large": 10_000_000}


def _dedup(batches: list[pa.RecordBatch], mode: str = "exact") -> tuple[pa.Table, dict]:
    dd = ms.Deduplicator("event_id", window="1h", allowed_lateness="5m", mode=mode)
    out = pa.Table.from_batches([dd.process(b) for b in batches])
    return out, dd.stats()


def _approx_memory(batches: list[pa.RecordBatch]) -> tuple[dict, dict[str, float]]:
    """Approximate mode with the real allocation read after every batch (untimed).

    Returns the final stats and bytes per live key at the batch with the most live keys (the
    steady state: the approximate store remembers a key for window + lateness + s on average,
    s = (window + lateness) / 2, i.e. 97.5 minutes here, so on this 2-hour stream the live set
    grows for ~100 minutes, then holds, then shrinks in the last ~10 minutes, which hold only
    duplicates), at the batch with the most state bytes, and at the end.
    """
    dd = ms.Deduplicator("event_id", window="1h", allowed_lateness="5m", mode="approx")
    trace = []
    for b in batches:
        dd.process(b)
        s = dd.stats()
        trace.append((s["state_bytes"], s["live_keys"]))
    peak_bytes, peak_live = max(trace)
    most_bytes, most_live = max(trace, key=lambda bn: (bn[1], -bn[0]))
    return dd.stats(), {
        "approx_peak_state_bytes": float(peak_bytes),
        "approx_bytes_per_key_at_peak_bytes": peak_bytes / max(peak_live, 1),
        "approx_peak_live_keys": float(most_live),
        "approx_bytes_per_key_at_peak_live": most_bytes / max(most_live, 1),
    }


def _pyarrow_unique_first(table: pa.Table) -> pa.Table:
    ids = table.column("event_id").combine_chunks()
    firsts = pc.index_in(pc.unique(ids), value_set=ids)
    return table.take(pc.take(firsts, pc.sort_indices(firsts)))


def _python_set(table: pa.Table) -> list:
    seen: set = set()
    keep = []
    for i, k in enumerate(table.column("event_id").to_pylist()):
        if k not in seen:
            seen.add(k)
            keep.append(i)
    return keep


def _same_ids(got: tuple[pa.Table, dict] | pa.Table, want: object) -> None:
    g = got[0] if isinstance(got, tuple) else got
    if isinstance(want, pl.DataFrame):
        w = want.get_column("event_id").to_arrow()
    elif isinstance(want, pa.Table):
        w = want.column("event_id")
    else:
        raise AssertionError(f"unexpected baseline output {type(want)}")
    w = w.combine_chunks() if isinstance(w, pa.ChunkedArray) else w
    gi = g.column("event_id").combine_chunks()
    if not gi.equals(w.cast(gi.type)):
        raise AssertionError("minide dedup output differs from the baseline")


def cases(size: str) -> list[Case]:
    n = EVENTS[size]
    out: list[Case] = []
    for label, strings in (("int64", False), ("string ~20B", True)):
        batches = events(n, string_keys=strings)
        table = pa.Table.from_batches(batches)
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)

        def extra(m, b, batches=batches):
            _, exact = m
            approx, memory = _approx_memory(batches)
            return {
                **memory,
                "exact_bytes_per_live_key": exact["bytes_per_key"],
                "exact_live_keys": exact["live_keys"],
                "approx_bytes_per_key_fpr_0.001": approx["bytes_per_key"],
                "approx_false_drops": float(approx["duplicates"] - exact["duplicates"]),
                # first occurrences wrongly dropped / first occurrences (exact mode's output)
                "approx_measured_fpr": (approx["duplicates"] - exact["duplicates"])
                / max(exact["rows_out"], 1),
                "approx_live_keys": approx["live_keys"],
            }

        out.append(
            Case(
                name=f"{label} x{n:,} vs polars",
                threads=THREADS,
                items=n,
                minide=lambda b=batches: _dedup(b),
                baseline=lambda d=df: d.unique(subset=["event_id"], maintain_order=True),
                baseline_name="polars unique(maintain_order)",
                verify=_same_ids,
                extra=extra,
                minide_pools=[RayonGlobal()],
                baseline_pools=[Polars()],
            )
        )
        out.append(
            Case(
                name=f"{label} x{n:,} vs pyarrow",
                threads=1,
                items=n,
                minide=lambda b=batches: _dedup(b),
                baseline=lambda t=table: _pyarrow_unique_first(t),
                baseline_name="pyarrow unique+index_in",
                verify=_same_ids,
                minide_pools=[RayonGlobal()],
                baseline_pools=[PyArrow()],
            )
        )
    # Python set loop on a slice: what a user writes without minide (no windows, no lateness).
    m = min(n, 200_000)
    small_batches = events(m)
    small = pa.Table.from_batches(small_batches)

    def same_rows(got: tuple[pa.Table, dict], want: list) -> None:
        if got[0].column("value").to_pylist() != small.column("value").take(want).to_pylist():
            raise AssertionError("minide dedup output differs from the set loop")

    out.append(
        Case(
            name=f"int64 x{m:,} vs python set",
            threads=1,
            items=m,
            minide=lambda: _dedup(small_batches),
            baseline=lambda: _python_set(small),
            baseline_name="python set loop",
            verify=same_rows,
            minide_pools=[RayonGlobal()],
            baseline_pools=[Caller("Python loop")],
        )
    )
    # Redis Streams → dedup → Parquet, end to end (benches/stream/e2e.py).
    out += e2e_cases(size, Case)
    # Event-time windows vs Polars group_by_dynamic (benches/stream/windows.py).
    out += window_cases(size, Case, THREADS)
    return out
