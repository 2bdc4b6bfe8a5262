"""The kv chapter of `minide demo`, listed in CHAPTERS for minide.demo."""

from __future__ import annotations

import time

from minide._tour import Chapter, Context, console


def _kv(ctx: Context) -> None:
    import minide.kv as kv

    n = min(ctx.rows, 200_000)
    keys = [b"user:%08d" % i for i in ctx.rng.permutation(n)]
    vals = [b"%d" % v for v in ctx.rng.integers(0, 10**9, n)]
    path = ctx.workdir / "kv"
    with kv.open(path, sync="batch", memtable_size=8 << 20) as db:
        t0 = time.perf_counter()
        for s in range(0, n, 1000):
            with db.write_batch() as b:
                for k, v in zip(keys[s : s + 1000], vals[s : s + 1000], strict=True):
                    b.put(k, v)
        dt = time.perf_counter() - t0
        console.print(
            f"  {n:,} puts in write batches of 1,000: {dt:.2f} s = {n / dt:,.0f} puts/s "
            "(WAL with group commit, fsync every few ms)"
        )
        first_ts = db.last_ts
        # Overwrite a tenth of the keys: the old versions stay readable.
        changed = keys[: n // 10]
        with db.write_batch() as b:
            for k in changed:
                b.put(k, b"updated")
        db.flush()
        probe = [keys[int(i)] for i in ctx.rng.integers(0, n, 10_000)]
        t0 = time.perf_counter()
        got = db.get_many(probe)
        dt = time.perf_counter() - t0
        console.print(f"  get_many of 10,000 random keys: {dt * 1e3:.1f} ms")
        old = db.get(changed[0], as_of=first_ts)
        console.print(
            f"  {changed[0].decode()} now = {db.get(changed[0])!r}, as_of the first load = {old!r}"
        )
        assert sum(v is None for v in got) == 0

        # Bitemporal: a price valid from day 0, a change from day 30, then a late correction.
        t1 = db.put("price:ACME", b"10.00", valid_from=0)
        db.put("price:ACME", b"12.00", valid_from=30)
        t3 = db.put("price:ACME", b"11.00", valid_from=15, valid_to=30)
        console.print("  price:ACME on day 20, as known after each commit:")
        for label, ts in (("first write", t1), ("after the correction", t3)):
            console.print(
                f"    as_of {label:22} -> {db.get('price:ACME', as_of=ts, valid_at=20)!r}"
            )
        console.print("  history (system_from .. system_to, valid_from .. valid_to, value):")
        for ver in db.history("price:ACME"):
            vt = ver.valid_to if ver.valid_to is not None else "inf"
            console.print(
                f"    {ver.system_from} .. {ver.system_to or 'now':>18}  "
                f"[{ver.valid_from}, {vt})  {ver.value!r}"
            )
        t0 = time.perf_counter()
        db.compact()
        st = db.stats()
        console.print(
            f"  compact(): {time.perf_counter() - t0:.2f} s, {st['sst_files']} tables, "
            f"{st['sst_bytes'] / 1e6:.1f} MB for {st['sst_versions']:,} versions "
            f"(retention=None keeps them all)"
        )
    summary = kv.inspect(path).splitlines()
    console.print("  kv.inspect:", summary[1])


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("kv: an LSM store that keeps every version (system time x valid time)", _kv),
)
