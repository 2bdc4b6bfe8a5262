"""JSON / msgpack messages → Arrow batches by a declared schema, with dead letters.

Each message must decode to a mapping with a value for every non-nullable field; values must
fit the field's type (ints for integer and timestamp fields, numbers for floats, strings for
string fields, bools for bool fields; timestamps may also be ISO-8601 strings). A message that
does not decode or does not fit becomes a dead letter with the reason; the others are decoded.

Batches are decoded in Rust in one pass (rust/stream/src/ingest/{json,msgpack,columns}.rs, same
rules) when the schema's types allow; a batch with any bad message is redone by the Python
decoder below, so dead-letter reasons (and ISO-8601 timestamp strings, NaN, ...) are handled in
one place.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgpack
import pyarrow as pa

from minide import _core
from minide.errors import InvalidArgumentError

__all__ = ["decode_messages"]


def _parse(payload: bytes, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(payload)
    return msgpack.unpackb(payload, raw=False)


def _check(value: Any, t: pa.DataType) -> Any:
    """The value converted for ``t``, or raise ValueError with a reason."""
    if pa.types.is_boolean(t):
        if isinstance(value, bool):
            return value
    elif pa.types.is_integer(t):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif pa.types.is_floating(t):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        if isinstance(value, str):
            return value
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        if isinstance(value, bytes | str):
            return value.encode() if isinstance(value, str) else value
    elif pa.types.is_timestamp(t):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
    else:
        return value
    raise ValueError(f"{type(value).__name__} {value!r:.40} does not fit {t}")


def _fast_path(payloads: list[bytes], schema: pa.Schema, fmt: str) -> pa.RecordBatch | None:
    """Decode a whole batch at once when every message is fine; None → check row by row."""
    try:
        docs = [_parse(p, fmt) for p in payloads]
        if not all(type(d) is dict for d in docs):
            return None
        arrays = []
        for field in schema:
            values = [d.get(field.name) for d in docs]
            t = field.type
            numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_timestamp(t)
            if numeric and any(type(v) is bool or type(v) is str for v in values):
                return None  # bools and strings are not numbers here; the slow path says why
            arr = pa.array(values, type=t)
            if not field.nullable and arr.null_count:
                return None
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
    except Exception:
        return None


def decode_messages(
    payloads: list[bytes] | pa.Array, schema: pa.Schema, fmt: str = "json"
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """Decode ``payloads`` (bytes, or a pyarrow binary array whose nulls are missing payloads);
    returns the batch of good rows and ``(index, reason)`` of bad ones."""
    if fmt not in ("json", "msgpack"):
        raise InvalidArgumentError(f"format must be 'json' or 'msgpack', got {fmt!r}")
    if _core.stream_decode_supports(schema):
        arr = payloads if isinstance(payloads, pa.Array) else pa.array(payloads, pa.binary())
        batch, bad = _core.stream_decode_messages(arr, schema, fmt)
        if not bad:
            return batch, []
    if isinstance(payloads, pa.Array):
        payloads = [b if b is not None else b"" for b in payloads.to_pylist()]
    return decode_messages_python(payloads, schema, fmt)


def decode_messages_python(
    payloads: list[bytes], schema: pa.Schema, fmt: str = "json"
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """The Python decoder (every format and type; the reference for the Rust one)."""
    fast = _fast_path(payloads, schema, fmt)
    if fast is not None:
        return fast, []
    columns: list[list[Any]] = [[] for _ in schema]
    bad: list[tuple[int, str]] = []
    for i, payload in enumerate(payloads):
        try:
            doc = _parse(payload, fmt)
        except Exception as e:
            bad.append((i, f"not valid {fmt}: {e}"))
            continue
        if not isinstance(doc, dict):
            bad.append((i, f"expected an object, got {type(doc).__name__}"))
            continue
        row: list[Any] = []
        try:
            for field in schema:
                v = doc.get(field.name)
                if v is None:
                    if not field.nullable:
                        raise ValueError(f"missing required field {field.name!r}")
                    row.append(None)
                else:
                    try:
                        row.append(_check(v, field.type))
                    except ValueError as e:
                        raise ValueError(f"field {field.name!r}: {e}") from None
        except ValueError as e:
            bad.append((i, str(e)))
            continue
        for col, v in zip(columns, row, strict=True):
            col.append(v)
    arrays = []
    for field, col in zip(schema, columns, strict=True):
        try:
            arrays.append(pa.array(col, type=field.type))
        except (pa.ArrowInvalid, OverflowError) as e:
            raise InvalidArgumentError(f"field {field.name!r}: {e}") from e
    return pa.RecordBatch.from_arrays(arrays, schema=schema), bad
