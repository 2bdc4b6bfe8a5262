"""The thread pool against real PostgreSQL, MariaDB and SQLite: the same tests for all three."""

from __future__ import annotations

import gc
import re
import sys
import threading
import time
from typing import Any

import minide.pool as mp
import pytest
from minide.errors import MinideError, PoolClosedError, PoolTimeoutError
from minide.pool.slot import STACK_DEPTH

from .dbs import PG, Backend, one, rows


def make(b: Backend, **kw: object) -> mp.Pool:
    opts: dict[str, object] = {"min_size": 1, "max_size": 3, "acquire_timeout": "2s"}
    opts.update(kw)
    return mp.Pool(b.url(), **opts)  # type: ignore[arg-type]


def test_borrow_query_return(backend: Backend) -> None:
    with make(backend) as pool:
        pool.wait()
        with pool.connection() as conn:
            assert one(conn, "SELECT 1 + 1") == 2
            first = conn.backend_id
            if backend.name != "sqlite":
                assert one(conn, backend.session_id_sql) == first
        with pool.connection() as conn:
            assert conn.backend_id == first  # the warm connection comes back
        st = pool.stats()
        assert (st["acquired"], st["in_use"], st["idle"], st["size"]) == (2, 0, 1, 1)
        assert "in use" not in pool.describe().split("\n", 2)[-1]


def test_a_returned_connection_cannot_be_used(backend: Backend) -> None:
    with make(backend) as pool:
        conn = pool.acquire()
        cur = conn.cursor()
        cur.close()
        pool.release(conn)
        pool.release(conn)  # idempotent
        with pytest.raises(PoolClosedError, match="returned to the pool"):
            conn.cursor()
        with pytest.raises(PoolClosedError):
            conn.autocommit = True
        assert conn.returned


def test_reset_on_return_rolls_back(backend: Backend) -> None:
    t = backend.table
    with make(backend, max_size=1) as pool:
        with pool.connection() as conn:
            rows(conn, f"CREATE TABLE {t} (x INT)")
            conn.commit()
        with pool.connection() as conn:
            rows(conn, f"INSERT INTO {t} VALUES (1)")  # never committed
            assert conn.raw is not None
        with pool.connection() as conn:  # the same single connection
            assert one(conn, f"SELECT COUNT(*) FROM {t}") == 0
            rows(conn, f"INSERT INTO {t} VALUES (2)")
            conn.commit()
        with pytest.raises(ZeroDivisionError), pool.connection() as conn:
            rows(conn, f"INSERT INTO {t} VALUES (3)")
            1 / 0  # noqa: B018
        with pool.connection() as conn:
            assert rows(conn, f"SELECT x FROM {t}") == [(2,)]


def test_without_reset_an_open_transaction_survives_but_an_exception_rolls_back(
    backend: Backend,
) -> None:
    t = backend.table
    with make(backend, max_size=1, reset_on_return=False) as pool:
        with pool.connection() as conn:
            rows(conn, f"CREATE TABLE {t} (x INT)")
            conn.commit()
        with pool.connection() as conn:
            rows(conn, f"INSERT INTO {t} VALUES (1)")
        with pool.connection() as conn:  # same session, transaction still open: sees its row
            assert one(conn, f"SELECT COUNT(*) FROM {t}") == 1
            conn.rollback()
        with pytest.raises(KeyError), pool.connection() as conn:
            rows(conn, f"INSERT INTO {t} VALUES (5)")
            raise KeyError("boom")
        with pool.connection() as conn:
            assert one(conn, f"SELECT COUNT(*) FROM {t}") == 0


def test_discard_drops_session_state_on_postgresql() -> None:
    backend = PG
    for mode, expect in ((True, "kept"), ("discard", None)):
        with make(backend, max_size=1, reset_on_return=mode) as pool:
            with pool.connection() as conn:
                rows(conn, backend.set_var_sql, ("kept",))
                conn.commit()
            with pool.connection() as conn:
                got = one(conn, backend.get_var_sql)
                assert (got or None) == expect, mode


