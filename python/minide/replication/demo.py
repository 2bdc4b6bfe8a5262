"""The replication chapter of `minide demo` (also `minide replication demo`): three regions in
the deterministic simulator are partitioned, take concurrent writes on both sides, heal, show
siblings, converge; then one region loses its disk and comes back under a new epoch (kv679)."""

from __future__ import annotations

import time

from rich.markup import escape

from minide._tour import Chapter, Context, console
from minide.replication import Simulator


def _show(values: list[bytes]) -> str:
    return escape(str([v.decode() for v in values]))


def tour(seed: int = 42, keys: int = 2_000) -> None:
    sim = Simulator(["us", "eu", "ap"], seed=seed, drop=0.02, duplicate=0.02)
    console.print(
        f"Three regions (us, eu, ap) in the simulator, seed {seed}: 2% of messages lost, "
        "2% duplicated, delivery order random."
    )
    for i in range(keys):
        sim.put("us", f"user:{i}", f"v0-{i}".encode())
    sim.put("us", "cart", b"milk")
    sim.settle()
    console.print(f"  wrote {keys + 1:,} keys at us; replicated: converged = {sim.converged()}")

    sim.partition({"us"}, {"eu", "ap"})
    console.print("[bold]Partition[/] {us} | {eu, ap}; both sides keep accepting writes:")
    us_read, eu_read = sim.get("us", "cart"), sim.get("eu", "cart")
    sim.put("us", "cart", b"milk,eggs", us_read.context)
    sim.put("eu", "cart", b"milk,bread", eu_read.context)
    for i in range(0, keys, 10):
        side = "us" if i % 20 == 0 else "ap"
        k = f"user:{i}"
        sim.put(side, k, f"v1-{side}-{i}".encode(), sim.get(side, k).context)
    sim.run()
    us_snap, eu_snap = sim.snapshot("us"), sim.snapshot("eu")
    differ = sum(us_snap.get(k) != eu_snap.get(k) for k in us_snap.keys() | eu_snap.keys())
    console.print(
        f"  us reads cart = {_show(sim.get('us', 'cart').values)}, "
        f"eu reads cart = {_show(sim.get('eu', 'cart').values)}; "
        f"{differ:,} keys differ between us and eu, "
        f"{sim.metrics()['hints_pending']:,} hints wait for the other side"
    )

    sim.heal()
    sent0 = sim.metrics()["bytes_sent"]
    t0 = time.perf_counter()
    rounds = sim.settle()
    dt = time.perf_counter() - t0
    m = sim.metrics()
    console.print(
        f"[bold]Heal[/]: hinted handoff + anti-entropy converged in {rounds} round(s), "
        f"{dt * 1e3:.0f} ms of simulation, {m['bytes_sent'] - sent0:,} bytes sent; "
        f"converged = {sim.converged()}"
    )
    res = sim.get("ap", "cart")
    console.print(
        f"  ap reads cart: siblings {_show(res.values)} with context {res.context}: two concurrent "
        "writes, neither lost"
    )
    sim.put("ap", "cart", b"milk,eggs,bread", res.context)
    sim.settle()
    console.print(
        f"  a client merges them and writes back with that context -> every region reads "
        f"{escape(str([[v.decode() for v in sim.get(r, 'cart').values] for r in sim.names]))}"
    )

    sim.wipe("eu")
    sim.put("eu", "cart", b"after-disk-loss")
    sim.settle()
    console.print(
        f"[bold]kv679[/]: eu loses its disk, restarts as {sim.actor('eu')} and takes a blind "
        f"write; after sync every region reads {_show(sorted(sim.get('us', 'cart').values))}"
    )
    console.print("Trace of the cart key from the partition on (sim.trace() prints everything):")
    lines = sim.trace_lines()
    start = next(i for i, line in enumerate(lines) if "PARTITION" in line)
    for line in lines[start:]:
        if ("cart" in line or line.split()[1].isupper()) and "user:" not in line:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"Totals: {m['messages_sent']:,} messages, {m['bytes_sent']:,} bytes, "
        f"{m['dropped_random']} lost, {m['duplicated']} duplicated, "
        f"{m['dropped_partition']} dropped by the partition."
    )


def _replication(ctx: Context) -> None:
    tour(seed=ctx.seed, keys=max(100, min(ctx.rows // 500, 2_000)))


def cluster_tour(keys: int = 2_000) -> None:
    """The same story with real processes: 3 regions on loopback behind fault proxies."""
    import tempfile

    from minide.replication import LocalCluster

    with tempfile.TemporaryDirectory(prefix="minide-repl-") as tmp:
        t0 = time.perf_counter()
        with LocalCluster(regions=["us", "eu", "ap"], base_dir=tmp) as cluster:
            console.print(
                f"Started 3 region processes in {time.perf_counter() - t0:.2f} s: "
                + ", ".join(f"{n} at {cluster.address(n)}" for n in cluster.names)
            )
            us, eu, ap = (cluster.client(n) for n in cluster.names)
            t0 = time.perf_counter()
            for i in range(keys):
                us.put(f"user:{i}", f"v0-{i}".encode())
            dt = time.perf_counter() - t0
            us.put("cart", b"milk")
            conv = cluster.wait_converged(timeout=30)
            console.print(
                f"  {keys:,} writes at us in {dt:.2f} s ({keys / dt:,.0f} writes/s, one client); "
                f"all regions identical {conv:.2f} s later"
            )
            cluster.partition({"us"}, {"eu", "ap"})
            console.print("[bold]Partition[/] {us} | {eu, ap}")
            us.put("cart", b"milk,eggs", us.get("cart").context)
            eu.put("cart", b"milk,bread", eu.get("cart").context)
            for i in range(0, keys, 10):
                c = us if i % 20 == 0 else ap
                c.put(f"user:{i}", f"v1-{i}".encode(), c.get(f"user:{i}").context)
            time.sleep(0.3)
            console.print(
                f"  us reads cart {_show(us.get('cart').values)}, "
                f"ap reads cart {_show(ap.get('cart').values)}"
            )
            cluster.heal()
            conv = cluster.wait_converged(timeout=30)
            res = ap.get("cart")
            console.print(
                f"[bold]Heal[/]: identical replicas after {conv:.2f} s; ap reads cart siblings "
                f"{_show(res.values)} with context {res.context}"
            )
            ap.put("cart", b"milk,eggs,bread", res.context)
            conv = cluster.wait_converged(timeout=30)
            console.print(
                f"  merged by a client, converged in {conv:.2f} s: us reads "
                f"{_show(us.get('cart').values)}"
            )
            m = cluster.metrics()
            for link, v in sorted(m["links"].items()):
                console.print(
                    f"  {link}: lag p50 {v['lag_p50_ms']:.1f} ms, p99 {v['lag_p99_ms']:.1f} ms, "
                    f"{v['bytes_sent']:,} bytes"
                )
            console.print(
                f"  conflicts detected {m['conflicts']}, hints pending {m['hints_pending']}"
            )
            for c in (us, eu, ap):
                c.close()


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("replication: partition, concurrent writes, siblings, heal, convergence", _replication),
)
