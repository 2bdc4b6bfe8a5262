"""The Rust JSON and msgpack decoders against the Python one (the reference) on random
messages."""

from __future__ import annotations

import json

import msgpack
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from minide import _core
from minide.stream.formats import decode_messages, decode_messages_python

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        ("user", pa.string()),
        ("x", pa.float64()),
        ("small", pa.int32()),
        ("flag", pa.bool_()),
        ("raw", pa.binary()),
        ("at", pa.timestamp("ms")),
        ("u", pa.uint64()),
    ]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.integers(-(2**31) - 2, 2**31 + 2),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(0, 3), max_size=2),
)
docs = st.one_of(
    st.dictionaries(st.sampled_from([f.name for f in SCHEMA] + ["other"]), scalars, max_size=9),
    st.fixed_dictionaries(
        {"id": st.integers(-(2**63), 2**63 - 1)},
        optional={
            "user": st.text(max_size=12),
            "x": st.floats(allow_nan=False),
            "small": st.integers(-(2**31), 2**31 - 1),
            "flag": st.booleans(),
            "raw": st.binary(max_size=6),
            "at": st.integers(0, 2**50),
            "u": st.integers(0, 2**64 - 1),
        },
    ),
    st.integers(-(2**63), 2**63 - 1),
)


def _no_bytes(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, dict):
        return {k: _no_bytes(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_bytes(x) for x in v]
    return v


@settings(max_examples=200, deadline=None)
@given(st.lists(docs, max_size=12), st.booleans(), st.sampled_from(["msgpack", "json"]))
def test_rust_decoder_matches_python(rows, corrupt_one, fmt):
    if fmt == "json":
        payloads = [json.dumps(_no_bytes(r)).encode() for r in rows]
    else:
        payloads = [msgpack.packb(r, use_bin_type=True) for r in rows]
    if corrupt_one and payloads:
        payloads[0] = payloads[0][:-1] if len(payloads[0]) > 1 else b"\xc1"
    batch, bad = _core.stream_decode_messages(pa.array(payloads, pa.binary()), SCHEMA, fmt)
    try:
        want, want_bad = decode_messages_python(payloads, SCHEMA, fmt)
    except Exception:
        return  # the Python decoder refuses the batch (e.g. an int out of range); Rust says bad
    if not bad:
        # Rust accepted everything: the Python decoder must agree, value for value.
        assert want_bad == []
        assert batch.equals(want)
    else:
        # Rust's bad rows are a superset of Python's (it leaves edge cases to Python).
        assert {i for i, _ in want_bad} <= {i for i, _ in bad}
    # The public entry point always gives the Python decoder's answer.
    got, got_bad = decode_messages(payloads, SCHEMA, fmt)
    assert got.equals(want) and got_bad == want_bad


def test_json_escapes_and_whitespace():
    payloads = [
        b' { "id" : 1 , "user" : "a\\"b\\u00e9\\ud83d\\ude00\\n" , "x": -1.5e2 } ',
        b'{"id": 2, "user": "plain", "nested": {"a": [1, {"b": "\\u0041"}]}, "x": 3}',
    ]
    batch, bad = _core.stream_decode_messages(pa.array(payloads, pa.binary()), SCHEMA, "json")
    assert bad == []
    assert batch.column("user").to_pylist() == ['a"b\u00e9\U0001f600\n', "plain"]
    assert batch.column("x").to_pylist() == [-150.0, 3.0]


def test_null_payloads_are_dead_letters():
    arr = pa.array([msgpack.packb({"id": 1}), None], pa.binary())
    batch, bad = decode_messages(arr, SCHEMA, "msgpack")
    assert batch.column("id").to_pylist() == [1]
    assert [i for i, _ in bad] == [1]
