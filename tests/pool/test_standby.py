"""Read-your-writes against a real PostgreSQL streaming standby (the ``standby`` fixture, see
standby.py), with the sync and the asyncio pools and both PostgreSQL drivers.

The standby's WAL replay is paused while the test writes, so it really lags: the writing
session must read from the primary and see its row, another session reads the standby and does
not; once replay resumes and catches up, the writing session reads the standby again. Every
answer says which server gave it (``pg_is_in_recovery()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import minide.pool as mp
import psycopg
import pytest
from minide.pool.testing import FaultProxy

from .dbs import PG, rows
from .standby import Standby

SMALL = {"min_size": 1, "max_size": 3, "acquire_timeout": "5s"}
DRIVERS = ["psycopg", "psycopg2"]


@pytest.fixture
def table(standby: Standby) -> Iterator[str]:
    """A fresh table on the primary, already replayed by the standby."""
    name = f"pool_sb_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG.url(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (x INT)")
    standby.catch_up()
    yield name
    with psycopg.connect(PG.url(), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.parametrize("driver", DRIVERS)
def test_read_your_writes_against_a_paused_standby(
    standby: Standby, table: str, driver: str
) -> None:
    primary = mp.Pool(PG.url(), driver=driver, **SMALL)
    replica = mp.Pool(standby.url, driver=driver, **SMALL)
    router = mp.Router(primary, [replica])

    def read() -> tuple[bool, int]:
        """(answered by a server in recovery, rows in the table)"""
        with router.connection(read_only=True) as conn:
            ((rec, n),) = rows(conn, f"SELECT pg_is_in_recovery(), count(*) FROM {table}")
            return rec, n

    try:
        with router.session():
            assert read() == (True, 0)  # no write yet: the standby
            standby.pause()
            with router.connection() as conn:
                assert rows(conn, "SELECT pg_is_in_recovery()") == [(False,)]
                rows(conn, f"INSERT INTO {table} VALUES (1)")
                conn.commit()
            wrote = router._session_state().wrote[id(router)]
            assert isinstance(wrote, int) and standby.replay_lsn() < wrote  # it really lags
            assert read() == (False, 1)  # the session sees its write, on the primary
            assert read() == (False, 1)
            other: list[tuple[bool, int]] = []
            th = threading.Thread(target=lambda: other.append(read()))  # another session
            th.start()
            th.join()
            assert other == [(True, 0)]  # the standby, which has not replayed the row
            standby.resume()
            assert standby.catch_up() >= wrote
            assert read() == (True, 1)  # caught up: the session is back on the standby
        st = router.stats()
        assert (st["reads_replica"], st["reads_primary"]) == (3, 2)
        assert st["ejections"] == 0
        assert router.replicas[0].position >= wrote  # the standby's position, cached
    finally:
        standby.resume()
        router.close()


async def _fetch(conn: Any, sql: str) -> tuple[Any, ...]:
    """One row, on psycopg's AsyncConnection or (psycopg2 in an AsyncPool) a blocking one."""
    if isinstance(conn.raw, psycopg.AsyncConnection):
        cur = await conn.execute(sql)
        row = await cur.fetchone()
        assert row is not None
        return tuple(row)
    return rows(conn, sql)[0]


