"""CRDT merge laws and convergence under any delivery order, with Python models."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import reduce
from typing import Any

import minide.replication as mr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import CorruptFileError

N = 3
op_lists = st.lists(
    st.tuples(st.integers(0, N - 1), st.integers(0, 3), st.integers(0, N - 1), st.booleans()),
    max_size=25,
)


def play(make: Callable[[], Any], apply: Callable[[Any, int, int, int], None], ops) -> list[Any]:
    """Three replicas; each op updates replica i, then (flag) merges replica j into it."""
    reps = [make() for _ in range(N)]
    for n, (i, x, j, merge) in enumerate(ops):
        apply(reps[i], i, x, n)
        if merge:
            reps[i] = reps[i].merge(reps[j])
    return reps


def g_apply(c: mr.GCounter, i: int, x: int, n: int) -> None:
    c.increment(f"r{i}", x)


def pn_apply(c: mr.PNCounter, i: int, x: int, n: int) -> None:
    c.increment(f"r{i}", x - 2)


def or_apply(s: mr.ORSet, i: int, x: int, n: int) -> None:
    if x == 0:
        s.remove(f"e{n % 3}")
    else:
        s.add(f"r{i}", f"e{x % 3}")


def lww_apply(r: mr.LWWRegister, i: int, x: int, n: int) -> None:
    r.set(f"v{n}".encode(), x, f"r{i}")  # timestamps collide on purpose: tie-break by actor


KINDS = {
    "gcounter": (mr.GCounter, g_apply),
    "pncounter": (mr.PNCounter, pn_apply),
    "orset": (mr.ORSet, or_apply),
    "lww": (mr.LWWRegister, lww_apply),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=60)
@given(ops=op_lists)
def test_merge_laws(kind: str, ops) -> None:
    make, apply = KINDS[kind]
    a, b, c = play(make, apply, ops)
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert type(a).from_bytes(a.to_bytes()) == a


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=40)
@given(ops=op_lists)
def test_converge_in_any_delivery_order(kind: str, ops) -> None:
    make, apply = KINDS[kind]
    states = play(make, apply, ops)
    # every replica receives the others' states in some order, some of them twice
    results = {
        reduce(lambda acc, s: acc.merge(s), order, make()).to_bytes()
        for order in itertools.permutations(states + states[:1])
    }
    assert len(results) == 1


@given(st.lists(st.tuples(st.integers(0, N - 1), st.integers(-5, 5))))
def test_counters_count(incs: list[tuple[int, int]]) -> None:
    reps = [mr.PNCounter() for _ in range(N)]
    g = [mr.GCounter() for _ in range(N)]
    for i, d in incs:
        reps[i].increment(f"r{i}", d)
        g[i].increment(f"r{i}", abs(d))
    total = reduce(lambda a, b: a.merge(b), reps)
    assert total.value == sum(d for _, d in incs)
    assert reduce(lambda a, b: a.merge(b), g).value == sum(abs(d) for _, d in incs)


def test_orset_add_wins() -> None:
    a = mr.ORSet()
    a.add("us", "x")
    b = mr.ORSet.from_bytes(a.to_bytes())
    b.remove("x")  # eu removes the x it saw ...
    a.add("us", "x")  # ... while us adds x again: concurrent
    assert "x" in a.merge(b) and "x" in b.merge(a)
    c = a.copy()
    c.remove("x")  # a remove that saw every add wins
    assert "x" not in a.merge(c)
    assert a.merge(c).elements() == []


def test_lww_tie_break_is_deterministic() -> None:
    a, b = mr.LWWRegister(), mr.LWWRegister()
    a.set(b"from-us", 7, "us")
    b.set(b"from-eu", 7, "eu")
    assert a.merge(b).value == b.merge(a).value == b"from-us"  # same ts: larger actor wins
    b.set(b"later", 8, "eu")
    assert a.merge(b).value == b"later"
    assert mr.LWWRegister().value is None


def test_crdt_bytes_are_typed() -> None:
    with pytest.raises(CorruptFileError, match="ORSet"):
        mr.ORSet.from_bytes(mr.GCounter().to_bytes())
    with pytest.raises(CorruptFileError):
        mr.PNCounter.from_bytes(b"")
