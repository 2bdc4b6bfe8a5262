"""csv_to_parquet bench cases: minide vs pyarrow (read_csv + write_table), Polars
(``scan_csv().sink_parquet``) and DuckDB (``COPY ... TO (FORMAT parquet)``).

Same CSV file (``csv_cases.dataset``: the seeded generator, ~100 MB at ``small``, ~1 GB at
``large``), same codec, 2 threads for everyone, set by the harness: minide's ``threads=``,
pyarrow's CPU and I/O pools, DuckDB's ``SET threads``, and Polars' pool (sized at import: when
this process's pool has another size, the harness runs the Polars cases in a process started
with ``POLARS_MAX_THREADS=2``). Caches: none between calls on any side (each conversion reads
the CSV and writes a new file; DuckDB's connection is opened once and holds no table); the CSV
is in the OS page cache for all after the warm-up calls. Time is measured in this
process by the harness (and process CPU seconds, steadier on a shared machine). Each case's ``extra`` then runs every engine once more in a fresh
process to report its peak RSS (Linux VmHWM) and output size, and the ratios
CSV bytes / Parquet bytes; ``size_vs_best`` is minide's output over the smallest of the three
baselines' (target <= 1.0).
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import minide.columnar as mc
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from csv_cases import cpu_times, dataset
from minide.bench import Case
from minide.bench.pools import Arg, DuckDB, Polars, PyArrow

THREADS = 2
REPEAT = {"tiny": 3, "small": 3, "large": 1}

# One conversion in a fresh process: prints wall seconds, peak RSS and output size as JSON.
_ONE = r"""
import json, os, sys, time
src, dst, who, codec, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
os.environ["POLARS_MAX_THREADS"] = str(threads)

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

import pyarrow as pa
pa.set_cpu_count(threads)
# engines imported before the clock starts: the time is the conversion's
if who == "minide":
    import minide.columnar as mc
elif who == "pyarrow":
    import pyarrow.csv as pacsv, pyarrow.parquet as pq
elif who == "polars":
    import polars as pl
else:
    import duckdb
base = hwm_kib()
t0 = time.perf_counter()
if who == "minide":
    mc.csv_to_parquet(src, dst, compression=codec, threads=threads)
elif who == "pyarrow":
    t = pacsv.read_csv(
        src,
        read_options=pacsv.ReadOptions(use_threads=threads > 1),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    pq.write_table(t, dst, compression=codec)
elif who == "polars":
    pl.scan_csv(src).sink_parquet(dst, compression=codec)
else:
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{src}')) TO '{dst}' (FORMAT parquet, COMPRESSION {codec})"
    )
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_MiB": hwm_kib() / 1024,
                  "import_MiB": base / 1024, "bytes": os.path.getsize(dst)}))
"""


def run_fresh(src: Path, dst: Path, who: str, codec: str) -> dict[str, Any]:
    """Convert once in a new process: seconds, peak RSS (MiB) and output bytes."""
    out = subprocess.run(
        [sys.executable, "-c", _ONE, str(src), str(dst), who, codec, str(THREADS)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def convert_cases(size: str) -> list[Case]:
    import duckdb
    import polars as pl

    src, rows = dataset(size)
    csv_bytes = src.stat().st_size
    mib = csv_bytes / 2**20
    tmp = Path(tempfile.mkdtemp(prefix="minide-bench-convert-"))
    # outputs of every engine and codec: ~3.7 GB at "large"; removed when the run ends
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    repeat = REPEAT[size]
    out: list[Case] = []

    def rows_of(path: Path) -> int:
        return pq.ParquetFile(path).metadata.num_rows

    dk = duckdb.connect()
    atexit.register(dk.close)
    arg = Arg()
    for codec in ("zstd", "snappy"):
        ours = tmp / f"minide-{codec}.parquet"

        def m_convert(ours: Path = ours, codec: str = codec) -> Path:
            mc.csv_to_parquet(src, ours, compression=codec, threads=arg.n)
            return ours

        def b_pyarrow(dst: Path = tmp / f"pyarrow-{codec}.parquet", codec: str = codec) -> Path:
            # the generated comments hold the odd quoted newline: parallel chunking must know
            t = pacsv.read_csv(
                src,
                read_options=pacsv.ReadOptions(use_threads=pa.cpu_count() > 1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
            )
            pq.write_table(t, dst, compression=codec)
            return dst

        def b_polars(dst: Path = tmp / f"polars-{codec}.parquet", codec: str = codec) -> Path:
            pl.scan_csv(src).sink_parquet(dst, compression=codec)
            return dst

        def b_duckdb(dst: Path = tmp / f"duckdb-{codec}.parquet", codec: str = codec) -> Path:
            dk.execute(
                f"COPY (SELECT * FROM read_csv('{src}')) TO '{dst}' "
                f"(FORMAT parquet, COMPRESSION {codec})"
            )
            return dst

        def same_rows(m: Path, b: Path) -> None:
            if rows_of(m) != rows or rows_of(b) != rows:
                raise AssertionError(f"row counts differ: {rows_of(m)} vs {rows_of(b)}, {rows}")

        fresh: dict[str, dict[str, Any]] = {}

        def extra(
            _m: Path,
            _b: Path,
            who: str,
            base: Any,
            codec: str = codec,
            fresh: dict[str, Any] = fresh,
            convert: Any = m_convert,
        ) -> dict[str, float]:
            # every engine once in a fresh process (cached per codec: shared by the 3 cases)
            if not fresh:
                for w in ("minide", "pyarrow", "polars", "duckdb"):
                    fresh[w] = run_fresh(src, tmp / f"fresh-{w}-{codec}.parquet", w, codec)
            m, b = fresh["minide"], fresh[who]
            best = min(fresh[w]["bytes"] for w in ("pyarrow", "polars", "duckdb"))
            return {
                "csv_MiB": mib,
                "minide_peak_rss_MiB": m["peak_MiB"],
                "baseline_peak_rss_MiB": b["peak_MiB"],
                # peak minus RSS after importing the engine: what the conversion itself needs
                "minide_rss_growth_MiB": m["peak_MiB"] - m["import_MiB"],
                "baseline_rss_growth_MiB": b["peak_MiB"] - b["import_MiB"],
                "minide_csv_over_parquet": csv_bytes / m["bytes"],
                "baseline_csv_over_parquet": csv_bytes / b["bytes"],
                "minide_bytes": m["bytes"],
                "baseline_bytes": b["bytes"],
                "size_vs_best": m["bytes"] / best,
                "fresh_process_ratio": b["seconds"] / m["seconds"],
                # process CPU seconds: steadier than wall time on a machine shared with others
                **cpu_times(convert, base, runs=1 if size == "large" else 3),
            }

        for who, fn, name, pool in (
            ("pyarrow", b_pyarrow, "pacsv.read_csv + pq.write_table", PyArrow()),
            ("polars", b_polars, "polars scan_csv().sink_parquet", Polars()),
            ("duckdb", b_duckdb, "duckdb COPY TO parquet", DuckDB(dk)),
        ):
            out.append(
                Case(
                    name=f"csv_to_parquet {codec} {mib:,.0f} MiB",
                    threads=THREADS,
                    items=rows,
                    repeat=repeat,
                    minide=m_convert,
                    baseline=fn,
                    baseline_name=name,
                    verify=same_rows,
                    extra=lambda m, b, who=who, fn=fn, extra=extra: extra(m, b, who, fn),
                    minide_pools=[arg],
                    baseline_pools=[pool],
                )
            )
    return out
