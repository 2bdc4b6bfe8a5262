"""The pool chapter of `minide demo` (SQLite in the tour's folder: no server needed), listed in
CHAPTERS for minide.demo."""

from __future__ import annotations

import gc
import threading
import time

from minide._tour import Chapter, Context, console


def _pool(ctx: Context) -> None:
    import minide.pool as mp

    url = f"sqlite:///{ctx.workdir / 'pool.db'}"
    with mp.Pool(url, min_size=2, max_size=4, acquire_timeout="300ms", leak_threshold=None) as pool:
        with pool.connection() as conn:
            # WAL: writers queue on the lock instead of deadlocking with readers that want to
            # write (rollback-journal SQLite answers that with 'database is locked' at once)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE events (thread INT, n INT)")
            conn.commit()
        per = max(50, min(ctx.rows // 100, 2_000))

        def work(t: int) -> None:
            for i in range(per):
                with pool.connection() as conn:
                    conn.execute("INSERT INTO events VALUES (?, ?)", (t, i))
                    conn.commit()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t0
        st = pool.stats()
        console.print(
            f"  8 threads x {per:,} borrow -> INSERT -> commit -> return over {st['size']} "
            f"connections: {8 * per / dt:,.0f}/s, wait p99 {st['wait_p99_s'] * 1e3:.2f} ms"
        )
        t0 = time.perf_counter()
        n = 20_000
        for _ in range(n):
            with pool.connection():
                pass
        console.print(
            f"  borrow + return alone: {(time.perf_counter() - t0) / n * 1e6:.1f} µs "
            "(lock-free deque pop/append, socket probe, borrower's stack kept for leak reports)"
        )
        held = [pool.acquire() for _ in range(4)]
        try:
            pool.acquire()
        except mp.PoolTimeoutError as e:
            console.print(f"  exhausted: PoolTimeoutError: {str(e)[:160]}...")
        for c in held:
            c.close()

        def lose() -> None:
            pool.acquire()  # never returned: the proxy is garbage-collected

        lose()
        gc.collect()
        time.sleep(3 * pool.tick)
        (report,) = pool.leaks()
        console.print(
            f"  a lost connection was reported and reclaimed: borrowed at {report['where']}"
        )
        console.print(f"  closed by reason: {pool.stats()['closed']}")


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    (
        "pool: connection pooling with leak detection (SQLite here; PostgreSQL and MariaDB too)",
        _pool,
    ),
)
