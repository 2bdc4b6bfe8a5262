"""Event streams for the stream bench and tests: ~20% duplicates, out-of-order within 1 minute.

Originals are spread evenly over ``span`` of event time; each duplicate repeats a random original
0-10 minutes later. Rows arrive in order of event time plus up to 1 minute of jitter, so nothing
is late with allowed_lateness >= 1 minute and every duplicate is within a 1-hour window: the exact
deduplicator's output then equals "first occurrence of each id in arrival order".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

MINUTE_MS = 60_000


def events(
    n: int,
    *,
    dup_fraction: float = 0.2,
    span_ms: int = 2 * 3_600_000,
    string_keys: bool = False,
    batch_rows: int = 100_000,
    seed: int = 7,
) -> list[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    n_dup = int(n * dup_fraction)
    n_orig = n - n_dup
    ids = rng.choice(2**62, size=n_orig, replace=False).astype(np.int64)
    t0 = 1_700_000_000_000
    t_orig = t0 + np.sort(rng.integers(0, span_ms, n_orig))
    pick = rng.integers(0, n_orig, n_dup)
    all_ids = np.concatenate([ids, ids[pick]])
    all_t = np.concatenate([t_orig, t_orig[pick] + rng.integers(0, 10 * MINUTE_MS, n_dup)])
    arrival = all_t + rng.integers(0, MINUTE_MS, n)
    order = np.argsort(arrival, kind="stable")
    all_ids, all_t = all_ids[order], all_t[order]
    key: pa.Array
    if string_keys:
        key = pa.array(np.char.add("evt-", np.char.zfill(np.char.mod("%x", all_ids), 16)))
    else:
        key = pa.array(all_ids)
    table = pa.table(
        {
            "event_id": key,
            "event_time": pa.array(all_t, pa.timestamp("ms")),
            "value": pa.array(np.arange(n, dtype=np.int64)),
        }
    )
    return table.to_batches(max_chunksize=batch_rows)
