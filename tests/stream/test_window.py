"""Window step against a pure-Python model: tumbling, sliding, session; lateness; batch splits;
checkpoints; keys of every kind; nulls; the pipeline's checkpoint."""

from __future__ import annotations

import math
import os
from datetime import timedelta

import minide.stream as ms
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide.errors import CorruptFileError, InvalidArgumentError, SchemaError

AGGS = {
    "n": (None, "count"),
    "nv": ("v", "count"),
    "total": ("v", "sum"),
    "lo": ("v", "min"),
    "hi": ("v", "max"),
    "avg": ("v", "mean"),
    "xmax": ("x", "max"),
    "xavg": ("x", "mean"),
}


# -- the model: the documented rules, row by row, with dicts --------------------------------------
def _fold(acc: dict | None, v: int | None, x: float | None) -> dict:
    acc = acc or {"n": 0, "vs": [], "xs": []}
    acc["n"] += 1
    if v is not None:
        acc["vs"].append(v)
    if x is not None:
        acc["xs"].append(x)
    return acc


def _merge(a: dict, b: dict) -> dict:
    return {"n": a["n"] + b["n"], "vs": a["vs"] + b["vs"], "xs": a["xs"] + b["xs"]}


def _result(acc: dict) -> tuple:
    vs, xs = acc["vs"], acc["xs"]
    return (
        acc["n"],
        len(vs),
        sum(vs) if vs else None,
        min(vs) if vs else None,
        max(vs) if vs else None,
        sum(vs) / len(vs) if vs else None,
        max(xs) if xs else None,
        sum(xs) / len(xs) if xs else None,
    )


def model(rows, kind, size, slide, gap, lateness):
    """rows: (key tuple, t | None, v | None, x | None) → ({(key, start, end): result}, late)."""
    max_seen = None
    late = 0
    open_: dict = {}  # (key, start) -> [end, acc]
    for k, t, v, x in rows:
        if t is None or (max_seen is not None and t < max_seen - lateness):
            late += 1
            continue
        max_seen = t if max_seen is None else max(max_seen, t)
        if kind in ("tumbling", "sliding"):
            step = size if kind == "tumbling" else slide
            s = t - t % step  # Python's % floors: negative times work
            while s > t - size:
                cur = open_.get((k, s), [s + size, None])
                cur[1] = _fold(cur[1], v, x)
                open_[(k, s)] = cur
                s -= step
            continue
        start, end, acc = t, t + gap, _fold(None, v, x)
        for ks, s in list(open_):
            e = open_[(ks, s)][0]
            if ks == k and s < t + gap and t < e:
                acc = _merge(acc, open_.pop((ks, s))[1])
                start, end = min(start, s), max(end, e)
        open_[(k, start)] = [end, acc]
    out = {(k, s, e): _result(acc) for (k, s), (e, acc) in open_.items()}
    return out, late


# -- running the step ------------------------------------------------------------------------------
KEYS = {
    "int": (["k"], st.one_of(st.none(), st.integers(-2, 3)).map(lambda a: (a,))),
    "string": (
        ["k"],
        st.one_of(st.none(), st.sampled_from(["a", "bb", "", "ü"])).map(lambda a: (a,)),
    ),
    "two": (
        ["k", "k2"],
        st.tuples(st.sampled_from(["a", "b", None]), st.one_of(st.none(), st.integers(0, 2))),
    ),
    "none": ([], st.just(())),
}


def to_batch(names, rows, key_kind):
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(names):
        vals = [k[j] for k, _, _, _ in rows]
        typ = pa.string() if key_kind == "string" or (key_kind == "two" and j == 0) else pa.int64()
        cols[name] = pa.array(vals, typ)
    cols["t"] = pa.array([t for _, t, _, _ in rows], pa.int64())
    cols["v"] = pa.array([v for _, _, v, _ in rows], pa.int64())
    cols["x"] = pa.array([x for _, _, _, x in rows], pa.float64())
    return pa.record_batch(cols)


