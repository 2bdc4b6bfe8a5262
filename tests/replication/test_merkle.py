"""Merkle trees: the diff finds exactly the segments whose keys differ (dict model)."""

from __future__ import annotations

import minide.replication as mr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minide.errors import InvalidArgumentError

stores = st.dictionaries(st.binary(min_size=1, max_size=6), st.integers(0, 3), max_size=200)


def tree(d: dict[bytes, int], depth: int = 2) -> mr.MerkleTree:
    t = mr.MerkleTree(depth)
    for k, v in d.items():
        t.insert(k, v)
    return t


@given(stores, stores)
def test_diff_is_exactly_the_differing_segments(a: dict[bytes, int], b: dict[bytes, int]) -> None:
    ta, tb = tree(a), tree(b)
    want = sorted({ta.segment_of(k) for k in set(a) | set(b) if a.get(k) != b.get(k)})
    # XOR leaves: a 64-bit collision would hide a difference; none in practice
    assert ta.diff(tb) == want
    assert (ta.root() == tb.root()) == (want == [])
    entries = dict(ta.segment_entries(want))
    assert entries == {k: v for k, v in a.items() if ta.segment_of(k) in want}


@given(stores, stores)
def test_level_by_level_exchange_matches_diff(a: dict[bytes, int], b: dict[bytes, int]) -> None:
    """The exchange the replicas run over messages ends with the same segments as diff()."""
    ta, tb = tree(a, 3), tree(b, 3)
    nodes = [0]
    level = 0
    sender, receiver = ta, tb
    while True:
        theirs = list(zip(nodes, sender.node_hashes(level, nodes), strict=True))
        nodes = receiver.differing_nodes(level, theirs)
        if not nodes or level == receiver.depth:
            break
        kids = receiver.children(level, nodes)
        nodes = [i for i, _ in kids]
        level += 1
        sender, receiver = receiver, sender
    assert sorted(nodes) == ta.diff(tb)


def test_updates_and_removes_restore_hashes() -> None:
    keys = {f"k{i}".encode(): i for i in range(1000)}
    a, b = tree(keys, 3), tree(keys, 3)
    b.insert(b"k5", 99)
    b.insert(b"extra", 1)
    assert len(a.diff(b)) in (1, 2) and len(b) == 1001
    b.insert(b"k5", 5)
    assert b.remove(b"extra") and not b.remove(b"extra")
    assert a.root() == b.root() and a.diff(b) == []
    lo, hi = a.segment_range(3)
    assert lo < hi and a.segment_count == 16**3


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="depth"):
        mr.MerkleTree(9)
    with pytest.raises(InvalidArgumentError, match="depth"):
        mr.MerkleTree(2).diff(mr.MerkleTree(3))
    with pytest.raises(InvalidArgumentError, match="level"):
        mr.MerkleTree(2).node_hashes(3, [0])
