"""count_by's Rust kernel against collections.Counter, across batches and checkpoints."""

from __future__ import annotations

from collections import Counter

import minide.stream as ms
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

keys_of = {
    pa.string(): st.one_of(st.none(), st.text(max_size=4)),
    pa.int32(): st.one_of(st.none(), st.integers(-5, 5)),
    pa.int64(): st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    pa.binary(): st.one_of(st.none(), st.binary(max_size=3)),
    pa.float64(): st.one_of(st.none(), st.sampled_from([0.5, 1.5, -2.0])),  # pyarrow fallback
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_counts_match_a_counter_across_batches_and_restores(data):
    t = data.draw(st.sampled_from(list(keys_of)))
    step = ms.count_by("k")
    want: Counter = Counter()
    for _ in range(data.draw(st.integers(1, 4))):
        values = data.draw(st.lists(keys_of[t], max_size=30))
        batch = pa.record_batch({"k": pa.array(values, t)})
        assert step.process(batch) is batch
        want.update(values)
        if data.draw(st.booleans()):
            restored = ms.count_by("k")
            restored.restore(step.checkpoint())
            step = restored
        assert step.counts == dict(want)
