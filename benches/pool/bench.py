"""minide.pool vs psycopg_pool and SQLAlchemy's QueuePool on the same PostgreSQL (127.0.0.1:5432).

1. Throughput of borrow -> ``SELECT 1`` -> return under contention: T client threads (8, 64,
   200) share one pool of 20 connections, each doing ``ops / T`` round trips. minide
   ``Pool`` vs ``psycopg_pool.ConnectionPool``, and vs ``sqlalchemy.pool.QueuePool``.
2. The same with 1,000 coroutines on one event loop: ``AsyncPool`` vs
   ``psycopg_pool.AsyncConnectionPool`` (SQLAlchemy's asyncio engine needs greenlet, which is
   not installed here, so it has no async case).
3. Borrow/return overhead alone (no query), one thread: the p50 of single borrow+return pairs
   is in ``extra`` (target: minide <= 5 us).

Every side: psycopg 3 connections in autocommit mode (no BEGIN/ROLLBACK round trips on any side),
20 connections opened before timing (the warm-up call fills each pool), the query is
``conn.execute("SELECT 1").fetchall()`` on the driver connection.

What each side does per borrow, with its defaults: minide pops the warmest idle connection
(lock-free deque), probes its socket with ``poll`` (health_check="on_borrow"; a ping round trip
when the connection was not validated in the last 0.5 s: about two pings per connection per
second under this load, a fraction of a percent of the round trips), records the
borrower's stack (leak detection) and wraps it in a proxy; on return it checks the driver's
local transaction state (rollback only if one is open) and appends it back. psycopg_pool takes
its lock, pops a connection (no check by default) and on return checks the transaction state
and puts it back, also under its lock. QueuePool takes a ``queue.Queue`` item (lock +
condition), runs no pre-ping by default, and calls ``rollback()`` on return (a no-op without a
transaction). No side caches query results; the server sees the same statements.

Threads: the client threads are the thread pools here (pure-Python pools do their work on the
calling threads): ``Arg("client threads")`` on each side, set to the case's count. The
coroutine case runs on one event-loop thread on both sides.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import minide.pool as mp
import psycopg
import psycopg_pool
from minide.bench import Case
from minide.bench.pools import Arg, Caller
from sqlalchemy.pool import QueuePool

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
URL = "postgresql://postgres@127.0.0.1:5432/test?autocommit=true"
POOL = 20
#: total round trips per timed call, per size
OPS = {"tiny": 400, "small": 6_000, "large": 40_000}
OVERHEAD_OPS = {"tiny": 2_000, "small": 50_000, "large": 200_000}

logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


def minide_pool() -> mp.Pool:
    return mp.Pool(URL, min_size=POOL, max_size=POOL)


def psycopg_pool_() -> psycopg_pool.ConnectionPool:
    return psycopg_pool.ConnectionPool(
        DSN, min_size=POOL, max_size=POOL, kwargs={"autocommit": True}, open=True
    )


def queue_pool() -> QueuePool:
    return QueuePool(lambda: psycopg.connect(DSN, autocommit=True), pool_size=POOL, max_overflow=0)


_SYNC: dict[str, Any] = {}


def sync_pools() -> tuple[mp.Pool, psycopg_pool.ConnectionPool, QueuePool]:
    """One pool of each kind, shared by the thread cases (3 x 20 sessions)."""
    if not _SYNC:
        m = minide_pool()
        m.wait()
        fill(m.acquire, m.release)
        pp = psycopg_pool_()
        pp.wait()
        qp = queue_pool()
        fill(qp.connect, lambda c: c.close())
        _SYNC.update(m=m, pp=pp, qp=qp)
    return _SYNC["m"], _SYNC["pp"], _SYNC["qp"]


def close_sync_pools() -> None:
    """PostgreSQL allows 100 sessions: the async case closes the thread cases' 60 first."""
    if _SYNC:
        _SYNC["m"].close()
        _SYNC["pp"].close()
        _SYNC["qp"].dispose()
        _SYNC.clear()


def fill(borrow: Callable[[], Any], give: Callable[[Any], None]) -> None:
    """Open all POOL connections before timing (each pool opens lazily or in the background)."""
    held = [borrow() for _ in range(POOL)]
    for c in held:
        give(c)


