"""Vector clock and dotted-version-vector algebra, against a pure-Python model."""

from __future__ import annotations

import minide.replication as mr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minide.errors import CorruptFileError

ACTORS = ["a", "b", "c", "d"]
entries = st.dictionaries(st.sampled_from(ACTORS), st.integers(0, 4))
clocks = entries.map(mr.VectorClock)


def model_compare(x: dict[str, int], y: dict[str, int]) -> str:
    ge = all(x.get(a, 0) >= n for a, n in y.items())
    le = all(y.get(a, 0) >= n for a, n in x.items())
    return {(True, True): "equal", (True, False): "after", (False, True): "before"}.get(
        (ge, le), "concurrent"
    )


def test_issue_example() -> None:
    vc = mr.VectorClock({"a": 2, "b": 1})
    assert vc.compare(mr.VectorClock({"a": 1, "b": 1})) == "after"
    assert vc.compare(mr.VectorClock({"a": 2, "b": 2})) == "before"
    assert vc.compare(mr.VectorClock({"a": 2, "b": 1})) == "equal"
    assert vc.compare(mr.VectorClock({"a": 1, "b": 3})) == "concurrent"
    assert vc.merge(mr.VectorClock({"c": 5})).to_dict() == {"a": 2, "b": 1, "c": 5}
    assert vc.increment("a").to_dict() == {"a": 3, "b": 1}
    assert vc.to_dict() == {"a": 2, "b": 1}, "clocks are immutable values"
    assert vc.descends(mr.VectorClock({"a": 1}))
    assert not vc.descends(mr.VectorClock({"c": 1}))


@given(entries, entries)
def test_compare_matches_model(x: dict[str, int], y: dict[str, int]) -> None:
    assert mr.VectorClock(x).compare(mr.VectorClock(y)) == model_compare(x, y)
    merged = {a: max(x.get(a, 0), y.get(a, 0)) for a in set(x) | set(y)}
    assert mr.VectorClock(x).merge(mr.VectorClock(y)) == mr.VectorClock(merged)


@given(clocks, clocks, clocks)
def test_merge_is_a_join(a: mr.VectorClock, b: mr.VectorClock, c: mr.VectorClock) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(b).descends(a) and a.merge(b).descends(b)
    # least upper bound: anything above both is above the merge
    if c.descends(a) and c.descends(b):
        assert c.descends(a.merge(b))


@given(clocks, clocks, clocks)
def test_descends_is_a_partial_order(a: mr.VectorClock, b: mr.VectorClock, c: mr.VectorClock):
    assert a.descends(a)
    if a.descends(b) and b.descends(a):
        assert a == b and hash(a) == hash(b)
    if a.descends(b) and b.descends(c):
        assert a.descends(c)
    flipped = {"before": "after", "after": "before"}
    assert b.compare(a) == flipped.get(a.compare(b), a.compare(b))


@given(clocks, st.sampled_from(ACTORS))
def test_increment_strictly_after(a: mr.VectorClock, actor: str) -> None:
    b = a.increment(actor)
    assert b.compare(a) == "after"
    assert b.get(actor) == a.get(actor) + 1
    assert b.covers(actor, b.get(actor)) and not a.covers(actor, b.get(actor))


@given(clocks)
def test_bytes_roundtrip(a: mr.VectorClock) -> None:
    assert mr.VectorClock.from_bytes(a.to_bytes()) == a


@given(st.binary(max_size=30))
def test_garbage_bytes_raise_corrupt(b: bytes) -> None:
    try:
        vc = mr.VectorClock.from_bytes(b)
    except CorruptFileError:
        return
    assert mr.VectorClock.from_bytes(vc.to_bytes()) == vc


def test_wrong_type_bytes_named() -> None:
    with pytest.raises(CorruptFileError, match="not an encoded vector clock"):
        mr.VectorClock.from_bytes(mr.GCounter().to_bytes())
