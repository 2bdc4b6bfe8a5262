"""Broken connections, through the fault-injecting proxy in front of the real servers.

Each test cuts, resets, delays or black-holes the path between the pool and PostgreSQL or
MariaDB, and checks what a borrower sees: never a connection that is already known broken,
a clear error within ``acquire_timeout`` when nothing can be had, recovery when the path heals.
"""

from __future__ import annotations

import contextlib
import threading
import time

import minide.pool as mp
import pytest
from minide.errors import PoolTimeoutError
from minide.pool.testing import FaultProxy

from .dbs import Backend, one


def make(b: Backend, px: FaultProxy, **kw: object) -> mp.Pool:
    opts: dict[str, object] = {"min_size": 3, "max_size": 4, "acquire_timeout": "2s"}
    opts.update(kw)
    return mp.Pool(b.url(px.port), **opts)  # type: ignore[arg-type]


def test_server_restart_mid_use(net_backend: Backend, proxy: FaultProxy) -> None:
    """Every connection is cut while one is borrowed and the others idle: the borrower gets a
    driver error, the broken connections are never handed out again, new ones work."""
    with make(net_backend, proxy) as pool:
        pool.wait()
        before = set()
        conn = pool.acquire()
        before.add(conn.backend_id)
        assert proxy.drop_all() >= 3
        with pytest.raises(Exception) as info:
            one(conn, "SELECT 1")
        assert pool.driver.is_disconnect(info.value), info.value
        conn.close()  # the driver saw it die: closed, not pooled
        seen = []
        for _ in range(6):
            with pool.connection() as c:
                assert one(c, "SELECT 2") == 2
                seen.append(c.backend_id)
        st = pool.stats()
        assert st["closed"]["broken"] >= 3  # the borrowed one and the idle ones
        assert not set(seen) & before
        assert st["in_use"] == 0 and st["size"] <= 4


def test_cut_while_idle_is_caught_before_lending(net_backend: Backend, proxy: FaultProxy) -> None:
    with make(net_backend, proxy, max_size=3) as pool:
        pool.wait()
        idle_ids = {s.backend for s in pool._idle}
        proxy.reset_all()
        time.sleep(0.05)
        for _ in range(3):
            with pool.connection() as c:  # on_borrow: the socket probe sees the RST
                assert one(c, "SELECT 1") == 1
                assert c.backend_id not in idle_ids
        assert pool.stats()["closed"]["broken"] == 3


def test_without_checks_a_broken_connection_fails_once_and_retry_recovers(
    net_backend: Backend, proxy: FaultProxy
) -> None:
    with make(net_backend, proxy, min_size=1, max_size=1, health_check="none") as pool:
        pool.wait()
        proxy.drop_all()
        time.sleep(0.05)
        handed: list[int] = []

        def work() -> int:
            with pool.connection() as c:
                handed.append(c.backend_id)
                return int(one(c, "SELECT 7"))

        assert mp.retry(work, attempts=3, backoff="10ms") == 7
        assert len(handed) == 2 and handed[0] != handed[1]  # the broken one went out once
        with pool.connection() as c:
            assert c.backend_id == handed[1]
        assert pool.stats()["closed"]["broken"] == 1


def test_cut_while_borrowed_by_many_threads(net_backend: Backend, proxy: FaultProxy) -> None:
    with make(net_backend, proxy, min_size=4, max_size=4) as pool:
        pool.wait()
        barrier = threading.Barrier(5)
        results: list[str] = []

        def borrower() -> None:
            with pool.connection() as c:
                barrier.wait()
                barrier.wait()  # the cut happens between the two waits
                try:
                    one(c, "SELECT 1")
                    results.append("ok")
                except Exception as e:
                    results.append("gone" if pool.driver.is_disconnect(e) else repr(e))
                    raise

        threads = [threading.Thread(target=lambda: _swallow(borrower)) for _ in range(4)]
        for th in threads:
            th.start()
        barrier.wait()
        proxy.drop_all()
        barrier.wait()
        for th in threads:
            th.join(10)
        assert results == ["gone"] * 4
        st = pool.stats()
        assert st["closed"]["broken"] == 4 and st["in_use"] == 0
        with pool.connection() as c:
            assert one(c, "SELECT 1") == 1


def _swallow(fn: object) -> None:
    with contextlib.suppress(Exception):
        fn()  # type: ignore[operator]


def test_slow_handshake_times_out_cleanly_then_recovers(
    net_backend: Backend, proxy: FaultProxy
) -> None:
    proxy.handshake_delay = 1.5
    with make(net_backend, proxy, min_size=0, max_size=2, acquire_timeout="400ms") as pool:
        t0 = time.monotonic()
        with pytest.raises(PoolTimeoutError, match="0 in use of max_size=2, 1 opening"):
            pool.acquire()
        assert time.monotonic() - t0 < 0.8
        # the handshake in flight still completes and is kept for the next borrower
        with pool.connection(timeout=3) as c:
            assert one(c, "SELECT 1") == 1
        proxy.heal()


def test_black_holed_idle_connection_is_replaced_within_the_timeout(
    net_backend: Backend, proxy: FaultProxy
) -> None:
    with make(net_backend, proxy, min_size=1, max_size=2, acquire_timeout="1s") as pool:
        pool.wait()
        time.sleep(0.6)  # past the check-free window: the next borrow pings
        assert proxy.blackhole_some(10) == 1
        t0 = time.monotonic()
        with pool.connection() as c:
            assert one(c, "SELECT 3") == 3
        assert time.monotonic() - t0 < 1.5
        assert pool.stats()["closed"]["broken"] == 1


def test_server_down_then_back(net_backend: Backend, proxy: FaultProxy) -> None:
    with make(net_backend, proxy, min_size=1, max_size=2, acquire_timeout="500ms") as pool:
        pool.wait()
        proxy.refuse = True
        proxy.drop_all()
        with pytest.raises(PoolTimeoutError, match="Last connect error"):
            for _ in range(3):
                with pool.connection() as c:
                    one(c, "SELECT 1")
        assert pool.stats()["connect_errors"] >= 1
        proxy.refuse = False
        with pool.connection(timeout=3) as c:
            assert one(c, "SELECT 1") == 1


def test_periodic_check_removes_dead_idle_connections(
    net_backend: Backend, proxy: FaultProxy
) -> None:
    with make(
        net_backend, proxy, min_size=2, max_size=2, health_check="periodic", max_idle="400ms"
    ) as pool:
        pool.wait()
        old = {s.backend for s in pool._idle}
        proxy.drop_all()
        deadline = time.monotonic() + 5
        while pool.stats()["closed"]["broken"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.stats()["closed"]["broken"] == 2  # found by maintenance, not a borrower
        pool.wait()
        assert not {s.backend for s in pool._idle} & old


def test_slow_network_still_serves(net_backend: Backend, proxy: FaultProxy) -> None:
    proxy.delay = 0.02
    with make(net_backend, proxy, min_size=1, max_size=2) as pool, pool.connection() as c:
        t0 = time.monotonic()
        assert one(c, "SELECT 1") == 1
        assert time.monotonic() - t0 >= 0.04  # one round trip = two delayed chunks
