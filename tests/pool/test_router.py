"""Router (primary/replicas) and Pools (databases by name) on the real servers.

The replicas of the PostgreSQL tests here are the same server reached through fault-injecting
proxies, so each replica can be slowed down, cut off and brought back on its own. The
read-your-writes tests use a replica that really lags: a second database (MariaDB) or file
(SQLite) that only gets the primary's rows when the test copies them over; test_standby.py has
the PostgreSQL ones, against a real streaming standby.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import minide.pool as mp
import pytest
from minide.errors import InvalidArgumentError
from minide.pool.testing import FaultProxy

from .dbs import MARIA, PG, one, rows

SMALL = {"min_size": 1, "max_size": 3, "acquire_timeout": "500ms"}


@pytest.fixture
def pg_cluster() -> Iterator[tuple[mp.Pool, list[mp.Pool], list[FaultProxy]]]:
    proxies = [FaultProxy("127.0.0.1", 5432) for _ in range(2)]
    primary = mp.Pool(PG.url(), **SMALL)
    replicas = [mp.Pool(PG.url(px.port), **SMALL) for px in proxies]
    yield primary, replicas, proxies
    for p in (primary, *replicas):
        p.close()
    for px in proxies:
        px.close()


def served_by(conn: mp.PooledConnection, pools: list[mp.Pool]) -> int:
    return next(i for i, p in enumerate(pools) if conn._pool is p)


def test_reads_round_robin_over_replicas_writes_to_primary(pg_cluster: Any) -> None:
    primary, replicas, _ = pg_cluster
    router = mp.Router(primary=primary, replicas=replicas, read_your_writes=None)
    everyone = [primary, *replicas]
    seen = []
    for _ in range(10):
        with router.connection(read_only=True) as conn:
            assert one(conn, "SELECT 1") == 1
            seen.append(served_by(conn, everyone))
    assert sorted(seen) == [1] * 5 + [2] * 5
    assert all(a != b for a, b in itertools.pairwise(seen))  # alternating
    with router.connection() as conn:
        assert served_by(conn, everyone) == 0
    assert router.stats()["reads_replica"] == 10


def test_least_loaded_and_latency_strategies(pg_cluster: Any) -> None:
    primary, replicas, proxies = pg_cluster
    everyone = [primary, *replicas]
    router = mp.Router(primary, replicas, strategy="least_loaded", read_your_writes=None)
    busy = [replicas[0].acquire(), replicas[0].acquire()]
    for _ in range(4):
        with router.connection(read_only=True) as conn:
            assert served_by(conn, everyone) == 2
    for c in busy:
        c.close()

    proxies[0].delay = 0.02  # replica 1 is slow
    router = mp.Router(primary, replicas, strategy="latency", read_your_writes=None)
    counts = [0, 0, 0]
    for _ in range(40):
        with router.connection(read_only=True) as conn:
            one(conn, "SELECT 1")
            counts[served_by(conn, everyone)] += 1
    assert counts[2] >= 30 and counts[1] >= 1, counts


def test_a_replica_going_away_and_coming_back(pg_cluster: Any) -> None:
    primary, replicas, proxies = pg_cluster
    everyone = [primary, *replicas]
    router = mp.Router(primary, replicas, read_your_writes=None)
    replicas[0].wait()
    proxies[0].refuse = True
    proxies[0].drop_all()
    served = []
    for _ in range(6):
        with router.connection(read_only=True) as conn:  # never fails
            assert one(conn, "SELECT 1") == 1
            served.append(served_by(conn, everyone))
    assert set(served) == {2}
    st = router.stats()
    assert st["ejections"] == 1 and st["replicas"][0]["ejected_for_s"] > 0
    assert "ejected for" in router.describe()
    proxies[1].refuse = True  # both replicas gone: the primary serves reads
    proxies[1].drop_all()
    with router.connection(read_only=True) as conn:
        assert served_by(conn, everyone) == 0
    proxies[0].refuse = proxies[1].refuse = False  # back
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        with router.connection(read_only=True) as conn:
            if served_by(conn, everyone) == 1:
                break
        time.sleep(0.05)
    else:
        raise AssertionError("replica 1 was never retried after it came back")
    assert "replica" in router.describe()


def test_read_your_writes_with_positions_on_postgresql(pg_cluster: Any) -> None:
    primary, replicas, _ = pg_cluster
    router = mp.Router(primary, replicas)
    everyone = [primary, *replicas]
    table = "pool_ryw_pg"
    with router.connection() as conn:
        rows(conn, f"DROP TABLE IF EXISTS {table}")
        rows(conn, f"CREATE TABLE {table} (x INT)")
        rows(conn, f"INSERT INTO {table} VALUES (42)")
        conn.commit()
    state = router._session_state().wrote[id(router)]
    assert isinstance(state, int) and state > 0  # the primary's WAL LSN
    # the replicas are the same server, so they have replayed it: reads stay on replicas
    with router.connection(read_only=True) as conn:
        assert served_by(conn, everyone) in (1, 2)
        assert one(conn, f"SELECT x FROM {table}") == 42
    with router.connection() as conn:  # reads inside an open primary borrow: the primary
        with router.connection(read_only=True) as inner:
            assert served_by(inner, everyone) == 0
        rows(conn, f"DROP TABLE {table}")
        conn.commit()


@pytest.fixture(params=["mariadb", "sqlite"])
def lagging(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, ...]]:
    """(primary pool, replica pool, copy(): replicate the primary's rows now)."""
    if request.param == "sqlite":
        p_url, r_url = f"sqlite:///{tmp_path / 'p.db'}", f"sqlite:///{tmp_path / 'r.db'}"
    else:
        with mp.Pool(MARIA.url(), min_size=0, max_size=1) as admin, admin.connection() as c:
            rows(c, "CREATE DATABASE IF NOT EXISTS minide_pool_replica")
        p_url, r_url = MARIA.url(), MARIA.url().replace("/test", "/minide_pool_replica")
    primary, replica = mp.Pool(p_url, **SMALL), mp.Pool(r_url, **SMALL)
    for p in (primary, replica):
        with p.connection() as c:
            rows(c, "DROP TABLE IF EXISTS ryw")
            rows(c, "CREATE TABLE ryw (x INT)")
            c.commit()

    def copy() -> None:
        with primary.connection() as src, replica.connection() as dst:
            data = rows(src, "SELECT x FROM ryw")
            rows(dst, "DELETE FROM ryw")
            for (x,) in data:
                rows(dst, f"INSERT INTO ryw VALUES ({int(x)})")
            dst.commit()

    yield primary, replica, copy
    for p in (primary, replica):
        with p.connection() as c:
            rows(c, "DROP TABLE IF EXISTS ryw")
            c.commit()
        p.close()


def test_read_your_writes_against_a_lagging_replica(lagging: tuple[Any, ...]) -> None:
    primary, replica, copy = lagging
    router = mp.Router(primary, [replica])

    def count() -> int:
        with router.connection(read_only=True) as conn:
            return int(one(conn, "SELECT COUNT(*) FROM ryw"))

    other: list[int] = []

    def other_session() -> None:  # a thread is its own session
        other.append(count())

    with router.session():
        assert count() == 0  # from the replica
        with router.connection() as conn:
            rows(conn, "INSERT INTO ryw VALUES (1)")
            conn.commit()
        assert count() == 1  # the session sees its write (the replica has not got it)
        th = threading.Thread(target=other_session)
        th.start()
        th.join()
        assert other == [0]  # another session still reads the lagging replica
    with router.session():
        assert count() == 0  # a new session has not written: the replica again
    copy()
    with router.session():
        assert count() == 1  # replicated: a fresh session reads it from the replica
    assert router.stats()["reads_replica"] >= 3

    no_ryw = mp.Router(primary, [replica], read_your_writes=None)
    with router.session(), no_ryw.connection() as conn:
        rows(conn, "INSERT INTO ryw VALUES (2)")
        conn.commit()
    with no_ryw.connection(read_only=True) as conn:  # without the guarantee: stale
        assert one(conn, "SELECT COUNT(*) FROM ryw") == 1


def test_router_rejects_bad_arguments(pg_cluster: Any) -> None:
    primary, replicas, _ = pg_cluster
    with pytest.raises(InvalidArgumentError, match="strategy"):
        mp.Router(primary, replicas, strategy="random")
    with pytest.raises(InvalidArgumentError, match="read_your_writes"):
        mp.Router(primary, replicas, read_your_writes="always")
    with pytest.raises(InvalidArgumentError, match="pools"):
        mp.Router(primary, ["postgresql://x/y"])  # type: ignore[list-item]


def test_async_router() -> None:
    async def main() -> None:
        primary = mp.AsyncPool(PG.url(), **SMALL)
        replica = mp.AsyncPool(PG.url(), **SMALL)
        router = mp.Router(primary, [replica])
        async with router.connection(read_only=True) as conn:
            assert conn._pool is replica
        async with router.connection() as conn:
            assert conn._pool is primary
        assert isinstance(router._session_state().wrote[id(router)], int)  # an awaited LSN
        # the "replica" is the primary itself, so it has reached that position already
        async with router.connection(read_only=True) as conn:
            assert conn._pool is replica
        await router.close()

    asyncio.run(main())


def test_async_router_without_positions_keeps_the_session_on_the_primary() -> None:
    """MariaDB (no GTID positions): after a write, the session reads from the primary."""

    async def main() -> None:
        primary = mp.AsyncPool(MARIA.url(), **SMALL)
        replica = mp.AsyncPool(MARIA.url(), **SMALL)
        router = mp.Router(primary, [replica])
        with router.session():
            async with router.connection(read_only=True) as conn:
                assert conn._pool is replica
            async with router.connection() as conn:
                assert conn._pool is primary
            for _ in range(2):
                async with router.connection(read_only=True) as conn:
                    assert conn._pool is primary
        with router.session():  # a new session has not written
            async with router.connection(read_only=True) as conn:
                assert conn._pool is replica
        assert (router.reads_replica, router.reads_primary) == (2, 2)
        await router.close()

    asyncio.run(main())


def test_pools_by_name(tmp_path: Path) -> None:
    with mp.Pools(
        {
            "pg": mp.Pool(PG.url(), **SMALL),
            "maria": MARIA.url(),
            "local": mp.Pool(f"sqlite:///{tmp_path / 'l.db'}", **SMALL),
        }
    ) as multi:
        assert list(multi) == ["pg", "maria", "local"] and "pg" in multi
        for name, expect in (("pg", "postgresql"), ("maria", "mysql"), ("local", "sqlite")):
            with multi.connection(name) as conn:
                assert one(conn, "SELECT 5") == 5
                assert multi[name].info.family == expect
        with pytest.raises(InvalidArgumentError, match="no database named 'nope'"):
            multi["nope"]
        text = multi.metrics_prometheus()
        assert text.count("# TYPE minide_pool_acquired_total counter") == 1
        assert text.count("minide_pool_acquired_total{") == 3
        assert set(multi.stats()) == {"pg", "maria", "local"}
        assert "[maria]" in multi.describe()
