"""``socket_timeout``: a borrowed connection whose server goes silent mid-query fails within the
bound, is closed as broken and replaced; a query that is merely slow is not cut.

The silence comes from the fault-injecting proxy black-holing the borrowed connection's link
while its query runs: the proxy keeps acknowledging (its kernel does) but delivers nothing, so
TCP alone would wait forever. Each borrower runs in a thread joined with a guard timeout, so a
regression shows as a failed test, not a hung run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import minide.pool as mp
import pytest
from minide.errors import InvalidArgumentError
from minide.pool.testing import FaultProxy

from .dbs import MARIA, PG, Backend, one

LIMIT = 1.0  # socket_timeout in these tests
#: the bound a cut must meet: the timeout, one maintenance tick, a side connection and
#: scheduling slack on a loaded 2-core machine
BOUND = LIMIT + 1.5
GUARD = 20.0  # a borrower still blocked after this is hung (the gap this option closes)

#: (backend, driver, a query that takes about 0.6 s)
TARGETS = [
    (PG, "psycopg", "SELECT 1 FROM pg_sleep(0.6)"),
    (PG, "psycopg2", "SELECT 1 FROM pg_sleep(0.6)"),
    (MARIA, "pymysql", "SELECT 1 FROM (SELECT SLEEP(0.6)) AS s"),
]
IDS = [t[1] for t in TARGETS]


@pytest.fixture(params=TARGETS, ids=IDS)
def target(request: pytest.FixtureRequest) -> Iterator[tuple[Backend, str, str, FaultProxy]]:
    b, driver, slow = request.param
    with b.proxy() as px:
        yield b, driver, slow, px


def in_thread(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """Run ``fn`` in a daemon thread: (result, exception, seconds); fails if it hangs."""
    out: list[Any] = [None, None, 0.0]

    def run() -> None:
        t0 = time.monotonic()
        try:
            out[0] = fn()
        except BaseException as e:
            out[1] = e
        out[2] = time.monotonic() - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(GUARD)
    if th.is_alive():
        raise AssertionError(f"the borrower is still blocked after {GUARD:g} s")
    return out[0], out[1], out[2]


def blackhole_after(px: FaultProxy, seconds: float) -> threading.Timer:
    """Black-hole every link through ``px`` in ``seconds`` (mid-query)."""
    t = threading.Timer(seconds, lambda: px.blackhole_some(100))
    t.start()
    return t


def test_black_holed_mid_query_fails_within_socket_timeout_and_the_pool_recovers(
    target: tuple[Backend, str, str, FaultProxy],
) -> None:
    b, driver, slow, px = target
    with mp.Pool(
        b.url(px.port), driver=driver, min_size=1, max_size=2, socket_timeout=f"{LIMIT:g}s"
    ) as pool:
        pool.wait()
        errors: list[BaseException] = []

        def borrow() -> None:
            with pool.connection() as conn:
                assert one(conn, "SELECT 1") == 1  # psycopg: now inside a transaction
                timer = blackhole_after(px, 0.2)
                try:
                    one(conn, slow)
                except BaseException as e:
                    errors.append(e)
                    raise
                finally:
                    timer.join()

        _, err, took = in_thread(borrow)
        assert err is not None and errors == [err]
        assert pool.driver.is_disconnect(err), repr(err)  # the driver's own disconnect error
        assert took < 0.2 + BOUND, f"failed after {took:.2f} s"
        st = pool.stats()
        assert st["stalls"] == 1 and st["closed"]["broken"] == 1 and st["in_use"] == 0, st
        # new links through the proxy work: the next borrow gets a fresh connection
        with pool.connection(timeout=5) as conn:
            assert one(conn, "SELECT 2") == 2
        assert "minide_pool_stalls_total" in pool.metrics_prometheus()


def test_a_slow_query_is_not_cut(target: tuple[Backend, str, str, FaultProxy]) -> None:
    """Silent for longer than socket_timeout, but the server is working on it: left alone."""
    b, driver, _, px = target
    sleep = (
        "SELECT 7 FROM pg_sleep(2.2)"
        if b.name == "postgresql"
        else "SELECT 7 FROM (SELECT SLEEP(2.2)) AS s"
    )
    with mp.Pool(
        b.url(px.port), driver=driver, min_size=1, max_size=2, socket_timeout="500ms"
    ) as pool:

        def borrow() -> Any:
            with pool.connection() as conn:
                return one(conn, sleep)

        got, err, took = in_thread(borrow)
        assert err is None and got == 7 and took >= 2.2
        assert pool.stats()["stalls"] == 0 and pool.stats()["closed"]["broken"] == 0


def test_async_pool_black_holed_mid_query() -> None:
    async def main() -> None:
        with PG.proxy() as px:
            async with mp.AsyncPool(
                PG.url(px.port), min_size=1, max_size=2, socket_timeout=f"{LIMIT:g}s"
            ) as pool:
                t0 = time.monotonic()
                with pytest.raises(Exception) as info:
                    async with pool.connection() as conn:
                        await conn.execute("SELECT 1")
                        timer = blackhole_after(px, 0.2)
                        try:
                            await conn.execute("SELECT pg_sleep(0.6)")
                        finally:
                            timer.join()
                took = time.monotonic() - t0
                assert pool.driver.is_disconnect(info.value), repr(info.value)
                assert took < 0.2 + BOUND
                st = pool.stats()
                assert st["stalls"] == 1 and st["closed"]["broken"] == 1, st
                async with pool.connection(timeout=5) as conn:
                    cur = await conn.execute("SELECT 2")
                    assert await cur.fetchone() == (2,)

    _, err, _ = in_thread(lambda: asyncio.run(main()))
    if err is not None:
        raise err


def test_async_pool_ping_of_a_black_holed_idle_connection_is_bounded() -> None:
    """psycopg answers a cancelled await with a cancel request and a wait for the query's
    end (seconds on a link that swallows packets): the check before lending must still end
    within its timeout (asyncio.wait_for alone took 5 s here)."""

    async def main() -> None:
        with PG.proxy() as px:
            async with mp.AsyncPool(
                PG.url(px.port), min_size=1, max_size=2, acquire_timeout="1s"
            ) as pool:
                await asyncio.sleep(0.6)  # past the check-free window: the borrow pings
                assert px.blackhole_some(10) == 1
                t0 = time.monotonic()
                async with pool.connection() as conn:
                    cur = await conn.execute("SELECT 3")
                    assert await cur.fetchone() == (3,)
                assert time.monotonic() - t0 < 1.5
                assert pool.stats()["closed"]["broken"] == 1

    _, err, _ = in_thread(lambda: asyncio.run(main()))
    if err is not None:
        raise err


def _tcp_opts(fd: int) -> tuple[int, int, int]:
    s = socket.socket(fileno=fd)
    try:
        return (
            s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        )
    finally:
        s.detach()


@pytest.mark.parametrize(
    ("b", "driver"), [(PG, "psycopg"), (PG, "psycopg2"), (MARIA, "pymysql")], ids=IDS
)
def test_the_os_layer_keepalives_and_user_timeout(b: Backend, driver: str) -> None:
    """A host that stops acknowledging is left to TCP: keepalives and TCP_USER_TIMEOUT are set
    from socket_timeout; a URL that sets them wins; None sets nothing."""

    def opts(url: str, **kw: Any) -> tuple[int, int, int]:
        with mp.Pool(url, driver=driver, min_size=0, max_size=1, **kw) as pool:
            conn = pool.acquire()
            try:
                fd = pool.driver.fileno(conn.raw)
                assert fd is not None
                return _tcp_opts(fd)
            finally:
                conn.close()

    assert opts(b.url(), socket_timeout="12s") == (1, 12000, 4)
    assert opts(b.url())[1] == 30000  # the default
    if b is PG:
        assert opts(b.url() + "?tcp_user_timeout=7000", socket_timeout="12s")[1] == 7000
    assert opts(b.url(), socket_timeout=None)[1] == 0


#: run in a private network namespace (``unshare -n``), where dropping every packet touches
#: nothing else on the machine: a connected pair, then all routes black-holed
_DROP_SCRIPT = """
import json, socket, subprocess, threading, time
from minide.pool.liveness import set_socket_keepalive
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
pairs = []
for _ in range(3):
    c = socket.create_connection(srv.getsockname())
    pairs.append((c, srv.accept()[0]))
