"""The stream chapter of `minide demo`, listed in CHAPTERS for minide.demo."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from minide._tour import Chapter, Context, console


def _events(ctx: Context, n: int) -> pa.Table:
    """n events, 20% re-sent duplicates within 10 minutes, 1% arriving 20 minutes late."""
    rng = ctx.rng
    n_dup = n // 5
    n_orig = n - n_dup
    ids = rng.permutation(n_orig).astype(np.int64) * 7 + 1_000_000
    t = 1_700_000_000_000 + np.sort(rng.integers(0, 2 * 3_600_000, n_orig))
    pick = rng.integers(0, n_orig, n_dup)
    all_ids = np.concatenate([ids, ids[pick]])
    all_t = np.concatenate([t, t[pick] + rng.integers(0, 600_000, n_dup)])
    arrival = all_t + rng.integers(0, 60_000, n)
    late = rng.random(n) < 0.01
    arrival[late] += 20 * 60_000  # these arrive long after their event time
    order = np.argsort(arrival, kind="stable")
    return pa.table(
        {
            "event_id": all_ids[order],
            "event_time": pa.array(all_t[order], pa.timestamp("ms")),
            "user_id": (all_ids[order] % 1000).astype(np.int64),
        }
    )


def _stream(ctx: Context) -> None:
    import minide.stream as ms

    n = ctx.rows
    table = _events(ctx, n)
    batches = table.to_batches(max_chunksize=max(1_000, min(100_000, n // 10)))
    console.print(
        f"{n:,} events in {len(batches)} batches: 20% duplicates, 1% arriving 20 min late; "
        "window 1h, allowed lateness 5m"
    )
    for mode in ("exact", "approx"):
        dd = ms.Deduplicator("event_id", window="1h", allowed_lateness="5m", mode=mode)
        t0 = time.perf_counter()
        out = sum(dd.process(b).num_rows for b in batches)
        dt = time.perf_counter() - t0
        s = dd.stats()
        console.print(
            f"  {mode:6}: {out:,} first occurrences, {s['duplicates']:,} duplicates, "
            f"{s['late']:,} late → side output, in {dt * 1e3:.0f} ms = {n / dt / 1e6:.1f} M events/s; "
            f"{s['live_keys']:,} keys in state, {s['bytes_per_key']:.1f} bytes/key"
        )
        if mode == "exact":
            d = dd.describe()
            tot = d["total"]
            console.print(
                f"          dd.describe(): 16 shards, {tot['slots']:,} table slots at "
                f"{tot['load']:.0%} live load ({tot['used'] - tot['live']:,} stale), "
                f"{tot['entries']:,} entries of {d['entry_bytes']} B ({d['stamp']})"
            )
    late = dd.late()
    console.print(
        f"  dd.late() returned {late.num_rows:,} late rows; watermark = {dd.watermark} ms"
    )

    # Checkpoint / restore: identical answers afterwards.
    half = len(batches) // 2
    a = ms.Deduplicator("event_id", window="1h", allowed_lateness="5m")
    for b in batches[:half]:
        a.process(b)
    t0 = time.perf_counter()
    state = a.checkpoint()
    b2 = ms.Deduplicator.restore(state)
    dt = time.perf_counter() - t0
    same = all(a.process(b).equals(b2.process(b)) for b in batches[half:])
    console.print(
        f"  checkpoint after {half} batches: {len(state) / 1e6:.1f} MB (CRC32C, versioned), "
        f"checkpoint+restore {dt * 1e3:.0f} ms; restored copy gives identical output: {same}"
    )

    # The durable log with a consumer group.
    log = ms.Log(ctx.workdir / "events.log", partitions=4, sync="none")
    t0 = time.perf_counter()
    acks = log.append(table, key="user_id")
    log.sync()
    dt = time.perf_counter() - t0
    size = log.size_bytes()
    console.print(
        f"  log.append: {acks.num_rows:,} rows into 4 partitions by user_id in {dt * 1e3:.0f} ms "
        f"({size / 1e6:.1f} MB on disk, ends {log.end_offsets()})"
    )
    cons = log.consumer("demo")
    t0 = time.perf_counter()
    got = 0
    while (b := cons.poll(100_000)).num_rows:
        got += b.num_rows
        if got >= n // 2:
            break
    cons.commit()
    dt = time.perf_counter() - t0
    console.print(
        f"  consumer 'demo' polled {got:,} rows in {dt * 1e3:.0f} ms, committed; "
        f"lag now {sum(cons.lag().values()):,} rows"
    )


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("stream: exactly-once dedup with watermarks, checkpoints and a durable log", _stream),
)
