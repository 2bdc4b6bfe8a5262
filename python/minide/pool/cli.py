"""`minide pool URL [--borrow N] [--threads T] [--metrics]`, listed in COMMANDS for minide.cli."""

from __future__ import annotations

import argparse

from minide._cmd import Command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="postgresql://user@host/db, mysql://root@host/db or sqlite:///path")
    p.add_argument("--driver", default=None, help="psycopg, psycopg2, pymysql or sqlite3")
    p.add_argument("--max-size", type=int, default=4)
    p.add_argument("--borrow", type=int, default=1000, help="borrow + SELECT 1 + return, N times")
    p.add_argument("--threads", type=int, default=4, help="client threads doing the borrows")
    p.add_argument("--metrics", action="store_true", help="print the Prometheus metrics too")


def _pool(args: argparse.Namespace) -> int:
    import threading
    import time

    import minide.pool as mp

    with mp.Pool(args.url, driver=args.driver, min_size=1, max_size=args.max_size) as pool:
        pool.wait()
        per = max(1, args.borrow // max(1, args.threads))

        def work() -> None:
            for _ in range(per):
                with pool.connection() as conn:
                    cur = conn.cursor()
                    cur.execute("SELECT 1")
                    cur.fetchall()
                    cur.close()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(max(1, args.threads))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        n = per * len(threads)
        print(f"{n} borrows of SELECT 1 on {len(threads)} threads: {n / dt:,.0f}/s")
        print(pool.describe())
        if args.metrics:
            print(pool.metrics_prometheus(), end="")
    return 0


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "pool",
        "open a connection pool to a database URL, exercise it, print its state and metrics",
        _pool,
        _configure,
    ),
)