def collect(batch, names, into):
    for r in batch.to_pylist():
        key = (tuple(r[n] for n in names), r["window_start"], r["window_end"])
        assert key not in into, f"window {key} emitted twice"
        into[key] = tuple(r[a] for a in AGGS)


def same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for k, w in want.items():
        g = got[k]
        assert g[:5] == w[:5], (k, g, w)  # integer aggregates: exact
        for a, b in zip(g[5:], w[5:], strict=True):
            assert (a is None) == (b is None), (k, g, w)
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), (k, g, w)


def make_step(kind, names, lateness, threads=1, size=10, slide=5, gap=4):
    return ms.window(
        kind,
        size=f"{size}ms",
        slide=f"{slide}ms",
        gap=f"{gap}ms",
        key=names,
        time_column="t",
        allowed_lateness=f"{lateness}ms",
        aggs=AGGS,
        threads=threads,
    )


@st.composite
def streams(draw):
    key_kind = draw(st.sampled_from(sorted(KEYS)))
    names, key_st = KEYS[key_kind]
    n = draw(st.integers(1, 120))
    t, rows = 0, []
    for _ in range(n):
        t += draw(st.integers(-6, 8))  # out of order: steps back up to 6 ms
        rows.append(
            (
                draw(key_st),
                None if draw(st.integers(0, 30)) == 0 else t,
                draw(st.one_of(st.none(), st.integers(-5, 5))),
                draw(st.one_of(st.none(), st.floats(-4, 4, allow_nan=False))),
            )
        )
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return key_kind, names, rows, cuts


