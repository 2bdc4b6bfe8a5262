"""Deduplicator against a Python dict model: windows, lateness, splits, checkpoints, approx FPR."""

from __future__ import annotations

import itertools
from datetime import timedelta

import minide.stream as ms
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from minide._convert import to_nanos
from minide.errors import CorruptFileError, InvalidArgumentError, SchemaError

WINDOW, LATENESS = 10, 3  # milliseconds (int64 time column)


def model(rows: list[tuple], window: int = WINDOW, lateness: int = LATENESS):
    """The documented rule, row by row: (emitted indices, late indices)."""
    max_seen = None
    first: dict = {}
    keep, late = [], []
    for i, (key, t) in enumerate(rows):
        if t is None or (max_seen is not None and t < max_seen - lateness):
            late.append(i)
            continue
        max_seen = t if max_seen is None else max(max_seen, t)
        s = first.get(key)
        if s is not None and t < s + window:
            continue
        first[key] = t
        keep.append(i)
    return keep, late


def make_batch(rows, offset: int, key_kind: str) -> pa.RecordBatch:
    keys = [k for k, _ in rows]
    cols: dict = {"t": pa.array([t for _, t in rows], pa.int64())}
    if key_kind == "int":
        cols["k"] = pa.array(keys, pa.int64())
    elif key_kind == "str":
        cols["k"] = pa.array([None if k is None else f"user-{k:05d}" for k in keys], pa.string())
    else:  # two columns
        cols["k"] = pa.array([None if k is None else k % 3 for k in keys], pa.int32())
        cols["k2"] = pa.array([None if k is None else str(k // 3) for k in keys], pa.large_string())
    cols["row"] = pa.array(range(offset, offset + len(rows)), pa.int64())
    return pa.record_batch(cols)


def run(dd: ms.Deduplicator, rows, cuts, key_kind: str):
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    kept, late = [], []
    for a, b in itertools.pairwise(bounds):
        out = dd.process(make_batch(rows[a:b], a, key_kind))
        kept += out.column("row").to_pylist()
        late += dd.late().column("row").to_pylist()
    return kept, late


def key_spec(kind: str):
    return ["k", "k2"] if kind == "multi" else "k"


def model_key(kind: str, k):
    return k if kind != "multi" or k is None else (k % 3, k // 3)


rows_st = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 30)) | st.integers(0, 30),
        st.integers(-4, 8),
    ),
    min_size=1,
    max_size=250,
).map(lambda steps: _times(steps))


def _times(steps):
    t, out = 1_000, []
    for k, s in steps:
        t += s
        out.append((k, t))
    return out


@given(
    rows=rows_st,
    cuts=st.lists(st.integers(0, 300), max_size=6),
    kind=st.sampled_from(["int", "str", "multi"]),
)
def test_exact_matches_dict_model_over_any_split(rows, cuts, kind):
    dd = ms.Deduplicator(
        key_spec(kind),
        time_column="t",
        window=timedelta(milliseconds=WINDOW),
        allowed_lateness="3ms",
    )
    want = model([(model_key(kind, k), t) for k, t in rows])
    assert run(dd, rows, cuts, kind) == want
    s = dd.stats()
    assert s["rows_in"] == len(rows)
    assert s["rows_out"] == len(want[0]) and s["late"] == len(want[1])
    assert s["duplicates"] == len(rows) - len(want[0]) - len(want[1])


@given(rows=rows_st, cuts=st.lists(st.integers(0, 300), max_size=4))
def test_split_equals_one_batch(rows, cuts):
    one = run(
        ms.Deduplicator("k", time_column="t", window="10ms", allowed_lateness="3ms"),
        rows,
        [],
        "str",
    )
    many = run(
        ms.Deduplicator("k", time_column="t", window="10ms", allowed_lateness="3ms"),
        rows,
        cuts,
        "str",
    )
    assert one == many