def threaded(arg: Arg, ops: int, one: Callable[[], None]) -> Callable[[], int]:
    def run() -> int:
        n = arg.n
        per = max(1, ops // n)
        start = threading.Barrier(n + 1)

        def worker() -> None:
            start.wait()
            for _ in range(per):
                one()

        ts = [threading.Thread(target=worker) for _ in range(n)]
        for t in ts:
            t.start()
        start.wait()
        for t in ts:
            t.join()
        return per * n

    return run


def throughput_cases(size: str) -> list[Case]:
    ops = OPS[size]
    m, pp, qp = sync_pools()

    def m_one() -> None:
        with m.connection() as c:
            c.execute("SELECT 1").fetchall()

    def pp_one() -> None:
        with pp.connection() as c:
            c.execute("SELECT 1").fetchall()

    def qp_one() -> None:
        c = qp.connect()
        try:
            c.execute("SELECT 1").fetchall()
        finally:
            c.close()

    def same_count(a: int, b: int) -> None:
        if a != b:
            raise AssertionError(f"round trips differ: {a} vs {b}")

    cases = []
    for threads in (8, 64, 200):
        for name, one in (("psycopg_pool", pp_one), ("SQLAlchemy QueuePool", qp_one)):
            am, ab = Arg("minide client threads"), Arg("baseline client threads")
            cases.append(
                Case(
                    name=f"borrow+SELECT 1+return, {threads} threads, pool {POOL}",
                    minide=threaded(am, ops, m_one),
                    baseline=threaded(ab, ops, one),
                    baseline_name=name,
                    threads=threads,
                    repeat=3,
                    items=(ops // threads) * threads,
                    verify=same_count,
                    minide_pools=[am],
                    baseline_pools=[ab],
                )
            )
    return cases


def coroutine_case(size: str) -> Case:
    ops = OPS[size]
    tasks = 1_000
    per = max(1, ops // tasks)
    loop = asyncio.new_event_loop()
    pools: dict[str, Any] = {}

    def opened() -> tuple[mp.AsyncPool, psycopg_pool.AsyncConnectionPool]:
        if not pools:  # on the first call, after the thread cases ran
            close_sync_pools()
            m = mp.AsyncPool(URL, min_size=POOL, max_size=POOL)
            pp = psycopg_pool.AsyncConnectionPool(
                DSN, min_size=POOL, max_size=POOL, kwargs={"autocommit": True}, open=False
            )
            loop.run_until_complete(m.wait())
            loop.run_until_complete(pp.open(wait=True))
            pools.update(m=m, pp=pp)

            async def close_both() -> None:
                await m.close()
                await pp.close()

            atexit.register(lambda: loop.run_until_complete(close_both()))
        return pools["m"], pools["pp"]

    async def m_worker() -> None:
        m = pools["m"]
        for _ in range(per):
            async with m.connection() as c:
                await (await c.execute("SELECT 1")).fetchall()

    async def pp_worker() -> None:
        pp = pools["pp"]
        for _ in range(per):
            async with pp.connection() as c:
                await (await c.execute("SELECT 1")).fetchall()

    def run(worker: Callable[[], Any]) -> Callable[[], int]:
        def go() -> int:
            opened()

            async def all_() -> None:
                await asyncio.gather(*(worker() for _ in range(tasks)))

            loop.run_until_complete(all_())
            return per * tasks

        return go

    return Case(
        name=f"async borrow+SELECT 1+return, {tasks:,} coroutines, pool {POOL}",
        minide=run(m_worker),
        baseline=run(pp_worker),
        baseline_name="psycopg_pool (async)",
        threads=1,
        repeat=3,
        items=per * tasks,
        minide_pools=[Caller("one asyncio loop, 1,000 coroutines")],
        baseline_pools=[Caller("one asyncio loop, 1,000 coroutines")],
    )


def overhead_cases(size: str) -> list[Case]:
    n = OVERHEAD_OPS[size]
    m, pp, qp = sync_pools()
    clock = time.perf_counter_ns

    def loop(borrow_return: Callable[[], None]) -> Callable[[], float]:
        def go() -> float:
            samples = [0] * n
            for i in range(n):
                t0 = clock()
                borrow_return()
                samples[i] = clock() - t0
            return statistics.median(samples) / 1e3  # p50 in microseconds

        return go

    def m_br() -> None:
        with m.connection():
            pass

    def pp_br() -> None:
        with pp.connection():
            pass

    def qp_br() -> None:
        qp.connect().close()

    def p50s(a: float, b: float) -> dict[str, float]:
        return {"minide_p50_us": a, "baseline_p50_us": b}

    return [
        Case(
            name=f"borrow+return only (p50 in extra), {n:,} pairs",
            minide=loop(m_br),
            baseline=loop(b),
            baseline_name=name,
            threads=1,
            repeat=3,
            items=n,
            extra=p50s,
            minide_pools=[Caller("borrow/return loop")],
            baseline_pools=[Caller("borrow/return loop")],
        )
        for name, b in (("psycopg_pool", pp_br), ("SQLAlchemy QueuePool", qp_br))
    ]


def cases(size: str) -> list[Case]:
    return [*overhead_cases(size), *throughput_cases(size), coroutine_case(size)]
