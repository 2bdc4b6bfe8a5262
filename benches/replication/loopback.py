"""Loopback cluster bench: 3 region processes, real sockets, every link through the fault proxy.

    python benches/replication/loopback.py [--partition-s 30] [--divergent 10000] [--base 100000]

1. Writes/s per region: one client per region writing as fast as it can (hinted handoff on).
2. Replication lag p50/p99 per link at 1,000 writes/s in total (paced clients on 3 regions).
3. Repair after a partition: every region starts with the same ``base`` keys (preloaded into
   its minide.kv store), then {us} | {eu, ap} for ``partition_s`` seconds while ``divergent``
   keys are updated (half on us, half on eu/ap), then heal. Hinted handoff is off, so only
   anti-entropy repairs. Run twice on identical data: Merkle anti-entropy, and the baseline
   that sends every object both ways when the roots differ (``anti_entropy="full"``). Reports
   the seconds from heal to identical replicas and the bytes the regions sent meanwhile.

Writes JSON to benches/results/replication-loopback-<utc>.json and prints it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import minide.replication as mr

NAMES = ["us", "eu", "ap"]
VALUE = b"v" * 100


def throughput_and_lag(seconds: float, rate: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="minide-repl-bench-") as tmp,
        mr.LocalCluster(regions=NAMES, base_dir=tmp, merkle_depth=4) as cluster,
    ):
        counts = dict.fromkeys(NAMES, 0)

        def writer(region: str, stop_at: float, per_s: float | None) -> None:
            with cluster.client(region) as c:
                n = 0
                t0 = time.monotonic()
                while (now := time.monotonic()) < stop_at:
                    if per_s is not None and n > (now - t0) * per_s:
                        time.sleep(0.0005)
                        continue
                    c.put(f"{region}:{per_s}:{n}", VALUE)
                    n += 1
                counts[region] = n

        def phase(per_s: float | None) -> None:
            stop_at = time.monotonic() + seconds
            threads = [threading.Thread(target=writer, args=(r, stop_at, per_s)) for r in NAMES]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        cluster.wait_converged(timeout=30)
        phase(None)
        out["max_writes_per_s_per_region"] = {r: round(counts[r] / seconds) for r in NAMES}
        cluster.wait_converged(timeout=120)
        cluster.metrics(reset=True)  # lag samples of the paced phase only
        phase(rate / len(NAMES))
        out["paced_writes_per_s_total"] = round(sum(counts.values()) / seconds)
        cluster.wait_converged(timeout=120)
        links = cluster.metrics()["links"]
        out["lag_ms_at_rate"] = {
            k: {"p50": round(v["lag_p50_ms"], 2), "p99": round(v["lag_p99_ms"], 2)}
            for k, v in sorted(links.items())
        }
    return out


def preload(base_dir: Path, base: int) -> list[bytes]:
    """The same ``base`` objects in every region's kv store, as if replicated long ago."""
    keys = [f"user:{i:09d}".encode() for i in range(base)]
    empty = mr.VectorClock()
    objs = [
        mr.Object().update("seed#0", empty, VALUE + b"%d" % i, i)[0].to_bytes() for i in range(base)
    ]
    for name in NAMES:
        store = mr.KvStorage(base_dir / name)
        with store.db.write_batch() as batch:
            for k, o in zip(keys, objs, strict=True):
                batch.put(b"d" + k, o)  # KvStorage's object key space (see kvstore.py)
        store.close()
    return keys


def repair(mode: str, base: int, divergent: int, partition_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"minide-repl-{mode}-") as tmp:
        keys = preload(Path(tmp), base)
        with mr.LocalCluster(
            regions=NAMES,
            base_dir=tmp,
            merkle_depth=4,
            anti_entropy=mode,
            hinted_handoff=False,
        ) as cluster:
            cluster.wait_converged(timeout=60)
            cluster.partition({"us"}, {"eu", "ap"})
            rng = random.Random(5)
            chosen = rng.sample(keys, divergent)
            clients = {n: cluster.client(n) for n in NAMES}
            t0 = time.monotonic()
            for i, key in enumerate(chosen):
                # us updates half the keys; eu and ap (still connected) update the other half
                c = clients["us" if i % 2 == 0 else ("eu" if i % 4 == 1 else "ap")]
                c.put(key, b"changed-%d" % i, c.get(key).context)
                pause = t0 + partition_s * (i + 1) / divergent - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            time.sleep(max(0.0, t0 + partition_s - time.monotonic()))
            for c in clients.values():
                c.close()
            before = cluster.metrics()
            cluster.heal()
            took = cluster.wait_converged(timeout=300)
            after = cluster.metrics()
            sent = after["bytes_sent"] - before["bytes_sent"]
            with cluster.client("ap") as ap:  # spot check: us's writes reached ap
                assert ap.get(chosen[0]).values == [b"changed-0"]
            return {
                "converge_s": round(took, 3),
                "bytes_sent": sent,
                "partition_s": round(time.monotonic() - t0, 1),
            }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="each throughput/lag phase")
    p.add_argument("--rate", type=int, default=1_000, help="total writes/s for the lag phase")
    p.add_argument("--partition-s", type=float, default=30.0)
    p.add_argument("--divergent", type=int, default=10_000)
    p.add_argument("--base", type=int, default=100_000)
    p.add_argument("--repair-only", action="store_true", help="skip throughput and lag")
    args = p.parse_args()
    out: dict[str, Any] = {"args": vars(args)}
    if not args.repair_only:
        out.update(throughput_and_lag(args.seconds, args.rate))
    merkle = repair("merkle", args.base, args.divergent, args.partition_s)
    full = repair("full", args.base, args.divergent, args.partition_s)
    out["repair"] = {
        "merkle": merkle,
        "full_sync": full,
        "bytes_ratio": round(merkle["bytes_sent"] / full["bytes_sent"], 4),
    }
    print(json.dumps(out, indent=2))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = Path(__file__).resolve().parents[1] / "results"
    results.mkdir(exist_ok=True)
    (results / f"replication-loopback-{stamp}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
