"""AsyncPool on the three databases (psycopg's AsyncConnection; PyMySQL and sqlite3 through
threads), and under uvloop."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import minide.pool as mp
import pytest
from minide.errors import PoolClosedError, PoolTimeoutError

from .dbs import Backend, rows


async def arows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    if mp.PooledConnection is type(conn) and hasattr(conn.raw, "set_autocommit"):
        cur = await conn.execute(sql)
        return [tuple(r) for r in await cur.fetchall()] if cur.description else []
    return rows(conn, sql)


async def acommit(conn: Any) -> None:
    r = conn.commit()
    if asyncio.iscoroutine(r):
        await r


def make(b: Backend, url: str | None = None, **kw: Any) -> mp.AsyncPool:
    opts: dict[str, Any] = {"min_size": 1, "max_size": 3, "acquire_timeout": "2s"}
    opts.update(kw)
    return mp.AsyncPool(url or b.url(), **opts)


def test_async_borrow_rollback_and_reuse(backend: Backend) -> None:
    t = backend.table

    async def main() -> None:
        async with make(backend, max_size=1) as pool:
            async with pool.connection() as conn:
                await arows(conn, f"CREATE TABLE {t} (x INT)")
                await acommit(conn)
                first = conn.backend_id
            async with pool.connection() as conn:
                await arows(conn, f"INSERT INTO {t} VALUES (1)")  # not committed
            async with pool.connection() as conn:
                assert conn.backend_id == first
                assert (await arows(conn, f"SELECT COUNT(*) FROM {t}"))[0][0] == 0
            assert pool.stats()["acquired"] == 3

    asyncio.run(main())


def test_async_coroutines_never_share_a_connection(backend: Backend) -> None:
    async def main() -> None:
        async with make(backend, min_size=2, max_size=5) as pool:
            holders: dict[int, int] = {}
            clashes = 0

            async def worker(i: int) -> None:
                nonlocal clashes
                for _ in range(10):
                    async with pool.connection() as conn:
                        if conn.backend_id in holders:
                            clashes += 1
                        holders[conn.backend_id] = i
                        await arows(conn, "SELECT 1")
                        await asyncio.sleep(0)
                        if holders.get(conn.backend_id) != i:
                            clashes += 1
                        del holders[conn.backend_id]

            await asyncio.gather(*(worker(i) for i in range(40)))
            st = pool.stats()
            assert clashes == 0 and st["acquired"] == 400 and st["in_use"] == 0
            assert st["size"] <= 5

    asyncio.run(main())


def test_async_timeout_names_the_tasks_and_cancellation_leaks_nothing(backend: Backend) -> None:
    async def main() -> None:
        async with make(backend, min_size=1, max_size=1, acquire_timeout="200ms") as pool:
            held = asyncio.Event()
            release = asyncio.Event()

            async def holder() -> None:
                async with pool.connection():
                    held.set()
                    await release.wait()

            h = asyncio.create_task(holder(), name="the-holder")
            await held.wait()
            t0 = time.monotonic()
            with pytest.raises(PoolTimeoutError, match=r"1 by holder\(\) at .*\(the-holder\)"):
                await pool.acquire()
            assert 0.19 < time.monotonic() - t0 < 1.0
            waiter = asyncio.create_task(pool.acquire(timeout=5))
            await asyncio.sleep(0.05)
            assert pool.stats()["waiting"] == 1
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert pool.stats()["waiting"] == 0
            release.set()
            await h
            async with pool.connection(timeout=0.5) as conn:
                assert (await arows(conn, "SELECT 1"))[0][0] == 1
            assert pool.stats()["in_use"] == 0

    asyncio.run(main())


async def _lose(pool: mp.AsyncPool) -> int:
    conn = await pool.acquire()  # lost by the async borrower
    return conn.backend_id


def test_async_gc_reclaim_and_close(backend: Backend) -> None:
    async def main() -> None:
        pool = make(backend, min_size=0, max_size=1, leak_threshold=None)
        lost = await _lose(pool)
        gc.collect()
        async with pool.connection(timeout=2) as conn:
            assert conn.backend_id == lost
        (report,) = pool.leaks()
        assert report["kind"] == "collected" and "lost by the async borrower" in report["stack"]
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire(timeout=5))
        await asyncio.sleep(0.02)
        await pool.close()
        with pytest.raises(PoolClosedError):
            await waiter
        await pool.release(held)
        assert pool.stats()["size"] == 0

    asyncio.run(main())


def test_async_cut_connections_are_replaced(net_backend: Backend, proxy: Any) -> None:
    async def main() -> None:
        async with make(net_backend, net_backend.url(proxy.port), min_size=3, max_size=3) as pool:
            old = {s.backend for s in pool._idle}
            proxy.drop_all()
            await asyncio.sleep(0.05)
            for _ in range(3):
                async with pool.connection() as conn:
                    assert (await arows(conn, "SELECT 1"))[0][0] == 1
                    assert conn.backend_id not in old
            assert pool.stats()["closed"]["broken"] == 3

    asyncio.run(main())


def test_async_pool_under_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    from .dbs import PG

    async def main() -> int:
        async with mp.AsyncPool(PG.url(), min_size=1, max_size=4) as pool:

            async def one() -> int:
                async with pool.connection() as conn:
                    return (await arows(conn, "SELECT 1"))[0][0]

            return sum(await asyncio.gather(*(one() for _ in range(50))))

    assert uvloop.run(main()) == 50


def test_a_task_cancelled_during_the_borrow_check_loses_no_connection(
    net_backend: Backend, proxy: Any
) -> None:
    """A connection idle past ALIVE_BYPASS is pinged before it is lent; cancelling the
    borrowing task during that (slowed) round trip closes the connection instead of losing it:
    the pool of one still lends a connection afterwards."""

    async def main() -> None:
        url = net_backend.url(proxy.port)
        async with mp.AsyncPool(url, min_size=1, max_size=1, acquire_timeout="3s") as pool:
            await pool.wait()
            await asyncio.sleep(0.6)  # idle past ALIVE_BYPASS: the next borrow pings
            proxy.delay = 0.3
            t = asyncio.create_task(pool.acquire())
            await asyncio.sleep(0.1)  # inside the ping
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            proxy.delay = 0.0
            async with pool.connection(timeout=2) as conn:
                assert (await arows(conn, "SELECT 1"))[0][0] == 1
            st = pool.stats()
            assert st["closed"]["cancelled"] == 1
            assert (st["size"], st["in_use"]) == (1, 0)

    asyncio.run(main())
