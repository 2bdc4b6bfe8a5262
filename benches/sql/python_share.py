"""The Python share of a file scan's time: TPC-H Q6 at SF1 over the Parquet files, through SQL
(``con.sql(q6).to_arrow()``) and through ``read_parquet`` with Q6's filter, one thread.

cProfile over 20 calls after 3 warm-up calls; the share is 1 - (time inside the one Rust call)
/ (total profiled time). cProfile inflates the Python side (every Python call is hooked), so
the true share is lower. Run: ``python benches/sql/python_share.py [CACHE_DIR]`` (the TPC-H
files are generated there once, as the SQL bench does).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable

import minide
import minide.columnar as mc
from minide.sql import tpch

Q6_FILTER = (
    "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
    "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"
)


def share(fn: Callable[[], object], rust_call: str, calls: int = 20) -> tuple[float, float]:
    """(milliseconds per call, Python share in %) of ``fn``; ``rust_call`` names the Rust
    method the work happens in (as cProfile lists it)."""
    for _ in range(3):
        fn()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    wall = (time.perf_counter() - t0) / calls
    st = pstats.Stats(prof)
    inside = sum(v[2] for k, v in st.stats.items() if rust_call in k[2])  # type: ignore[attr-defined]
    return wall * 1e3, 100.0 * (1.0 - inside / st.total_tt)  # type: ignore[attr-defined]


def main() -> None:
    root = tpch.generate(1.0, sys.argv[1] if len(sys.argv) > 1 else None)
    con = minide.connect(threads=1)
    for name in tpch.TABLES:
        con.register(name, root / f"{name}.parquet")
    q6 = tpch.query(6)
    path = root / "lineitem.parquet"
    cols = ["l_extendedprice", "l_discount"]
    for what, fn, call in [
        (
            "SQL Q6 over files",
            lambda: con.sql(q6).to_arrow(),
            "'execute' of 'minide._core.SqlCatalog'",
        ),
        (
            "read_parquet with Q6's filter",
            lambda: mc.read_parquet(path, columns=cols, filter=Q6_FILTER, threads=1),
            "'read_all' of 'minide._core.ScanStream'",
        ),
    ]:
        ms, py = share(fn, call)
        print(f"{what}: {ms:.1f} ms per call, Python share {py:.2f}% (cProfile, 1 thread)")


if __name__ == "__main__":
    main()
