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


def test_bytes_format_is_fixed() -> None:
    # Stored and sent between replicas: tag, entry count, then (name, count) in name order.
    vc = mr.VectorClock({"b": 1, "é" * 20: 300, "a": 2})
    long = "é".encode() * 20
    assert vc.to_bytes() == b"\xc1\x03\x01a\x02\x01b\x01(" + long + b"\xac\x02"


def test_dict_order_and_zero_counts_do_not_matter() -> None:
    a = mr.VectorClock({"z": 1, "a": 2, "m": 0, "é": 3})
    b = mr.VectorClock({"é": 3, "a": 2, "z": 1})
    assert a == b and hash(a) == hash(b) and a.to_bytes() == b.to_bytes()
    assert list(a.to_dict().items()) == [("a", 2), ("z", 1), ("é", 3)]
    assert len(a) == 3 and a.get("m") == 0 and a.compare(b) == "equal"


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ([("a", 1)], TypeError),
        ({1: 2}, TypeError),
        ({"a": 1.5}, TypeError),
        ({"a": -1}, OverflowError),
        ({"a": 2**64}, OverflowError),
        ({"\ud800": 1}, UnicodeEncodeError),
    ],
)
def test_bad_entries_rejected(entries: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        mr.VectorClock(entries)  # type: ignore[arg-type]