async def _commit(conn: Any) -> None:
    if isinstance(conn.raw, psycopg.AsyncConnection):
        await conn.commit()
    else:
        conn.commit()


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_read_your_writes_against_a_paused_standby(
    standby: Standby, table: str, driver: str
) -> None:
    async def main() -> None:
        primary = mp.AsyncPool(PG.url(), driver=driver, **SMALL)
        replica = mp.AsyncPool(standby.url, driver=driver, **SMALL)
        router = mp.Router(primary, [replica])

        async def read() -> tuple[Any, ...]:
            async with router.connection(read_only=True) as conn:
                return await _fetch(conn, f"SELECT pg_is_in_recovery(), count(*) FROM {table}")

        async def other_session() -> tuple[Any, ...]:
            with router.session():  # a task copies its parent's session unless given its own
                return await read()

        try:
            with router.session():
                assert await read() == (True, 0)
                standby.pause()
                async with router.connection() as conn:
                    assert await _fetch(conn, "SELECT pg_is_in_recovery()") == (False,)
                    await _fetch(conn, f"INSERT INTO {table} VALUES (1) RETURNING x")
                    await _commit(conn)
                wrote = router._session_state().wrote[id(router)]
                assert isinstance(wrote, int) and standby.replay_lsn() < wrote
                assert await read() == (False, 1)
                assert await read() == (False, 1)
                assert await asyncio.create_task(other_session()) == (True, 0)
                standby.resume()
                assert standby.catch_up() >= wrote
                assert await read() == (True, 1)
            st = router.stats()
            assert (st["reads_replica"], st["reads_primary"]) == (3, 2)
        finally:
            standby.resume()
            await router.close()

    asyncio.run(main())


def test_async_cancelled_position_query_closes_the_connection(standby: Standby, table: str) -> None:
    """A task cancelled while the router awaits a position query (after a write on the
    primary, before a read on the standby) leaves no connection borrowed: the one whose query
    was cut off is closed."""

    async def main() -> None:
        opts = {**SMALL, "health_check": "none"}  # no ping: the next round trip is the position's
        with FaultProxy("127.0.0.1", 5432) as p_px, FaultProxy("127.0.0.1", standby.port) as r_px:
            primary = mp.AsyncPool(PG.url(p_px.port), **opts)
            replica = mp.AsyncPool(f"postgresql://postgres@127.0.0.1:{r_px.port}/test", **opts)
            router = mp.Router(primary, [replica])
            await primary.wait()
            await replica.wait()
            wrote = asyncio.Event()

            async def write() -> None:
                async with router.connection() as conn:
                    await conn.execute(f"INSERT INTO {table} VALUES (1)")
                    await conn.commit()
                    p_px.delay = 0.5  # the position query in __aexit__ is slow
                    wrote.set()

            async def read() -> None:
                async with router.connection(read_only=True) as conn:
                    await conn.execute("SELECT 1")

            async def cancel_slow(coro: Any, proxy: FaultProxy) -> None:
                """Cancel ``coro`` while its round trip through ``proxy`` is slow, then make
                the network fast again for psycopg's own cancellation (a cancel request, then
                a wait for the query's end)."""
                task = asyncio.create_task(coro)
                await asyncio.sleep(0.15)
                assert not task.done()
                task.cancel()
                proxy.delay = 0
                with contextlib.suppress(asyncio.CancelledError):
                    await task

            try:
                with router.session():
                    await cancel_slow(write(), p_px)
                    assert wrote.is_set()
                    assert primary.stats()["in_use"] == 0
                    assert primary.stats()["closed"].get("broken") == 1
                    standby.pause()
                    async with router.connection() as conn:  # a write the standby lacks
                        await conn.execute(f"INSERT INTO {table} VALUES (2)")
                        await conn.commit()
                    r_px.delay = 0.5  # the standby's position query in __aenter__ is slow
                    await cancel_slow(read(), r_px)
                    assert replica.stats()["in_use"] == 0
                    assert replica.stats()["closed"].get("broken") == 1
                    standby.resume()
                    standby.catch_up()
                    async with router.connection(read_only=True) as conn:  # still routes
                        assert conn._pool is replica
                assert router.stats()["ejections"] == 0
            finally:
                standby.resume()
                await router.close()

    asyncio.run(main())


GUARD = 20.0  # a read still blocked after this is hung on the black-holed standby


def _guarded(fn: Any) -> Any:
    """Run ``fn`` in a thread, in the caller's context (its router session); fail (instead
    of hanging the run) if it is still blocked."""
    out: list[Any] = [None, None]
    ctx = contextvars.copy_context()

    def run() -> None:
        try:
            out[0] = ctx.run(fn)
        except BaseException as e:
            out[1] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(GUARD)
    if th.is_alive():
        raise AssertionError(f"still blocked after {GUARD:g} s")
    if out[1] is not None:
        raise out[1]
    return out[0]