waiter, sender, bare = pairs[0][0], pairs[1][1], pairs[2][0]
set_socket_keepalive(waiter, 1.0)
subprocess.run("ip rule del prio 0 table local && ip rule add prio 100 table local && "
               "ip rule add prio 10 blackhole", shell=True, check=True)
out = {}

def wait(name, sock):
    t0 = time.monotonic()
    try:
        sock.recv(1)  # a reply that cannot come
        out[name] = "returned"
    except OSError as e:  # ETIMEDOUT is a TimeoutError too: only Python's own has no errno
        out[name] = "still waiting" if e.errno is None else [time.monotonic() - t0, e.errno]

bare.settimeout(3.0)  # the control: no settings
threads = [threading.Thread(target=wait, args=a) for a in (("waiting", waiter), ("control", bare))]
for t in threads:
    t.start()
for t in threads:
    t.join()
set_socket_keepalive(sender, 1.0)
sender.settimeout(5.0)  # a regression fails the test instead of blocking it
t0 = time.monotonic()
try:
    for _ in range(200):
        sender.send(b"x" * 1000)
        time.sleep(0.02)
except OSError as e:
    out["sending"] = [time.monotonic() - t0, e.errno]
print(json.dumps(out))
"""


def test_the_os_layer_fails_a_dead_link_under_real_packet_loss() -> None:
    """What keepalives + TCP_USER_TIMEOUT do when packets are really dropped (the proxy cannot
    drop them: its kernel acknowledges): a waiting and a sending socket fail after about
    socket_timeout; a socket without the settings still waits."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.fail("needs unshare and ip (util-linux, iproute2) to drop packets", pytrace=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", _DROP_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["control"] == "still waiting", out
    for side in ("waiting", "sending"):
        assert isinstance(out.get(side), list), out
        took, errno = out[side]
        assert 0.9 <= took < 2.5 and errno == 110, out  # ETIMEDOUT


@pytest.mark.parametrize("bad", ["soon", "-1s", 0])
def test_bad_socket_timeout_names_the_argument(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="socket_timeout"):
        mp.Pool("sqlite:///:memory:", socket_timeout=bad)  # type: ignore[arg-type]
