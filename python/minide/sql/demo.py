"""The sql chapter of ``minide demo``: a query through the five stages, checked against DuckDB."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from minide._tour import Chapter, Context, console

QUERY = """
SELECT category, count(*) AS orders, sum(amount) AS revenue, avg(amount) AS avg_amount
FROM sales JOIN shops ON sales.shop = shops.id
WHERE day >= DATE '2024-03-01' AND amount > 10 AND region <> 'north'
GROUP BY category
ORDER BY revenue DESC
LIMIT 5
"""


def _sql(ctx: Context) -> None:
    import minide.sql

    n = ctx.rows
    rng = ctx.rng
    days = (np.datetime64("2024-01-01") + rng.integers(0, 180, n).astype("timedelta64[D]")).astype(
        "datetime64[D]"
    )
    sales = pa.table(
        {
            "shop": rng.integers(0, 200, n),
            "category": pa.array(
                np.array([f"cat{i:02d}" for i in range(40)])[rng.integers(0, 40, n)]
            ),
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2),
            "day": pa.array(days, pa.date32()),
        }
    )
    shops = pa.table(
        {"id": np.arange(200), "region": pa.array(["north", "south", "east", "west"] * 50)}
    )
    con = minide.sql.connect()
    t0 = time.perf_counter()
    con.register("sales", sales)
    con.register("shops", shops)
    console.print(
        f"registered sales ({n:,} rows) and shops (200 rows) in {(time.perf_counter() - t0) * 1e3:.1f} ms"
    )
    console.print(QUERY.strip(), markup=False, style="dim")
    ast = minide.sql.parse(QUERY)
    console.print(
        f"1. parse: lark LALR grammar -> {type(ast).__name__} with {len(ast.body.items)} select items"
    )  # type: ignore[union-attr]
    text = con.explain(QUERY)
    physical = text.split("== physical plan ==")[1].strip()
    passes = [line for line in text.splitlines() if line.startswith("== ") and "pass" in line]
    console.print("2-3. bind + optimize, pass by pass:")
    for p in passes:
        console.print(f"   {p.strip('= ')}")
    console.print("4. physical plan (estimated rows from table statistics):")
    console.print(physical, markup=False, highlight=False)
    for threads in (1, 2):
        con.set("threads", threads)
        con.sql(QUERY).to_arrow()  # warm
        t0 = time.perf_counter()
        result = con.sql(QUERY).to_arrow()
        dt = time.perf_counter() - t0
        console.print(
            f"5. executed in Rust with {threads} thread(s): {dt * 1e3:.1f} ms ({n / dt / 1e6:,.1f} M rows/s)"
        )
    from minide.sql.format import format_table

    console.print(format_table(result), markup=False, highlight=False)
    try:
        import duckdb

        from minide.sql import tpch

        d = duckdb.connect()
        d.register("sales", sales)
        d.register("shops", shops)
        diff = tpch.compare(result, d.sql(QUERY).fetchall(), ordered=True)
        console.print(
            "   DuckDB gives the same answer"
            if diff is None
            else f"   [red]differs from DuckDB: {diff}[/]"
        )
    except ImportError:
        pass


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("SQL: parse → bind → optimize → plan → vectorized Rust execution", _sql),
)
