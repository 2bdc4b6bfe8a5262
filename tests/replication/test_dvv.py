"""Dotted version vectors: sibling sets built by real histories of writes and syncs."""

from __future__ import annotations

import minide.replication as mr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minide.errors import CorruptFileError

N = 3
EMPTY = mr.VectorClock()


@st.composite
def replica_objects(draw: st.DrawFn) -> list[mr.Object]:
    """Three replicas of one key after a random history: client writes at replica i with the
    context read from replica j (or blind), deletes, and syncs between replicas."""
    objs = [mr.Object() for _ in range(N)]
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["rmw", "blind", "delete", "sync"]),
                st.integers(0, N - 1),
                st.integers(0, N - 1),
            ),
            max_size=20,
        )
    )
    for n, (kind, i, j) in enumerate(ops):
        if kind == "rmw":
            objs[i] = objs[i].update(f"r{i}", objs[j].context, f"v{n}".encode(), n)[0]
        elif kind == "blind":
            objs[i] = objs[i].update(f"r{i}", EMPTY, f"b{n}".encode(), n)[0]
        elif kind == "delete":
            objs[i] = objs[i].update(f"r{i}", objs[j].context, None, n)[0]
        else:
            objs[i] = objs[i].sync(objs[j])
    return objs


def dots(o: mr.Object) -> set[tuple[str, int]]:
    return {(a, c) for a, c, _, _ in o.siblings}


@given(replica_objects())
def test_sync_is_commutative_associative_idempotent(objs: list[mr.Object]) -> None:
    a, b, c = objs
    assert a.sync(b) == b.sync(a)
    assert a.sync(b).sync(c) == a.sync(b.sync(c))
    assert a.sync(a) == a
    assert a.sync(b).descends(a) and a.sync(b).descends(b)


@given(replica_objects())
def test_sync_drops_only_dominated_values(objs: list[mr.Object]) -> None:
    a, b, _ = objs
    m = a.sync(b)
    assert dots(m) <= dots(a) | dots(b), "sync invented a sibling"
    for x, y in ((a, b), (b, a)):
        for d in dots(x) - dots(m):
            # dropped: the other side saw this write (context covers it) and replaced it
            assert y.context.covers(*d) and d not in dots(y)
    assert m.context == a.context.merge(b.context)


@given(replica_objects())
def test_bytes_roundtrip_and_digest(objs: list[mr.Object]) -> None:
    for o in objs:
        back = mr.Object.from_bytes(o.to_bytes())
        assert back == o and back.digest() == o.digest()


def test_concurrent_writes_are_siblings_until_a_client_merges() -> None:
    us = mr.Object().update("us#1", EMPTY, b"red", 1)[0]
    eu = mr.Object().update("eu#1", EMPTY, b"blue", 2)[0]
    both = us.sync(eu)
    assert sorted(both.values) == [b"blue", b"red"]
    merged, dot = both.update("ap#1", both.context, b"purple", 3)
    assert merged.values == [b"purple"] and dot == ("ap#1", 1)
    assert us.sync(merged).values == [b"purple"] == merged.sync(eu).values


def test_delete_is_a_tombstone_that_dominates() -> None:
    o = mr.Object().update("us#1", EMPTY, b"x", 1)[0]
    d = o.update("eu#1", o.context, None, 2)[0]
    assert d.values == [] and d.is_absent() and len(d.siblings) == 1
    assert o.sync(d).is_absent()


def test_sibling_explosion_same_coordinator() -> None:
    """Two clients, 100 interleaved read-modify-write rounds through ONE region: with one clock
    per region (no dots) every write would look like it followed the previous one (lost update)
    or siblings would pile up; with dots there are never more than 2 and none is lost."""
    obj = mr.Object()
    items: set[str] = set()
    for rnd in range(100):
        read_a = obj  # client A reads
        read_b = obj  # client B reads, before A writes
        for name, read in (("A", read_a), ("B", read_b)):
            mine = f"{name}{rnd}"
            items.add(mine)
            union = {x for v in read.values for x in v.decode().split(",") if x} | {mine}
            obj = obj.update("us#1", read.context, ",".join(sorted(union)).encode(), rnd)[0]
            assert len(obj.values) <= 2
    final = {x for v in obj.values for x in v.decode().split(",")}
    assert final == items


def test_corrupt_objects_rejected() -> None:
    o = mr.Object().update("us#1", EMPTY, b"x", 1)[0]
    raw = o.to_bytes()
    for cut in range(len(raw)):
        with pytest.raises(CorruptFileError):
            mr.Object.from_bytes(raw[:cut])
    with pytest.raises(CorruptFileError):
        mr.Object.from_bytes(raw + b"\x00")
