"""minide.pool: database connection pools for PostgreSQL, MariaDB/MySQL and SQLite.

>>> import minide.pool as mp
>>> pool = mp.Pool("postgresql://postgres@127.0.0.1/test", max_size=20)   # doctest: +SKIP
>>> with pool.connection() as conn:                                      # doctest: +SKIP
...     conn.execute("SELECT 1")

See docs/pool.md for the state machine, what each option prevents and how the router keeps
read-your-writes.
"""

from __future__ import annotations

from minide.errors import PoolClosedError, PoolTimeoutError
from minide.pool.aio import AsyncPool
from minide.pool.retry import is_transient, retry
from minide.pool.router import Pools, Router
from minide.pool.slot import PooledConnection
from minide.pool.sync import Pool
from minide.pool.url import ConnInfo, parse_url

__all__ = [
    "AsyncPool",
    "ConnInfo",
    "Pool",
    "PoolClosedError",
    "PoolTimeoutError",
    "PooledConnection",
    "Pools",
    "Router",
    "is_transient",
    "parse_url",
    "retry",
]
