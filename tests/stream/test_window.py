"""Window step against a Python model: tumbling, sliding, session; lateness; checkpoints."""

from __future__ import annotations

import itertools

import minide.stream as ms
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

LATENESS = 3


def model(rows, kind, size=10, slide=5, gap=4):
    """All windows of the non-late rows: {(key, start, end): (count, sum)}."""
    max_seen = None
    kept = []
    for k, t, v in rows:
        if max_seen is not None and t < max_seen - LATENESS:
            continue
        max_seen = t if max_seen is None else max(max_seen, t)
        kept.append((k, t, v))
    out: dict = {}
    if kind in ("tumbling", "sliding"):
        step = size if kind == "tumbling" else slide
        for k, t, v in kept:
            s = t - t % step
            while s > t - size:
                c, tot = out.get((k, s, s + size), (0, 0))
                out[(k, s, s + size)] = (c + 1, tot + v)
                s -= step
        return out
    for k, group in itertools.groupby(sorted(kept), key=lambda r: r[0]):
        pts = sorted((t, v) for _, t, v in group)
        start, last, c, tot = pts[0][0], pts[0][0], 0, 0
        for t, v in pts:
            if t >= last + gap:
                out[(k, start, last + gap)] = (c, tot)
                start, c, tot = t, 0, 0
            last = max(last, t)
            c, tot = c + 1, tot + v
        out[(k, start, last + gap)] = (c, tot)
    return out


def make_step(kind):
    return ms.window(
        kind,
        size="10ms",
        slide="5ms",
        gap="4ms",
        key="k",
        time_column="t",
        allowed_lateness=f"{LATENESS}ms",
        aggs={"n": (None, "count"), "total": ("v", "sum")},
    )


def collect(batches, into):
    for b in batches:
        for r in b.to_pylist():
            key = (r["k"], r["window_start"], r["window_end"])
            assert key not in into, f"window {key} emitted twice"
            into[key] = (r["n"], r["total"])


rows_st = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-4, 7), st.integers(-5, 5)), min_size=1, max_size=150
).map(
    lambda xs: [(k, 100 + sum(d for _, d, _ in xs[: i + 1]), v) for i, (k, _, v) in enumerate(xs)]
)


@settings(max_examples=60, deadline=None)
@given(
    rows=rows_st, kind=st.sampled_from(["tumbling", "sliding", "session"]), cut=st.integers(0, 150)
)
def test_windows_match_the_model_and_survive_checkpoints(rows, kind, cut):
    cut = cut % (len(rows) + 1)
    step = make_step(kind)
    got: dict = {}

    def batch(rs):
        return pa.record_batch(
            {
                "k": pa.array([k for k, _, _ in rs], pa.int64()),
                "t": pa.array([t for _, t, _ in rs], pa.int64()),
                "v": pa.array([v for _, _, v in rs], pa.int64()),
            }
        )

    for i, r in enumerate(rows[:cut]):
        out = step.process(batch([r]))
        wm = max(t for _, t, _ in rows[: i + 1]) - LATENESS
        assert all(e <= wm for e in out.column("window_end").to_pylist()), "emitted an open window"
        collect([out], got)
    restored = make_step(kind)
    restored.restore(step.checkpoint())
    if rows[cut:]:
        collect([restored.process(batch(rows[cut:]))], got)
    collect([restored.flush()], got)
    assert got == model(rows, kind)