def test_timeout_says_how_many_are_in_use_and_by_whom(backend: Backend) -> None:
    with make(backend, min_size=0, max_size=2, acquire_timeout="300ms") as pool:
        held: list[mp.PooledConnection] = []

        def holder() -> None:
            held.append(pool.acquire())

        threads = [threading.Thread(target=holder, name=f"holder-{i}") for i in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t0 = time.monotonic()
        with pytest.raises(PoolTimeoutError) as info:
            pool.acquire()
        waited = time.monotonic() - t0
        assert 0.29 <= waited < 1.0
        msg = str(info.value)
        assert isinstance(info.value, MinideError) and isinstance(info.value, TimeoutError)
        assert "2 in use of max_size=2" in msg
        assert "2 by holder() at " in msg and "test_pool.py" in msg
        assert "holder-0" in msg and "holder-1" in msg
        assert pool.stats()["timeouts"] == 1
        for c in held:
            c.close()
        with pool.connection(timeout=0.1) as conn:
            assert one(conn, "SELECT 1") == 1


def test_waiters_are_served_in_order_when_connections_come_back(backend: Backend) -> None:
    with make(backend, min_size=1, max_size=1, acquire_timeout="5s") as pool:
        first = pool.acquire()
        order: list[int] = []

        def waiter(i: int) -> None:
            with pool.connection():
                order.append(i)

        threads = []
        for i in range(5):
            th = threading.Thread(target=waiter, args=(i,))
            th.start()
            threads.append(th)
            while pool.stats()["waiting"] < i + 1:  # queue them in a known order
                time.sleep(0.001)
        first.close()
        for th in threads:
            th.join(10)
        assert order == [0, 1, 2, 3, 4]
        assert pool.stats()["wait_p99_s"] > 0


def test_stats_and_prometheus(backend: Backend) -> None:
    with make(backend, min_size=2, max_size=4) as pool:
        pool.wait()
        a, b = pool.acquire(), pool.acquire()
        st = pool.stats()
        for k in (
            "size",
            "idle",
            "in_use",
            "waiting",
            "acquired_per_s",
            "wait_p50_s",
            "wait_p99_s",
            "timeouts",
            "created",
            "closed",
            "leaks",
        ):
            assert k in st
        assert st["in_use"] == 2 and st["size"] >= 2 and st["created"] >= 2
        assert set(st["closed"]) == {
            "lifetime",
            "idle",
            "broken",
            "reset",
            "resize",
            "leaked",
            "cancelled",
            "pool",
        }
        a.invalidate()
        b.close()
        text = pool.metrics_prometheus()
        line = re.compile(r'^[a-z_]+\{pool="[^"]+"(,[a-z]+="[^"]*")?\} [0-9.e+-]+$')
        for ln in text.splitlines():
            assert ln.startswith("# ") or line.match(ln), ln
        assert 'minide_pool_closed_total{pool="' in text and 'reason="broken"} 1' in text
        assert re.search(r'minide_pool_acquired_total\{pool="[^"]+"\} 2\n', text)
        buckets = [
            float(m.group(1))
            for m in re.finditer(r"minide_pool_wait_seconds_bucket\{.*\} (\S+)", text)
        ]
        assert buckets == sorted(buckets) and buckets[-1] == 2


def test_resize_and_idle_shrink(backend: Backend) -> None:
    with make(backend, min_size=1, max_size=4, max_idle="200ms") as pool:
        conns = [pool.acquire() for _ in range(4)]
        assert pool.stats()["size"] == 4
        for c in conns:
            c.close()
        deadline = time.monotonic() + 5
        while pool.stats()["size"] > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        st = pool.stats()
        assert st["size"] == 1 and st["closed"]["idle"] == 3
        pool.resize(min_size=3, max_size=5)
        pool.wait()
        assert pool.stats()["size"] >= 3
        held = [pool.acquire() for _ in range(3)]
        pool.resize(min_size=0, max_size=1)
        for c in held:
            c.close()
        st = pool.stats()
        assert st["size"] == 1 and st["closed"]["resize"] >= 2
        with pytest.raises(MinideError, match="min_size"):
            pool.resize(min_size=3, max_size=2)


def test_lifetime_closes_old_connections(backend: Backend) -> None:
    with make(backend, min_size=1, max_size=2, max_lifetime="300ms") as pool:
        with pool.connection() as conn:
            first = conn.backend_id
        time.sleep(0.45)
        with pool.connection() as conn:
            assert conn.backend_id != first
        assert pool.stats()["closed"]["lifetime"] >= 1


def test_leak_past_threshold_is_reported_with_the_borrowers_stack(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    with make(backend, leak_threshold="100ms") as pool:
        conn = pool.acquire()  # the leaking line
        deadline = time.monotonic() + 3
        while not pool.leaks() and time.monotonic() < deadline:
            time.sleep(0.02)
        (report,) = pool.leaks()
        assert report["kind"] == "held" and report["held_s"] >= 0.1
        assert "test_leak_past_threshold_is_reported_with_the_borrowers_stack" in report["where"]
        assert "conn = pool.acquire()  # the leaking line" in report["stack"]
        assert "held for" in caplog.text and "the leaking line" in caplog.text
        assert pool.stats()["leaks"] == 1
        conn.close()


def _lose_a_connection(pool: mp.Pool) -> int:
    conn = pool.acquire()  # borrowed and dropped
    return conn.backend_id


def test_a_garbage_collected_connection_is_reported_and_reclaimed(backend: Backend) -> None:
    with make(backend, min_size=0, max_size=1, leak_threshold=None) as pool:
        lost = _lose_a_connection(pool)
        gc.collect()
        deadline = time.monotonic() + 3
        while not pool.leaks() and time.monotonic() < deadline:
            time.sleep(0.02)
        (report,) = pool.leaks()
        assert report["kind"] == "collected" and "_lose_a_connection" in report["where"]
        assert "borrowed and dropped" in report["stack"]
        with pool.connection(timeout=1) as conn:  # max_size=1: only possible if reclaimed
            assert conn.backend_id == lost
        assert pool.stats()["in_use"] == 0


def test_closed_pool(backend: Backend) -> None:
    pool = make(backend, min_size=1, max_size=1)
    held = pool.acquire()
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            pool.acquire(timeout=5)
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=waiter)
    th.start()
    while pool.stats()["waiting"] == 0:
        time.sleep(0.001)
    pool.close()
    th.join(5)
    assert len(errors) == 1 and isinstance(errors[0], PoolClosedError)
    held.close()
    assert pool.stats()["closed"]["pool"] == 1 and pool.stats()["size"] == 0
    with pytest.raises(PoolClosedError):
        pool.acquire()


def test_sustained_waits_grow_the_pool_and_idle_shrinks_it(backend: Backend) -> None:
    with make(backend, min_size=1, max_size=6, max_idle="300ms", acquire_timeout="5s") as pool:
        stop = time.monotonic() + 0.6

        def worker() -> None:
            while time.monotonic() < stop:
                with pool.connection():
                    time.sleep(0.01)

        threads = [threading.Thread(target=worker) for _ in range(5)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert pool.stats()["size"] >= 4  # grew under the waits
        deadline = time.monotonic() + 5
        while pool.stats()["size"] > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.stats()["size"] == 1  # and shrank back to min_size when idle


def test_sqlite_busy_timeout_from_the_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``sqlite:///db?timeout=0.2``: how long a writer waits for another connection's lock
    (sqlite3's ``timeout``, a float), then 'database is locked'."""
    url = f"sqlite:///{tmp_path / 'w.db'}?timeout=0.2"
    with mp.Pool(url, min_size=2, max_size=2, acquire_timeout="1s") as pool:
        with pool.connection() as c:
            c.execute("CREATE TABLE t (x INT)")
            c.commit()
        holder = pool.acquire()
        holder.execute("BEGIN IMMEDIATE")  # the write lock
        t0 = time.monotonic()
        with pytest.raises(Exception, match="database is locked"), pool.connection() as c:
            c.execute("INSERT INTO t VALUES (2)")
        assert 0.15 <= time.monotonic() - t0 < 2.0
        holder.rollback()
        holder.close()


def test_timeouts_racing_handoffs_lose_no_connection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Waiters give up (a few ms) while returners hand connections over: every attempt ends
    with a connection or a PoolTimeoutError, no connection is held twice, and at the end every
    connection is idle again (none was handed to a waiter that had already left)."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with mp.Pool(url, min_size=2, max_size=2, acquire_timeout="2ms") as pool:
        pool.wait()
        holders: dict[int, int] = {}
        clashes: list[int] = []
        got, timed_out = [0] * 12, [0] * 12
        guard = threading.Lock()

        def worker(i: int) -> None:
            for _ in range(150):
                try:
                    with pool.connection() as c:
                        with guard:
                            if holders.setdefault(c.backend_id, i) != i:
                                clashes.append(c.backend_id)
                        time.sleep(0.001)
                        with guard:
                            del holders[c.backend_id]
                    got[i] += 1
                except PoolTimeoutError:
                    timed_out[i] += 1

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not clashes
        assert sum(got) + sum(timed_out) == 12 * 150
        assert sum(got) > 0 and sum(timed_out) > 0  # both outcomes really raced
        st = pool.stats()
        assert (st["size"], st["idle"], st["in_use"], st["waiting"]) == (2, 2, 0, 0)
        assert st["timeouts"] == sum(timed_out)


def _nested_borrow(pool: mp.Pool, k: int) -> tuple[Any, list[tuple[Any, int]]]:
    if k:
        return _nested_borrow(pool, k - 1)
    conn, line = pool.acquire(), sys._getframe(0).f_lineno  # one line: the borrow's line
    here = sys._getframe(0)
    truth = [(here.f_code, line)]
    f: Any = here.f_back  # the callers, walked the slow way
    while f is not None and len(truth) < STACK_DEPTH:
        truth.append((f.f_code, f.f_lineno))
        f = f.f_back
    return conn, truth


def test_the_recorded_stack_names_the_same_lines_as_the_frames(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Borrows record instruction offsets (cheap) and map them to lines for reports: the lines
    must be what ``f_lineno`` says, frame by frame, through a recursion deeper than kept."""
    with mp.Pool(f"sqlite:///{tmp_path / 's.db'}", min_size=0, max_size=1) as pool:
        conn, truth = _nested_borrow(pool, 20)
        slot = pool._borrowed[next(iter(pool._borrowed))]
        assert slot.stack == truth
        conn.close()
