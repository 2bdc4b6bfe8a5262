"""The message decoder (Rust, behind ``minide.stream.formats``) against a Python model of its rules
on random messages, plus ISO 8601 timestamps against Python's ``datetime``."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import msgpack
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minide import _core
from minide.errors import InvalidArgumentError, UnsupportedError
from minide.stream.formats import decode_messages

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


_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _iso(text: str, unit: str) -> int:
    """The model of an ISO 8601 string in a timestamp field: exact units since the epoch."""
    if not _ISO.fullmatch(text):
        raise ValueError("not ISO 8601")
    frac = re.search(r"[.,](\d+)", text)
    digits = frac.group(1) if frac else ""
    base = re.sub(r"[.,]\d+", "", text).replace(" ", "T")
    t = dt.datetime.fromisoformat(base.replace("z", "Z"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    secs = (t - _EPOCH) // dt.timedelta(seconds=1)
    nanos = int(digits.ljust(9, "0")) if digits else 0
    per = _PER_S[unit]
    if nanos % (1_000_000_000 // per):
        raise ValueError("finer than the unit")
    return secs * per + nanos // (1_000_000_000 // per)


def _int_range(t: pa.DataType) -> tuple[int, int]:
    if pa.types.is_timestamp(t):
        return -(2**63), 2**63 - 1
    info = {8: 7, 16: 15, 32: 31, 64: 63}[t.bit_width]
    if pa.types.is_unsigned_integer(t):
        return 0, 2 ** (info + 1) - 1
    return -(2**info), 2**info - 1


def _fit(v: Any, t: pa.DataType) -> Any:
    """The model of one field's rule: the value stored, or ValueError."""
    if pa.types.is_boolean(t) and isinstance(v, bool):
        return v
    if (pa.types.is_integer(t) or pa.types.is_timestamp(t)) and type(v) is int:
        lo, hi = _int_range(t)
        if lo <= v <= hi:
            return v
    if pa.types.is_timestamp(t) and isinstance(v, str):
        return _iso(v, t.unit)
    if pa.types.is_floating(t) and type(v) in (int, float):
        return float(v)
    if (pa.types.is_string(t) or pa.types.is_large_string(t)) and isinstance(v, str):
        return v
    if (pa.types.is_binary(t) or pa.types.is_large_binary(t)) and isinstance(v, bytes | str):
        return v.encode() if isinstance(v, str) else v
    raise ValueError(f"{type(v).__name__} does not fit {t}")


def _ints_in_64_bits(v: Any) -> bool:
    if isinstance(v, dict):
        return all(_ints_in_64_bits(x) for x in v.values())
    if isinstance(v, list):
        return all(_ints_in_64_bits(x) for x in v)
    return type(v) is not int or -(2**63) <= v < 2**64


def model(payloads: list[bytes], schema: pa.Schema, fmt: str) -> tuple[pa.RecordBatch, set[int]]:
    """Python model of the decoding rules: good rows as a batch, indexes of bad ones."""
    columns: list[list[Any]] = [[] for _ in schema]
    bad: set[int] = set()
    for i, p in enumerate(payloads):
        try:
            doc = json.loads(p) if fmt == "json" else msgpack.unpackb(p, raw=False)
            if not isinstance(doc, dict) or not _ints_in_64_bits(doc):
                raise ValueError("not an object")
            row = []
            for f in schema:
                v = doc.get(f.name)
                if v is None and not f.nullable:
                    raise ValueError("missing")
                row.append(None if v is None else _fit(v, f.type))
        except Exception:
            bad.add(i)
            continue
        for c, v in zip(columns, row, strict=True):
            c.append(v)
    arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema), bad


@settings(max_examples=200, deadline=None)
@given(st.lists(docs, max_size=12), st.booleans(), st.sampled_from(["msgpack", "json"]))
def test_decoder_matches_the_model(rows, corrupt_one, fmt):
    if fmt == "json":
        payloads = [json.dumps(_no_bytes(r)).encode() for r in rows]
    else:
        payloads = [msgpack.packb(r, use_bin_type=True) for r in rows]
    if corrupt_one and payloads:
        payloads[0] = payloads[0][:-1] if len(payloads[0]) > 1 else b"\xc1"
    batch, bad = decode_messages(payloads, SCHEMA, fmt)
    want, want_bad = model(payloads, SCHEMA, fmt)
    assert {i for i, _ in bad} == want_bad, bad
    assert batch.equals(want)
    assert all(reason for _, reason in bad)


TS = pa.schema([("at", pa.timestamp("ms")), ("ns", pa.timestamp("ns", tz="UTC"))])


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05.123",
        "2024-01-02 03:04:05,5",
        "2024-01-02T05:04:05.123+02:00",
        "2024-01-02T03:04:05.123-0130",
        "2024-01-02T03:04Z",
        "1969-12-31T23:59:59.999",
        "2024-02-29",
        "2023-02-29",
        "2024-01-02T24:00:00",
        "2024-01-02T03:04:05.1234",
        "yesterday",
        "2024-1-2",
    ],
)
def test_iso_timestamps_follow_python_datetime(text):
    payloads = [json.dumps({"at": text, "ns": text}).encode()]
    batch, bad = decode_messages(payloads, TS, "json")
    want = []
    for f in TS:
        try:
            want.append(_iso(text, f.type.unit))
        except ValueError:
            want.append(None)
    if None in want:
        assert [i for i, _ in bad] == [0] and batch.num_rows == 0
        assert "ISO 8601" in bad[0][1] or "finer" in bad[0][1], bad
    else:
        assert bad == []
        assert batch.column("at").cast(pa.int64()).to_pylist() == [want[0]]
        assert batch.column("ns").cast(pa.int64()).to_pylist() == [want[1]]


def test_unsupported_field_types_and_formats_are_clear_errors():
    with pytest.raises(UnsupportedError, match="field 'd' of type date32"):
        decode_messages([b"{}"], pa.schema([("d", pa.date32())]), "json")
    with pytest.raises(InvalidArgumentError, match="format must be"):
        decode_messages([b"{}"], SCHEMA, "xml")


def test_nan_and_infinity_in_json_like_python():
    payloads = [b'{"id": 1, "x": NaN}', b'{"id": 2, "x": -Infinity}', b'{"id": 3, "x": Infinity}']
    batch, bad = decode_messages(payloads, SCHEMA, "json")
    assert bad == []
    xs = batch.column("x").to_pylist()
    assert xs[0] != xs[0] and xs[1:] == [float("-inf"), float("inf")]


def test_large_string_and_binary_fields():
    schema = pa.schema([("s", pa.large_string()), ("b", pa.large_binary())])
    rows = [{"s": "é", "b": b"\x00"}, {"s": None, "b": "txt"}]
    batch, bad = decode_messages([msgpack.packb(r) for r in rows], schema, "msgpack")
    assert bad == []
    assert batch.to_pylist() == [{"s": "é", "b": b"\x00"}, {"s": None, "b": b"txt"}]


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
