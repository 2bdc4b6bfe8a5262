"""CSV bench cases: minide.columnar.read_csv / open_csv vs pyarrow.csv on the generated dataset.

``csv_cases(size)`` returns the cases (wired into ``benches/columnar/bench.py``; also runnable
alone as ``minide bench csv``). The data file is made once per size by
``minide.columnar.datagen.generate_csv`` and cached in ``$MINIDE_BENCH_DATA`` (default: a
``minide-bench`` folder in the temp directory).

Threads: the harness sets minide's ``threads=`` and pyarrow's CPU and I/O pools to the case's
count; pyarrow's reader gets ``use_threads=`` accordingly. The streaming case is one thread on
both sides.

Caches: none in either reader between calls (each call opens the file and infers types again);
the file is in the OS page cache for both after the warm-up calls.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import minide.columnar as mc
import pyarrow as pa
import pyarrow.csv as pacsv
from minide.bench import Case
from minide.bench.pools import Arg, PyArrow
from minide.columnar import datagen

SEED = 42

#: The generated comments hold the odd quoted newline: pyarrow's parallel chunker must be told,
#: or it fails on the 1 GB file ("CSV parser got out of sync with chunker"; costs it ~6%).
PARSE = pacsv.ParseOptions(newlines_in_values=True)
REPEAT = {"tiny": 5, "small": 5, "large": 1}


def dataset(size: str) -> tuple[Path, int]:
    """The cached CSV file of ``size`` and its row count."""
    root = Path(os.environ.get("MINIDE_BENCH_DATA", Path(tempfile.gettempdir()) / "minide-bench"))
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"datagen-{size}-seed{SEED}.csv"
    rows_file = path.with_suffix(".rows")
    if not (path.exists() and rows_file.exists()):
        info = datagen.generate_csv(path, size, seed=SEED)
        rows_file.write_text(str(info.rows))
    return path, int(rows_file.read_text())


def _same(ours: pa.Table, theirs: pa.Table) -> None:
    if ours.num_rows != theirs.num_rows or ours.column_names != theirs.column_names:
        raise AssertionError("read_csv and pyarrow disagree on shape")
    for name in ours.column_names:
        a, b = ours.column(name), theirs.column(name)
        if pa.types.is_timestamp(b.type):
            b = b.cast(a.type)  # pyarrow infers timestamp[ns], minide timestamp[us]
        if not a.equals(b):
            raise AssertionError(f"read_csv and pyarrow disagree on column {name}")


_PEAK = """
import sys
import minide.columnar as mc
import pyarrow.csv as pacsv

def status(key):
    # VmHWM is the peak RSS of this process image (reset at exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0

before = status("VmRSS:")
n = 0
if sys.argv[2] == "minide":
    for b in mc.open_csv(sys.argv[1], threads=1):
        n += b.num_rows
else:
    opts = pacsv.ReadOptions(use_threads=False)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    for b in pacsv.open_csv(sys.argv[1], read_options=opts, parse_options=parse):
        n += b.num_rows
print(before, status("VmHWM:"), n)
"""


def peak_memory(path: Path, who: str) -> tuple[float, float]:
    """(peak RSS MiB, peak minus RSS before streaming MiB) of streaming ``path`` in a fresh
    process (Linux /proc)."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path), who], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after = int(out[0]), int(out[1])
    return after / 1024, (after - before) / 1024


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_times(
    minide: Callable[[], Any], baseline: Callable[[], Any], runs: int = 3
) -> dict[str, float]:
    """Process CPU seconds (user + sys, all threads) of each side, median of ``runs``: steadier
    than wall time on a machine shared with other jobs."""
    m: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        for fn, out in ((minide, m), (baseline, b)):
            c0 = _cpu_seconds()
            fn()
            out.append(_cpu_seconds() - c0)
    cm, cb = statistics.median(m), statistics.median(b)
    return {"minide_cpu_s": cm, "baseline_cpu_s": cb, "cpu_ratio": cb / cm if cm else 0.0}


def csv_cases(size: str) -> list[Case]:
    path, rows = dataset(size)
    mib = path.stat().st_size / 2**20
    repeat = REPEAT[size]
    out: list[Case] = []
    for threads in (1, 2):
        arg = Arg()

        def ours(arg: Arg = arg) -> pa.Table:
            return mc.read_csv(path, threads=arg.n)

        def theirs() -> pa.Table:
            opts = pacsv.ReadOptions(use_threads=pa.cpu_count() > 1)
            return pacsv.read_csv(path, read_options=opts, parse_options=PARSE)

        out.append(
            Case(
                name=f"read_csv {mib:,.0f} MiB",
                threads=threads,
                repeat=repeat,
                items=rows,
                minide=ours,
                baseline=theirs,
                baseline_name="pyarrow.csv.read_csv",
                verify=_same,
                extra=lambda _m, _b, f=ours, g=theirs: cpu_times(f, g),
                minide_pools=[arg],
                baseline_pools=[PyArrow()],
            )
        )

    stream_arg = Arg()

    def stream_minide() -> int:
        return sum(b.num_rows for b in mc.open_csv(path, threads=stream_arg.n))

    def stream_pyarrow() -> int:
        opts = pacsv.ReadOptions(use_threads=False)
        return sum(b.num_rows for b in pacsv.open_csv(path, read_options=opts, parse_options=PARSE))

    def rows_match(a: Any, b: Any) -> None:
        if a != b or a != rows:
            raise AssertionError(f"streamed {a} rows vs pyarrow {b}, expected {rows}")

    def memory(_a: Any, _b: Any) -> dict[str, float]:
        m_peak, m_growth = peak_memory(path, "minide")
        p_peak, p_growth = peak_memory(path, "pyarrow")
        return {
            **cpu_times(stream_minide, stream_pyarrow),
            "file_MiB": mib,
            "minide_peak_rss_MiB": m_peak,
            "minide_rss_growth_MiB": m_growth,
            "pyarrow_peak_rss_MiB": p_peak,
            "pyarrow_rss_growth_MiB": p_growth,
        }

    out.append(
        Case(
            name=f"open_csv stream {mib:,.0f} MiB",
            threads=1,
            repeat=repeat,
            items=rows,
            minide=stream_minide,
            baseline=stream_pyarrow,
            baseline_name="pyarrow.csv.open_csv",
            verify=rows_match,
            extra=memory,
            minide_pools=[stream_arg],
            baseline_pools=[PyArrow()],
        )
    )
    return out