# acquire_timeout 1 s: the position query may take ping_timeout = 0.5 s; no check on borrow,
# so the position query is the first round trip on the black-holed link
BLACKHOLE_OPTS = {"min_size": 1, "max_size": 3, "acquire_timeout": "1s", "health_check": "none"}


@pytest.mark.parametrize("driver", DRIVERS)
def test_black_holed_standby_position_query_ejects_it(
    standby: Standby, table: str, driver: str
) -> None:
    """After a write, a read asks the standby for its position; the standby's link swallows
    everything: the query ends within ping_timeout, the standby is ejected, the read is served
    by the primary, the connection is closed; once the link is back the standby serves again."""
    with FaultProxy("127.0.0.1", standby.port) as px:
        primary = mp.Pool(PG.url(), driver=driver, **SMALL)
        replica = mp.Pool(
            standby.url.replace(str(standby.port), str(px.port)), driver=driver, **BLACKHOLE_OPTS
        )
        router = mp.Router(primary, [replica])

        def read() -> tuple[bool, int, mp.Pool]:
            with router.connection(read_only=True) as conn:
                ((rec, n),) = rows(conn, f"SELECT pg_is_in_recovery(), count(*) FROM {table}")
                return rec, n, conn._pool

        try:
            replica.wait()
            with router.session():
                with router.connection() as conn:
                    rows(conn, f"INSERT INTO {table} VALUES (1)")
                    conn.commit()
                assert px.blackhole_some(10) == 1
                t0 = time.monotonic()
                assert _guarded(read) == (False, 1, primary)
                assert time.monotonic() - t0 < 0.5 + 1.0
                st = router.stats()
                assert st["ejections"] == 1 and st["replicas"][0]["ejected_for_s"] > 0
                assert replica.stats()["closed"]["broken"] == 1
                assert replica.stats()["in_use"] == 0
                standby.catch_up()
                deadline = time.monotonic() + 8  # the ejection lasts about 1 s
                while _guarded(read)[2] is not replica:
                    assert time.monotonic() < deadline, "the standby never served again"
                    time.sleep(0.1)
        finally:
            router.close()


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_black_holed_standby_position_query_ejects_it(
    standby: Standby, table: str, driver: str
) -> None:
    async def main() -> None:
        with FaultProxy("127.0.0.1", standby.port) as px:
            primary = mp.AsyncPool(PG.url(), driver=driver, **SMALL)
            replica = mp.AsyncPool(
                standby.url.replace(str(standby.port), str(px.port)),
                driver=driver,
                **BLACKHOLE_OPTS,
            )
            router = mp.Router(primary, [replica])

            async def read() -> tuple[Any, ...]:
                async with router.connection(read_only=True) as conn:
                    rec, n = await _fetch(
                        conn, f"SELECT pg_is_in_recovery(), count(*) FROM {table}"
                    )
                    return rec, n, conn._pool

            try:
                await replica.wait()
                with router.session():
                    async with router.connection() as conn:
                        await _fetch(conn, f"INSERT INTO {table} VALUES (1) RETURNING x")
                        await _commit(conn)
                    assert px.blackhole_some(10) == 1
                    t0 = time.monotonic()
                    assert await read() == (False, 1, primary)
                    assert time.monotonic() - t0 < 0.5 + 1.0
                    assert router.stats()["ejections"] == 1
                    assert replica.stats()["closed"]["broken"] == 1
                    assert replica.stats()["in_use"] == 0
                    standby.catch_up()
                    deadline = time.monotonic() + 8
                    while (await read())[2] is not replica:
                        assert time.monotonic() < deadline, "the standby never served again"
                        await asyncio.sleep(0.1)
            finally:
                await router.close()

    _guarded(lambda: asyncio.run(main()))
