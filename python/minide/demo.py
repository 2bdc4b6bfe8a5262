"""``minide demo``: a guided tour of each engine on generated data.

The face imports the engines, never the reverse: each engine lists its chapters as
``(title, function)`` pairs in ``minide/<engine>/demo*.py`` (``CHAPTERS``), and :func:`chapters`
imports them from the explicit list below. Chapters run in that order and print what the engine does, with numbers measured right there. No network, no files outside a
temporary directory.
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.panel import Panel
from rich.progress import track

from minide._tour import Chapter, Context, console

__all__ = ["Chapter", "Context", "chapters", "console", "run"]


def _about(ctx: Context) -> None:
    import pyarrow

    import minide
    from minide import _core

    console.print(
        f"minide {minide.__version__}, Rust core built in [bold]{_core.BUILD_PROFILE}[/] mode"
    )
    console.print(
        f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}, "
        f"{platform.machine()} with {__import__('os').cpu_count()} cores"
    )
    console.print("Engines are written from scratch in rust/; Python (python/minide) orchestrates.")


def _hash(ctx: Context) -> None:
    import xxhash

    import minide

    n = ctx.rows
    console.print(f"Generating {n:,} user e-mails and ids ...")
    ids = pa.array(ctx.rng.integers(0, 2**62, n))
    emails = pa.array(
        [
            f"user{i % 50_000}@example.org"
            for i in track(range(n), description="generating", transient=True)
        ]
    )
    for label, arr in (("int64 ids", ids), ("e-mail strings", emails)):
        t0 = time.perf_counter()
        h = minide.hash_column(arr)
        dt = time.perf_counter() - t0
        console.print(
            f"  hash_column({label}): {n:,} values in {dt * 1e3:.1f} ms "
            f"= {n / dt / 1e6:,.1f} M values/s"
        )
    # Check a sample against the reference implementation, byte for byte.
    sample = emails.slice(0, 5).to_pylist()
    h = minide.hash_column(emails.slice(0, 5)).to_pylist()
    for s, v in zip(sample, h, strict=True):
        assert v == xxhash.xxh3_64_intdigest(s.encode()), "hash mismatch"
    console.print(f"  first 3 hashes {h[:3]} match the xxhash package")
    with_nulls = minide.hash_column(pa.array(["a", None]))
    console.print(f"  nulls stay null: hash_column(['a', None]) = {with_nulls.to_pylist()}")
    console.print(
        "  Path: pyarrow exports its buffers through the Arrow C data interface "
        "(__arrow_c_array__), Rust reads them in place with the GIL released, and "
        "hands a new UInt64 buffer back the same way. See docs/architecture.md."
    )


def chapters() -> tuple[tuple[str, Chapter], ...]:
    """The tour: the face's chapters, then every engine's, from this explicit list, in order."""
    from minide.columnar.demo import CHAPTERS as parquet
    from minide.columnar.demo_csv import CHAPTERS as csv
    from minide.columnar.demo_dataset import CHAPTERS as datasets
    from minide.kv.demo import CHAPTERS as kv
    from minide.pool.demo import CHAPTERS as pool
    from minide.replication.demo import CHAPTERS as replication
    from minide.sql.demo import CHAPTERS as sql
    from minide.stream.demo import CHAPTERS as stream

    own: tuple[tuple[str, Chapter], ...] = (
        ("minide: what is installed", _about),
        ("Arrow from Python into Rust, zero-copy: hash_column", _hash),
    )
    return (*own, *csv, *parquet, *datasets, *sql, *kv, *stream, *replication, *pool)


def run(rows: int = 1_000_000, seed: int = 42) -> int:
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minide-demo-") as tmp:
        ctx = Context(rows=rows, seed=seed, workdir=Path(tmp), rng=np.random.default_rng(seed))
        for i, (title, fn) in enumerate(chapters(), 1):
            console.print(Panel.fit(f"[bold]{i}. {title}[/]"))
            fn(ctx)
            console.print()
    console.print(
        f"[green]Tour finished in {time.perf_counter() - t_start:.1f} s.[/] "
        "Next: `make test`, `make bench`, README.md and docs/."
    )
    return 0