@given(
    rows=rows_st,
    at=st.integers(0, 250),
    mode=st.sampled_from(["exact", "approx"]),
    kind=st.sampled_from(["int", "str"]),
)
def test_restore_behaves_exactly_like_the_original(rows, at, mode, kind):
    at = at % (len(rows) + 1)
    a = ms.Deduplicator("k", time_column="t", window="10ms", allowed_lateness="3ms", mode=mode)
    run(a, rows[:at], [], kind)
    b = ms.Deduplicator.restore(a.checkpoint())
    assert b.watermark == a.watermark
    assert b.checkpoint() == a.checkpoint()
    rest = [(k, t) for k, t in rows[at:]]
    assert run(a, rest, [], kind) == run(b, rest, [], kind)
    sa, sb = a.stats(), b.stats()
    for f in ("rows_in", "rows_out", "duplicates", "late", "live_keys"):
        assert sa[f] == sb[f]


def test_watermark_late_side_output_and_timestamp_units():
    ts = pa.array([0, 3_600, 1_800, 600, 3_601], pa.timestamp("s", tz="UTC"))
    b = pa.record_batch({"event_id": ["a", "b", "a", "c", "a"], "event_time": ts})
    dd = ms.Deduplicator(window="1h", allowed_lateness="30m")
    out = dd.process(b)
    # a@0 emitted; b@3600 → watermark 1800; a@1800 duplicate (< 0+1h); c@600 late; a@3601 re-emitted.
    assert out.column("event_id").to_pylist() == ["a", "b", "a"]
    assert out.column("event_time").cast(pa.int64()).to_pylist() == [0, 3_600, 3_601]
    assert dd.late().column("event_id").to_pylist() == ["c"]
    assert dd.late().num_rows == 0  # late() clears the side output
    assert dd.watermark == 3_601 - 1_800


def test_null_times_are_late_and_null_keys_are_a_key():
    b = pa.record_batch(
        {"k": pa.array([None, 1, None, 2], pa.int64()), "t": pa.array([5, None, 6, 7], pa.int64())}
    )
    dd = ms.Deduplicator("k", time_column="t")
    assert dd.process(b).column("k").to_pylist() == [None, 2]
    assert dd.late().column("k").to_pylist() == [1]


def test_polars_input_and_tables():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"event_id": [1, 1, 2], "event_time": [1, 2, 3]})
    dd = ms.Deduplicator()
    assert dd.process(df.to_arrow()).column("event_id").to_pylist() == [1, 2]