@settings(max_examples=150, deadline=None)
@given(
    stream=streams(),
    kind=st.sampled_from(["tumbling", "sliding", "session"]),
    lateness=st.integers(0, 5),
    ckpt=st.one_of(st.none(), st.integers(0, 5)),
    threads=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_windows_match_the_model_for_any_split_and_checkpoint(
    stream, kind, lateness, ckpt, threads
):
    key_kind, names, rows, cuts = stream
    step = make_step(kind, names, lateness, threads[0])
    got: dict = {}
    bounds = [*cuts, len(rows)]
    prev, max_seen = 0, None
    for i, b in enumerate(bounds):
        part = rows[prev:b]
        out = step.process(to_batch(names, part, key_kind))
        for _, t, _, _ in part:
            if t is not None and (max_seen is None or t >= max_seen - lateness):
                max_seen = t if max_seen is None else max(max_seen, t)
        for e in out.column("window_end").to_pylist():
            assert max_seen is not None and e <= max_seen - lateness, "emitted an open window"
        collect(out, names, got)
        prev = b
        if ckpt == i:
            restored = make_step(kind, names, lateness, threads[1])
            restored.restore(step.checkpoint())
            step = restored
    collect(step.flush(), names, got)
    want, late = model(rows, kind, 10, 5, 4, lateness)
    same(got, {(k, s, e): r for (k, s, e), r in want.items()})
    assert step.late_rows == late
    assert step.stats()["open_windows"] == 0


def test_timestamps_keep_their_type_and_the_output_schema():
    ts = pa.timestamp("ms", tz="UTC")
    batch = pa.record_batch(
        {
            "user": pa.array(["a", "b", "a"], pa.large_string()),
            "event_time": pa.array([0, 60_000, 61_000], ts),
            "amount": pa.array([1, 2, 3], pa.int32()),
        }
    )
    step = ms.window(
        "tumbling", size=timedelta(minutes=1), key="user", aggs={"s": ("amount", "sum")}
    )
    first = step.process(batch)  # the watermark (61 s) closed [0 s, 60 s)
    out = step.flush()
    for b in (first, out):
        assert b.schema.field("window_start").type == ts
        assert b.schema.field("user").type == pa.large_string()
        assert b.schema.field("s").type == pa.int64()
    assert [(r["user"], r["s"]) for r in first.to_pylist()] == [("a", 1)]
    assert sorted((r["user"], r["s"]) for r in out.to_pylist()) == [("a", 3), ("b", 2)]
    assert {r["window_start"].timestamp() for r in out.to_pylist()} == {60.0}


def test_errors_are_clear():
    with pytest.raises(InvalidArgumentError):
        ms.window("rolling", size="1s")
    with pytest.raises(InvalidArgumentError):
        ms.window("sliding", size="10s", slide="3s")
    with pytest.raises(InvalidArgumentError):
        ms.window("tumbling", size="1s", aggs={"window_start": (None, "count")})
    step = ms.window("tumbling", size="1s", key="k", time_column="t")
    with pytest.raises(SchemaError, match="not in the batch"):
        step.process(pa.record_batch({"k": [1]}))
    with pytest.raises(SchemaError):
        step.process(pa.record_batch({"k": [1], "t": pa.array(["x"])}))
    with pytest.raises(CorruptFileError, match="msgpack"):
        step.restore(b"\x84\xa4unit")
    other = ms.window("tumbling", size="2s", key="k", time_column="t")
    with pytest.raises(InvalidArgumentError, match="another configuration"):
        step.restore(other.checkpoint())
    bad = bytearray(step.checkpoint())
    bad[-1] ^= 1
    with pytest.raises(CorruptFileError):
        step.restore(bytes(bad))


def test_flush_before_any_batch_and_describe():
    step = ms.window("session", gap="5ms", key="k", time_column="t", allowed_lateness="5ms")
    assert step.flush().num_rows == 0
    assert step.threads == (os.cpu_count() or 1)
    step.process(pa.record_batch({"k": [1, 2, 1, 3], "t": [0, 1, 20, 18]}))
    d = step.describe()  # [0,5) and [1,6) closed at watermark 15; [20,25) and [18,23) open
    assert d["kind"] == "session" and d["watermark"] == 15
    assert d["stats"]["open_windows"] == 2 and d["stats"]["keys"] == 2
    assert d["stats"]["windows_emitted"] == 2
    assert sum(s["open_windows"] for s in d["shards"]) == 2
    assert d["stats"]["state_bytes"] > 0


def test_in_a_pipeline_the_state_survives_a_restart(tmp_path):
    log = ms.Log(tmp_path / "in", partitions=1, sync="none")
    n = 2_000
    log.append(
        pa.table(
            {
                "user": [f"u{i % 7}" for i in range(n)],
                "event_time": [i * 10 + (i % 5) for i in range(n)],
                "v": list(range(n)),
            }
        )
    )

    def run(out, ck, group, max_records=None):
        step = ms.window("tumbling", size="1s", key="user", aggs={"s": ("v", "sum")})
        p = ms.Pipeline(
            ms.LogSource(log, group),
            [step],
            ms.LogSink(out),
            checkpoint_dir=ck,
            checkpoint_interval="1h",
            poll_records=300,
        )
        if max_records is None:
            p.run(until_idle=True)
        else:
            p.run(max_records=max_records)
            p.checkpoint()
        return step

    out_a = ms.Log(tmp_path / "a", partitions=1, sync="none")
    step = run(out_a, tmp_path / "ck_a", "a")
    whole = step.flush().to_pylist()
    out_b = ms.Log(tmp_path / "b", partitions=1, sync="none")
    run(out_b, tmp_path / "ck_b", "b", max_records=900)
    step = run(out_b, tmp_path / "ck_b", "b")  # a new process would do the same: restore, go on
    tail = step.flush().to_pylist()

    def rows(lg):
        b = lg.read(0, 0, max_records=1_000_000)
        if b.num_rows == 0:
            return []
        return b.drop_columns(
            [c for c in ("_partition", "_offset") if c in b.schema.names]
        ).to_pylist()

    assert rows(out_a) + whole == rows(out_b) + tail


def test_decimal_key_columns_are_refused_with_a_clear_error() -> None:
    import decimal

    from minide.errors import UnsupportedError

    step = ms.window("tumbling", size="1m", key="k", time_column="t", aggs={"n": (None, "count")})
    batch = pa.record_batch(
        {
            "k": pa.array([decimal.Decimal("1.5")], pa.decimal128(5, 1)),
            "t": pa.array([0], pa.int64()),
        }
    )
    with pytest.raises(UnsupportedError, match="decimal"):
        step.process(batch)
