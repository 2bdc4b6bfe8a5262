"""Many borrowers hammering a pool of 20 through the fault-injecting proxy, with random faults.

Checked for every request: the connection is not held by any other borrower (a registry keyed
by the server's session id, ``pg_backend_pid()`` / ``CONNECTION_ID()``, confirmed by a query
and by a session variable that must read back what this borrower wrote); the request either
succeeds or fails with a clear error: ``PoolTimeoutError`` within ``acquire_timeout`` (plus
scheduling slack) or the driver's disconnect error for a connection the proxy cut. At the end:
no thread is stuck (no deadlock), nothing is in use, no leak was reported, the pool is within
max_size and, once closed, the server holds none of its sessions.

CI runs a short version (seconds, 50 threads / 200 coroutines); ``make test-long`` runs the
60 s, 200 threads / 1,000 coroutines soak.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

import minide.pool as mp
import pytest
from minide.errors import PoolTimeoutError
from minide.pool.testing import FaultProxy

from .dbs import MARIA, PG, Backend, one, rows

POOL = 20
ACQUIRE = 2.0
SLACK = 1.5  # scheduling slack on a loaded 2-core machine
#: a borrowed connection black-holed mid-query fails after this (plus a check with the server)
SOCKET_TIMEOUT = "1s"
#: a request that fails with a disconnect does so within: the wait for a connection, the
#: socket timeout, and slack for the check with the server and for scheduling
FAIL_WITHIN = ACQUIRE + 1.0 + 2 * SLACK


@dataclass
class Tally:
    ok: int = 0
    timeouts: int = 0
    disconnects: int = 0
    clashes: list[str] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def inject_faults(px: FaultProxy, stop: threading.Event, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    done: Counter[str] = Counter()
    kinds = ["drop", "reset", "delay", "slow_handshake", "refuse", "blackhole", "calm"]
    while not stop.wait(rng.uniform(0.1, 0.3)):
        kind = rng.choice(kinds)
        done[kind] += 1
        if kind == "drop":
            px.drop_some(rng.randint(1, 3), seed=rng.random())
        elif kind == "reset":
            px.drop_some(rng.randint(1, 3), rst=True, seed=rng.random())
        elif kind == "blackhole":
            px.blackhole_some(1, seed=rng.random())
        else:
            px.delay = 0.003 if kind == "delay" else 0.0
            px.handshake_delay = 0.3 if kind == "slow_handshake" else 0.0
            px.refuse = kind == "refuse"
    px.heal()
    return done


def sessions_of(b: Backend, app: str) -> int:
    with mp.Pool(b.url(), min_size=0, max_size=1) as admin, admin.connection() as c:
        if b.name == "postgresql":
            return int(
                one(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,))
            )
        return int(
            one(c, "SELECT count(*) FROM information_schema.processlist WHERE db = 'minide_hammer'")
        )


def hammer_url(b: Backend, port: int, app: str) -> str:
    if b.name == "postgresql":
        return b.url(port) + f"?application_name={app}"
    # a database of its own so the server-side session count sees only this pool's sessions
    with mp.Pool(b.url(), min_size=0, max_size=1) as admin, admin.connection() as c:
        rows(c, "CREATE DATABASE IF NOT EXISTS minide_hammer")
    return f"mysql://root@127.0.0.1:{port}/minide_hammer"


def run_threads(b: Backend, threads: int, seconds: float, seed: int) -> None:
    app = f"minide-hammer-{seed}"
    tally = Tally()
    registry: dict[int, int] = {}
    with FaultProxy("127.0.0.1", b.port or 0) as px:
        pool = mp.Pool(
            hammer_url(b, px.port, app),
            min_size=2,
            max_size=POOL,
            acquire_timeout=ACQUIRE,
            leak_threshold="20s",
            socket_timeout=SOCKET_TIMEOUT,
        )
        stop = threading.Event()
        end = time.monotonic() + seconds

        def worker(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            me = threading.get_ident()
            while time.monotonic() < end:
                t0 = time.monotonic()
                try:
                    with pool.connection() as c:
                        bid = c.backend_id
                        owner = registry.setdefault(bid, me)
                        if owner != me:
                            with tally.lock:
                                tally.clashes.append(f"session {bid} held by {owner} and {me}")
                        try:
                            tok = f"{me}-{rng.random()}"
                            rows(c, b.set_var_sql, (tok,))
                            if one(c, b.session_id_sql) != bid or one(c, b.get_var_sql) != tok:
                                with tally.lock:
                                    tally.clashes.append(f"session {bid} answered for another")
                            if rng.random() < 0.2:
                                time.sleep(rng.uniform(0, 0.01))
                        finally:
                            registry.pop(bid, None)
                    with tally.lock:
                        tally.ok += 1
                except PoolTimeoutError:
                    waited = time.monotonic() - t0
                    with tally.lock:
                        tally.timeouts += 1
                        if waited > ACQUIRE + SLACK:
                            tally.late.append(waited)
                except Exception as e:
                    with tally.lock:
                        if pool.driver.is_disconnect(e):
                            tally.disconnects += 1
                            if time.monotonic() - t0 > FAIL_WITHIN:
                                tally.late.append(time.monotonic() - t0)
                        else:
                            tally.other.append(f"{type(e).__name__}: {e}")

        workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
        faults: Counter[str] = Counter()
        injector = threading.Thread(target=lambda: faults.update(inject_faults(px, stop, seed)))
        injector.start()
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=max(0.0, end - time.monotonic()) + ACQUIRE + 10)
        stop.set()
        injector.join(10)
        stuck = [w for w in workers if w.is_alive()]
        if stuck:
            frames = sys._current_frames()
            dump = "".join(traceback.format_stack(frames[stuck[0].ident]))  # type: ignore[index]
            raise AssertionError(f"{len(stuck)} borrowers stuck (deadlock?):\n{dump}")
        st = pool.stats()
        pool.close()
    report = (
        f"{b.name}: {threads} threads {seconds:.0f} s: ok {tally.ok}, timeouts {tally.timeouts}, "
        f"disconnects {tally.disconnects} (stalls cut {st['stalls']}), faults {dict(faults)}, "
        f"closed {st['closed']}, created {st['created']}, "
        f"acquired/s {st['acquired'] / seconds:.0f}"
    )
    print(report)
    assert not tally.clashes, tally.clashes[:5]
    assert not tally.other, tally.other[:5]
    assert not tally.late, f"errors raised late: {tally.late[:5]}"
    assert st["in_use"] == 0 and st["leaks"] == 0 and st["size"] <= POOL, st
    assert tally.ok > threads, report  # the pool kept serving through the faults
    assert sum(faults.values()) >= seconds * 2, faults
    deadline = time.monotonic() + 5
    while sessions_of(b, app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sessions_of(b, app) == 0, "sessions left open on the server after close()"


async def run_coroutines(tasks: int, seconds: float, seed: int) -> str:
    app = f"minide-ahammer-{seed}"
    tally = Tally()
    registry: dict[int, int] = {}
    with FaultProxy("127.0.0.1", 5432) as px:
        pool = mp.AsyncPool(
            PG.url(px.port) + f"?application_name={app}",
            min_size=2,
            max_size=POOL,
            acquire_timeout=ACQUIRE,
            leak_threshold="20s",
            socket_timeout=SOCKET_TIMEOUT,
        )
        stop = threading.Event()
        faults: Counter[str] = Counter()
        injector = threading.Thread(target=lambda: faults.update(inject_faults(px, stop, seed)))
        injector.start()
        end = time.monotonic() + seconds

        async def worker(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            while time.monotonic() < end:
                t0 = time.monotonic()
                try:
                    async with pool.connection() as c:
                        bid = c.backend_id
                        if registry.setdefault(bid, i) != i:
                            tally.clashes.append(f"session {bid} shared")
                        try:
                            tok = f"{i}-{rng.random()}"
                            await c.execute(PG.set_var_sql, (tok,))
                            cur = await c.execute("SELECT pg_backend_pid(), " + PG.get_var_sql[7:])
                            pid, got = await cur.fetchone()
                            if pid != bid or got != tok:
                                tally.clashes.append(f"session {bid} answered for another")
                            if rng.random() < 0.2:
                                await asyncio.sleep(rng.uniform(0, 0.01))
                        finally:
                            registry.pop(bid, None)
                    tally.ok += 1
                except PoolTimeoutError:
                    tally.timeouts += 1
                    if time.monotonic() - t0 > ACQUIRE + SLACK:
                        tally.late.append(time.monotonic() - t0)
                except Exception as e:
                    if pool.driver.is_disconnect(e):
                        tally.disconnects += 1
                        if time.monotonic() - t0 > FAIL_WITHIN:
                            tally.late.append(time.monotonic() - t0)
                    else:
                        tally.other.append(f"{type(e).__name__}: {e}")

        await asyncio.wait_for(
            asyncio.gather(*(worker(i) for i in range(tasks))), seconds + ACQUIRE + 20
        )
        stop.set()
        injector.join(10)
        st = pool.stats()
        await pool.close()
    report = (
        f"async postgresql: {tasks} coroutines {seconds:.0f} s: ok {tally.ok}, "
        f"timeouts {tally.timeouts}, disconnects {tally.disconnects} (stalls cut "
        f"{st['stalls']}), faults {dict(faults)}, "
        f"closed {st['closed']}, acquired/s {st['acquired'] / seconds:.0f}"
    )
    print(report)
    assert not tally.clashes, tally.clashes[:5]
    assert not tally.other, tally.other[:5]
    assert not tally.late, tally.late[:5]
    assert st["in_use"] == 0 and st["leaks"] == 0 and st["size"] <= POOL, st
    assert tally.ok > tasks, report
    deadline = time.monotonic() + 5
    while sessions_of(PG, app) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sessions_of(PG, app) == 0
    return report


@pytest.mark.parametrize("name", ["postgresql", "mariadb"])
def test_hammer_threads_short(name: str) -> None:
    run_threads({"postgresql": PG, "mariadb": MARIA}[name], threads=50, seconds=5, seed=1)


def test_hammer_coroutines_short() -> None:
    asyncio.run(run_coroutines(tasks=200, seconds=4, seed=2))


@pytest.mark.long
@pytest.mark.parametrize("name", ["postgresql", "mariadb"])
def test_hammer_threads_long(name: str) -> None:
    run_threads({"postgresql": PG, "mariadb": MARIA}[name], threads=200, seconds=60, seed=11)


@pytest.mark.long
def test_hammer_coroutines_long() -> None:
    asyncio.run(run_coroutines(tasks=1000, seconds=60, seed=12))
