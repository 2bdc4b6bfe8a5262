"""Regions as real processes on loopback, every link through a fault proxy.

The set check (Jepsen style) runs for MINIDE_REPL_NEMESIS_S seconds (default 8 here; the issue's
60: `MINIDE_REPL_NEMESIS_S=60`): clients add unique elements while a nemesis partitions,
isolates, heals and kill -9s/restarts regions; after healing, every acknowledged add is on every
region (lost = 0) and nothing never attempted appears (unexpected = 0).
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import minide.replication as mr
import pytest
from minide.errors import MinideError

NEMESIS_S = float(os.environ.get("MINIDE_REPL_NEMESIS_S", "8"))
pytestmark = pytest.mark.timeout(180)


def keys_of(cluster: mr.LocalCluster, region: str, keys: list[str]) -> dict[str, list[bytes]]:
    with cluster.client(region) as c:
        return {k: c.get(k).values for k in keys}


def test_partition_siblings_heal(tmp_path: Path) -> None:
    with mr.LocalCluster(regions=["us", "eu", "ap"], base_dir=tmp_path) as cluster:
        us, eu, ap = (cluster.client(n) for n in ("us", "eu", "ap"))
        us.put("cart", b"milk")
        cluster.wait_converged(timeout=10)
        assert ap.get("cart").values == [b"milk"]
        cluster.partition({"us"}, {"eu", "ap"})
        us.put("cart", b"milk,eggs", us.get("cart").context)
        eu.put("cart", b"milk,bread", eu.get("cart").context)
        time.sleep(0.5)
        assert us.get("cart").values == [b"milk,eggs"]
        assert ap.get("cart").values == [b"milk,bread"], "eu and ap still talk"
        cluster.heal()
        cluster.wait_converged(timeout=10)
        res = ap.get("cart")
        assert sorted(res.values) == [b"milk,bread", b"milk,eggs"]
        ap.put("cart", b"milk,eggs,bread", res.context)
        cluster.wait_converged(timeout=10)
        assert [c.get("cart").values for c in (us, eu, ap)] == [[b"milk,eggs,bread"]] * 3
        ctx = us.get("cart").context
        us.delete("cart", ctx)
        cluster.wait_converged(timeout=10)
        assert eu.get("cart").values == []
        # every region holds the tombstone: after its grace (~2 s) it is collected everywhere
        deadline = time.monotonic() + 15
        while any(c.state()["keys"] for c in (us, eu, ap)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [c.state()["keys"] for c in (us, eu, ap)] == [0, 0, 0], "tombstone not collected"
        cluster.wait_converged(timeout=10)
        assert all(c.get("cart").values == [] for c in (us, eu, ap))
        m = cluster.metrics()
        assert m["conflicts"] >= 1 and m["bytes_sent"] > 0 and m["hints_pending"] == 0
        assert m["links"]["us->eu"]["lag_p99_ms"] > 0
        for c in (us, eu, ap):
            c.close()


def test_delay_slows_one_link(tmp_path: Path) -> None:
    with mr.LocalCluster(regions=["us", "eu"], base_dir=tmp_path) as cluster:
        cluster.wait_converged(timeout=10)
        cluster.metrics(reset=True)
        cluster.delay("us", "eu", ms=300)
        with cluster.client("us") as us, cluster.client("eu") as eu:
            us.put("k", b"slow")
            assert eu.get("k").values == [], "the push is still held by the proxy"
            cluster.wait_converged(timeout=10)
            assert eu.get("k").values == [b"slow"]
        assert cluster.metrics()["links"]["us->eu"]["lag_p50_ms"] >= 300
        cluster.heal()  # clears delays


@pytest.mark.parametrize("sync", ["batch", "always"], ids=["sync-batch", "sync-always"])
def test_kill9_keeps_acknowledged_writes_and_epoch(tmp_path: Path, sync: str) -> None:
    with mr.LocalCluster(regions=["us", "eu"], base_dir=tmp_path, sync=sync) as cluster:
        cluster.partition({"us"}, {"eu"})  # nothing replicates: eu's disk is the only copy
        with cluster.client("eu") as eu:
            actor = eu.state()["actor"]
            for i in range(200):
                eu.put(f"k{i}", f"v{i}".encode())
        cluster.kill("eu")
        assert (cluster.data_dir("eu") / "kv" / "MANIFEST").exists(), "stored in minide.kv"
        cluster.restart("eu")
        with cluster.client("eu") as eu:
            assert eu.state()["actor"] == actor, "data kept -> same epoch"
            assert all(eu.get(f"k{i}").values == [f"v{i}".encode()] for i in range(200))
        cluster.heal()
        cluster.wait_converged(timeout=15)
        assert keys_of(cluster, "us", ["k0", "k199"]) == {"k0": [b"v0"], "k199": [b"v199"]}


def test_hints_survive_kill9(tmp_path: Path) -> None:
    """Hinted handoff alone (anti-entropy off): hints of a region killed with SIGKILL are in
    its kv store; after a restart they are replayed and the partitioned peer gets every write."""
    with mr.LocalCluster(
        regions=["us", "eu"], base_dir=tmp_path, anti_entropy_interval=3600
    ) as cluster:
        cluster.wait_converged(timeout=10)
        cluster.partition({"us"}, {"eu"})
        keys = [f"h{i}" for i in range(50)]
        with cluster.client("eu") as eu:
            for k in keys:
                eu.put(k, k.encode())
            assert eu.state()["hints"] == 50
        cluster.kill("eu")
        cluster.restart("eu")
        with cluster.client("eu") as eu:
            assert eu.state()["hints"] == 50, "hints lost in the kill -9"
        assert all(v == [] for v in keys_of(cluster, "us", keys).values())
        cluster.heal()
        cluster.wait_converged(timeout=15)
        assert keys_of(cluster, "us", keys) == {k: [k.encode()] for k in keys}
        cluster.kill("eu")  # acks deleted the hints durably too
        cluster.restart("eu")
        with cluster.client("eu") as eu:
            assert eu.state()["hints"] == 0


def test_kv679_lost_disk_new_epoch(tmp_path: Path) -> None:
    with mr.LocalCluster(regions=["us", "eu", "ap"], base_dir=tmp_path) as cluster:
        with cluster.client("us") as us:
            ctx = None
            for i in range(3):
                ctx = us.put("k", f"v{i}".encode(), ctx)
            old_actor = us.state()["actor"]
        cluster.wait_converged(timeout=10)
        cluster.wipe("us")
        cluster.restart("us")
        with cluster.client("us") as us:
            assert us.state()["actor"] != old_actor
            us.put("k", b"after-wipe")  # blind write on an empty region: acknowledged
        cluster.wait_converged(timeout=15)
        for n in cluster.names:
            assert sorted(keys_of(cluster, n, ["k"])["k"]) == [b"after-wipe", b"v2"]


# The final check reads every attempted key from every region one get at a time; a 60 s run on a
# quiet machine acks ~300k keys, so the time limit grows with the nemesis duration.
@pytest.mark.timeout(120 + 15 * NEMESIS_S)
def test_set_check_under_nemesis(tmp_path: Path) -> None:
    names = ["us", "eu", "ap"]
    rng = random.Random(11)
    attempted: set[str] = set()
    acked: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    with mr.LocalCluster(regions=names, base_dir=tmp_path) as cluster:

        def client(cid: int) -> None:
            crng = random.Random(cid)
            n = 0
            conns: dict[str, mr.Client] = {}
            while not stop.is_set():
                region = crng.choice(names)
                key = f"c{cid}-{n}"
                n += 1
                with lock:
                    attempted.add(key)
                try:
                    c = conns.setdefault(region, mr.Client(cluster.address(region), timeout=2))
                    c.put(key, key.encode())
                except MinideError:
                    conns.pop(region, None)
                    time.sleep(0.02)
                    continue
                with lock:
                    acked.add(key)
            for c in conns.values():
                c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        t_end = time.monotonic() + NEMESIS_S
        killed_once = False
        while time.monotonic() < t_end:
            time.sleep(1.0)
            action = rng.choice(["halves", "isolate", "heal", "kill"])
            if action == "halves":
                shuffled = rng.sample(names, len(names))
                cluster.partition({shuffled[0]}, set(shuffled[1:]))
            elif action == "isolate":
                cluster.partition({rng.choice(names)})
            elif action == "heal":
                cluster.heal()
            elif not killed_once:
                victim = rng.choice(names)
                cluster.kill(victim)
                time.sleep(0.3)
                cluster.restart(victim)
                killed_once = True
        stop.set()
        for t in threads:
            t.join()
        cluster.heal()
        took = cluster.wait_converged(timeout=10)
        print(
            f"set check: {len(attempted)} attempted, {len(acked)} acked, converged in {took:.2f} s"
        )
        assert len(acked) > 100
        for region in names:
            with cluster.client(region) as c:
                present = {k for k in attempted if c.get(k).values}
            assert acked - present == set(), f"lost on {region}"
            assert present - attempted == set()