def test_errors_name_what_is_wrong():
    with pytest.raises(InvalidArgumentError, match="window"):
        ms.Deduplicator(window="soon")
    with pytest.raises(InvalidArgumentError, match="mode"):
        ms.Deduplicator(mode="fuzzy")
    with pytest.raises(InvalidArgumentError, match="false_positive_rate"):
        ms.Deduplicator(mode="approx", false_positive_rate=0)
    dd = ms.Deduplicator()
    with pytest.raises(SchemaError, match="event_time"):
        dd.process(pa.record_batch({"event_id": [1]}))
    with pytest.raises(SchemaError, match="time column"):
        dd.process(pa.record_batch({"event_id": [1], "event_time": ["x"]}))
    dd.process(pa.record_batch({"event_id": [1], "event_time": [1]}))
    with pytest.raises(SchemaError, match="changed"):
        dd.process(pa.record_batch({"event_id": ["x"], "event_time": [1]}))
    state = bytearray(dd.checkpoint())
    state[len(state) // 2] ^= 0xFF
    with pytest.raises(CorruptFileError, match="checksum"):
        ms.Deduplicator.restore(bytes(state))
    with pytest.raises(CorruptFileError):
        ms.Deduplicator.restore(dd.checkpoint()[:-3])


def test_durations():
    assert to_nanos("1h") == 3_600 * 10**9
    assert to_nanos("5m") == 300 * 10**9
    assert to_nanos("200ms") == 200 * 10**6
    assert to_nanos("1h30m") == 5_400 * 10**9
    assert to_nanos(timedelta(seconds=2)) == 2 * 10**9


@settings(max_examples=1, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_approx_never_emits_a_duplicate_and_respects_the_fpr(seed):
    """200k distinct keys, each repeated once within the window: count wrongly dropped firsts."""
    fpr = 0.001
    rng = np.random.default_rng(seed)
    n = 200_000
    ids = rng.choice(2**62, size=n, replace=False).astype(np.int64)
    t = np.sort(rng.integers(0, 4 * 3_600_000, n))
    dup_t = t + rng.integers(0, 600_000, n)
    all_ids = np.concatenate([ids, ids])
    all_t = np.concatenate([t, dup_t])
    order = np.argsort(all_t, kind="stable")
    table = pa.table({"event_id": all_ids[order], "event_time": all_t[order]})
    dd = ms.Deduplicator(mode="approx", false_positive_rate=fpr)
    out = pa.Table.from_batches([dd.process(b) for b in table.to_batches(max_chunksize=50_000)])
    emitted = out.column("event_id").to_numpy()
    assert len(np.unique(emitted)) == len(emitted), "approx mode emitted a duplicate"
    dropped_firsts = n - len(emitted)
    # Binomial(n, p): allow 4 standard deviations above the bound.
    assert dropped_firsts <= n * fpr + 4 * np.sqrt(n * fpr), dropped_firsts
    assert dd.late().num_rows == 0


class DedupMachine(RuleBasedStateMachine):
    """Batches, checkpoint/restore swaps and late() drains against the dict model, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.dd = ms.Deduplicator("k", time_column="t", window="10ms", allowed_lateness="3ms")
        self.rows: list[tuple] = []
        self.kept: list[int] = []
        self.late_seen: list[int] = []
        self.t = 1_000
        self.kind = "int"

    @initialize(kind=st.sampled_from(["int", "str"]))
    def key_kind(self, kind):
        self.kind = kind

    @rule(steps=st.lists(st.tuples(st.integers(0, 20), st.integers(-5, 8)), max_size=40))
    def process(self, steps):
        batch_rows = []
        for k, dt in steps:
            self.t += dt
            batch_rows.append((k, self.t))
        out = self.dd.process(make_batch(batch_rows, len(self.rows), self.kind))
        self.rows += batch_rows
        self.kept += out.column("row").to_pylist()

    @rule()
    def checkpoint_and_restore(self):
        self.dd = ms.Deduplicator.restore(self.dd.checkpoint())

    @rule()
    def drain_late(self):
        late = self.dd.late()
        if late.num_rows:
            self.late_seen += late.column("row").to_pylist()

    @invariant()
    def matches_model(self):
        keep, late = model(self.rows)
        assert self.kept == keep
        assert set(self.late_seen) <= set(late)
        s = self.dd.stats()
        assert (s["rows_in"], s["rows_out"], s["late"]) == (len(self.rows), len(keep), len(late))


TestDedupMachine = DedupMachine.TestCase
TestDedupMachine.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)


@pytest.mark.parametrize("kind", ["int", "str"])
def test_describe_reports_the_exact_store_layout(kind):
    """describe() agrees with stats() and with what the rows imply, before and after expiry."""
    n = 50_000
    ids = np.arange(n, dtype=np.int64)
    keys = pa.array([f"key-{i:08d}" for i in ids]) if kind == "str" else pa.array(ids)
    t0 = 1_700_000_000_000
    batch = pa.table({"event_id": keys, "event_time": pa.array(t0 + ids, pa.timestamp("ms"))})
    dd = ms.Deduplicator("event_id", window="1m", allowed_lateness="0s")
    assert dd.describe() == {"mode": "exact", "stats": dd.stats()}
    dd.process(batch)
    d = dd.describe()
    total = d["total"]
    assert total["live"] == d["stats"]["live_keys"] == n
    assert total["heap_bytes"] == d["stats"]["state_bytes"]
    assert len(d["shards"]) == 16 and all(s["live"] > 0 for s in d["shards"])
    assert d["entry_bytes"] == (20 if kind == "str" else 12)
    assert d["stamp"].startswith("u32")
    assert 0.3 < total["load"] <= 0.85
    # Two minutes later every key has expired: the shards hold no live key and no entries.
    later = pa.table(
        {"event_id": keys[:1], "event_time": pa.array([t0 + 180_000], pa.timestamp("ms"))}
    )
    dd.process(later)
    d = dd.describe()
    assert d["total"]["live"] == 1 and d["total"]["entries"] == 1
    assert d["total"]["heap_bytes"] < total["heap_bytes"] / 10
    a = ms.Deduplicator("event_id", mode="approx")
    a.process(batch)
    assert a.describe()["mode"] == "approx" and "shards" not in a.describe()
