"""JSON / msgpack messages → Arrow batches by a declared schema, with dead letters.

A thin facade over the Rust decoder (rust/stream/src/ingest/{json,msgpack,columns}.rs), the one
implementation of the rules: each message must decode to a mapping with a value for every
non-nullable field; values must fit the field's type (ints for integer and timestamp fields,
numbers for floats, strings for string fields, bytes or strings for binary fields, bools for
bool fields; timestamps may also be ISO-8601 strings; JSON may use ``NaN``/``Infinity``). A
message that does not decode or does not fit becomes a dead letter with the reason; the others
are decoded in one pass, with the GIL released.

Field types: integers, ``float32``/``float64``, ``bool``, ``string``/``large_string``,
``binary``/``large_binary`` and ``timestamp``; other types raise ``UnsupportedError``.
"""

from __future__ import annotations

import pyarrow as pa

from minide import _core
from minide.errors import InvalidArgumentError

__all__ = ["decode_messages"]


def decode_messages(
    payloads: list[bytes] | pa.Array, schema: pa.Schema, fmt: str = "json"
) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
    """Decode ``payloads`` (bytes, or a pyarrow binary array whose nulls are missing payloads);
    returns the batch of good rows and ``(index, reason)`` of bad ones."""
    if fmt not in ("json", "msgpack"):
        raise InvalidArgumentError(f"format must be 'json' or 'msgpack', got {fmt!r}")
    if isinstance(payloads, pa.Array):
        arr = payloads if payloads.type == pa.binary() else payloads.cast(pa.binary())
    else:
        arr = pa.array(payloads, pa.binary())
    return _core.stream_decode_messages(arr, schema, fmt)
