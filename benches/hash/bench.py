"""hash_column (xxh3-64 over Arrow arrays) vs Polars' native hash and a Python xxhash loop.

Polars hashes with its own function (not xxh3), so the comparison is of speed, not of values; the
xxhash loop is checked value for value.

Threads: one for everyone. hash_column is one pass on the calling thread; Polars' pool is sized
to 1 (the harness runs those cases in a process started with ``POLARS_MAX_THREADS=1`` when this
one's pool has another size).

Caches: none on either side. Both hash the same in-memory array (the Polars Series is built from
it once, before timing, zero-copy); nothing is kept between calls, and the warm-up call of each
side only warms the CPU caches and the allocator equally.
"""

from __future__ import annotations

import minide
import numpy as np
import polars as pl
import pyarrow as pa
import xxhash
from minide.bench import Case
from minide.bench.pools import Caller, Polars

KERNEL = Caller("hash_column: one pass on the calling thread")

ROWS = {"tiny": 10_000, "small": 1_000_000, "large": 10_000_000}


def _strings(rng: np.random.Generator, n: int) -> pa.Array:
    words = np.array([f"user-{i:08d}@example.org" for i in range(min(n, 200_000))])
    return pa.array(words[rng.integers(0, len(words), n)])


def cases(size: str) -> list[Case]:
    n = ROWS[size]
    rng = np.random.default_rng(7)
    ints = pa.array(rng.integers(-(2**62), 2**62, n))
    strs = _strings(rng, n)
    out: list[Case] = []
    for label, arr in (("int64", ints), ("string ~24B", strs)):
        series = pl.from_arrow(arr)
        out.append(
            Case(
                name=f"{label} x{n:,}",
                threads=1,
                items=n,
                minide=lambda a=arr: minide.hash_column(a),
                baseline=lambda s=series: s.hash(),
                baseline_name="polars Series.hash",
                minide_pools=[KERNEL],
                baseline_pools=[Polars()],
            )
        )
    # Python loop baseline on a slice: what a user would write without minide.
    m = min(n, 100_000)
    small = ints.slice(0, m)
    values = small.to_numpy()

    def py_loop() -> list[int]:
        return [xxhash.xxh3_64_intdigest(int(v).to_bytes(8, "little", signed=True)) for v in values]

    def same(got: pa.Array, want: list[int]) -> None:
        if got.to_pylist() != want:
            raise AssertionError("hash_column disagrees with xxhash")

    out.append(
        Case(
            name=f"int64 x{m:,} (checked)",
            threads=1,
            items=m,
            minide=lambda: minide.hash_column(small),
            baseline=py_loop,
            baseline_name="python xxhash loop",
            minide_pools=[KERNEL],
            baseline_pools=[Caller("Python loop")],
            verify=same,
        )
    )
    return out
