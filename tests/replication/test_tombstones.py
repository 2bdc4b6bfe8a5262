"""Tombstone GC: a delete's tombstone is dropped once every region holds it identically, never
before, and never over a write that came after it.

Three sans-IO replicas with a hand-driven network (``deliver``), so who has seen what is exact.
"""

from __future__ import annotations

import minide.replication as mr
from minide.replication.replica import Replica

NAMES = ["us", "eu", "ap"]


def cluster() -> dict[str, Replica]:
    return {
        n: mr.Replica(n, [p for p in NAMES if p != n], mr.MemoryStorage(), tombstone_gc=True)
        for n in NAMES
    }


def deliver(rs: dict[str, Replica], cut: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Deliver every message until quiet; messages to or from a region in ``cut`` are lost."""
    while any(r.outbox for r in rs.values()):
        for src, r in rs.items():
            out, r.outbox = r.outbox, []
            for dst, kind, body in out:
                if src not in cut and dst not in cut:
                    rs[dst].handle(src, kind, body)


def gc_round(rs: dict[str, Replica], cut: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    for r in rs.values():
        r.retry_hints(lambda p: True)
        if r.name not in cut:
            r.collect_tombstones()
    deliver(rs, cut)


def stored(r: Replica) -> dict[bytes, bytes]:
    return dict(r.storage.items())


def test_tombstone_dropped_only_after_every_region_saw_it() -> None:
    rs = cluster()
    ctx = rs["us"].put(b"k", b"v", None, 1)
    rs["us"].put(b"keep", b"x", None, 2)
    deliver(rs)
    rs["eu"].put(b"k", None, ctx, 3)  # delete at eu; ap is cut off and misses it
    deliver(rs, cut={"ap"})
    assert b"k" in rs["us"].tombs and b"k" in rs["eu"].tombs
    for _ in range(5):
        gc_round(rs, cut={"ap"})
    assert b"k" in rs["us"].tombs and b"k" in rs["eu"].tombs, "ap has not seen the delete"
    assert rs["ap"].get(b"k").values == [b"v"]
    gc_round(rs)  # ap reachable again: hints deliver the tombstone, then GC can proceed
    for _ in range(3):
        gc_round(rs)
    for r in rs.values():
        assert b"k" not in stored(r) and not r.tombs, r.name
        assert r.get(b"k").values == []
        assert r.get(b"keep").values == [b"x"]
    assert len({r.tree.root() for r in rs.values()}) == 1
    assert sum(r.stats.tombstones_collected for r in rs.values()) == 3


def test_a_write_after_the_delete_is_never_collected() -> None:
    rs = cluster()
    ctx = rs["us"].put(b"k", b"v", None, 1)
    deliver(rs)
    rs["us"].put(b"k", None, ctx, 2)
    deliver(rs)
    # every region holds the tombstone; us asks, and before the answers a blind write lands
    rs["us"].collect_tombstones()
    rs["ap"].put(b"k", b"again", None, 3)  # concurrent with the delete's votes
    deliver(rs)
    for _ in range(3):
        gc_round(rs)
    for r in rs.values():
        assert r.get(b"k").values == [b"again"], r.name


def test_no_gc_unless_enabled_and_tombs_survive_restart() -> None:
    store = mr.MemoryStorage()
    a = mr.Replica("us", ["eu"], store)
    ctx = a.put(b"k", b"v", None, 1)
    a.put(b"k", None, ctx, 2)
    assert a.collect_tombstones() == 0 and not a.outbox[2:], "GC is off by default"
    again = mr.Replica("us", ["eu"], store, tombstone_gc=True)
    assert set(again.tombs) == {b"k"}, "tombstones are found again after a restart"
