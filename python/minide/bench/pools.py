"""The thread pools a bench side runs on, set to the case's thread count and read back.

Every :class:`~minide.bench.Case` names the pools of each side (``minide_pools`` and
``baseline_pools``). Before a case runs, the harness calls :meth:`Pool.apply` with the case's
thread count on every pool of both sides, then :meth:`Pool.read` and checks that each reading
equals that count; it reads them again after the timed runs. A pool that can only be sized when
its library starts (Polars' pool, minide's global rayon pool) names the environment variable
that sizes it: when it reads another count, the harness runs that case in a fresh process
started with the variable set (see ``minide.bench.child``).
"""

from __future__ import annotations

from typing import Any

from minide import _core

__all__ = ["Arg", "Caller", "DuckDB", "MinideSQL", "Polars", "Pool", "PyArrow", "RayonGlobal"]


class Pool:
    """One thread pool: ``apply(n)`` sizes it (if it can be sized at run time), ``read()``
    returns what it is set to now, as ``{setting: threads}``."""

    #: a short name for tables and error messages
    name = "pool"
    #: environment variables that size this pool when its library starts (empty: resizable)
    env: tuple[str, ...] = ()

    def apply(self, n: int) -> None:
        raise NotImplementedError

    def read(self) -> dict[str, int]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PyArrow(Pool):
    """pyarrow's CPU pool (compute kernels, Parquet/CSV decoding) and its I/O pool (read-ahead):
    ``pa.set_cpu_count(n)`` and ``pa.set_io_thread_count(n)``."""

    name = "pyarrow"

    def apply(self, n: int) -> None:
        import pyarrow as pa

        pa.set_cpu_count(n)
        pa.set_io_thread_count(n)

    def read(self) -> dict[str, int]:
        import pyarrow as pa

        return {
            "pyarrow.cpu_count": pa.cpu_count(),
            "pyarrow.io_thread_count": pa.io_thread_count(),
        }


class DuckDB(Pool):
    """A DuckDB connection's worker threads: ``SET threads = n``, read back with
    ``current_setting('threads')``."""

    name = "duckdb"

    def __init__(self, con: Any) -> None:
        self.con = con

    def apply(self, n: int) -> None:
        self.con.execute(f"SET threads = {int(n)}")

    def read(self) -> dict[str, int]:
        # fetchall: a partly fetched result would keep the connection busy (DuckDB >= 2)
        rows = self.con.execute("SELECT current_setting('threads')").fetchall()
        return {"duckdb.threads": int(rows[0][0])}

    def __repr__(self) -> str:
        return "DuckDB(con)"


class Polars(Pool):
    """Polars' global pool, sized once at import from ``POLARS_MAX_THREADS`` (default: the
    cores). ``apply`` cannot resize it; ``read`` is ``pl.thread_pool_size()``."""

    name = "polars"
    env = ("POLARS_MAX_THREADS",)

    def apply(self, n: int) -> None:
        pass

    def read(self) -> dict[str, int]:
        import polars as pl

        size = pl.thread_pool_size() if hasattr(pl, "thread_pool_size") else pl.threadpool_size()
        return {"polars.thread_pool_size": int(size)}


class RayonGlobal(Pool):
    """minide's global rayon pool (kernels that take no ``threads=`` argument, e.g. the stream
    deduplicator's key hashing): rayon sizes it from ``RAYON_NUM_THREADS`` when first used
    (default: the cores), so ``read`` is that variable as this process was started with."""

    name = "minide rayon"
    env = ("RAYON_NUM_THREADS",)

    def apply(self, n: int) -> None:
        pass

    def read(self) -> dict[str, int]:
        # the pool's own size, asked of rayon (not of the variable that sized it)
        return {"rayon.global": _core.rayon_global_threads()}


class MinideSQL(Pool):
    """A ``minide.sql`` connection's executor threads: ``con.set("threads", n)``."""

    name = "minide sql"

    def __init__(self, con: Any) -> None:
        self.con = con

    def apply(self, n: int) -> None:
        self.con.set("threads", n)

    def read(self) -> dict[str, int]:
        # the count the connection hands the executor with every query
        return {"minide.sql.threads": int(self.con._threads)}

    def __repr__(self) -> str:
        return "MinideSQL(con)"


class Arg(Pool):
    """A ``threads=`` argument: the case's callables pass ``threads=arg.n``; the harness sets
    ``n`` to the case's count before running it (reading ``n`` earlier is an error, so a
    callable that uses it cannot run on any other count)."""

    name = "threads="

    def __init__(self, label: str = "minide threads=") -> None:
        self.label = label
        self._n: int | None = None

    @property
    def n(self) -> int:
        if self._n is None:
            raise RuntimeError(f"{self.label}: read before the harness set the thread count")
        return self._n

    def apply(self, n: int) -> None:
        self._n = n

    def read(self) -> dict[str, int]:
        return {self.label: self.n}

    def __repr__(self) -> str:
        return f"Arg({self.label!r})"


class Caller(Pool):
    """Work done on the calling thread only (a Python loop, sqlite3, LMDB and RocksDB calls,
    a single-threaded kernel): one thread, whatever the case asks; ``why`` says what runs."""

    name = "caller"

    def __init__(self, why: str) -> None:
        self.why = why

    def apply(self, n: int) -> None:
        pass

    def read(self) -> dict[str, int]:
        return {f"caller ({self.why})": 1}

    def __repr__(self) -> str:
        return f"Caller({self.why!r})"
