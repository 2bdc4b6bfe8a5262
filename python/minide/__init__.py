"""minide: a from-scratch data-engineering toolkit.

The engines (columnar files, SQL, kv, streaming, replication) are written in Rust (``rust/``) and
driven from Python. Arrow is the in-memory format everywhere: functions accept any object that
implements the Arrow PyCapsule interface (pyarrow, Polars, DuckDB results) and return pyarrow
objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from minide import _core
from minide._memory import keep_freed_memory
from minide.errors import InvalidArgumentError, MinideError

if TYPE_CHECKING:
    from minide.sql import connect

__version__: str = _core.__version__

__all__ = ["MinideError", "__version__", "connect", "hash_column", "keep_freed_memory"]


def __getattr__(name: str) -> Any:
    # `minide.connect` loads the SQL engine (and lark) on first use only: importing the package
    # or any other engine (`import minide.kv`) must not pay for it.
    if name == "connect":
        from minide.sql import connect

        globals()["connect"] = connect
        return connect
    raise AttributeError(f"module 'minide' has no attribute {name!r}")


def hash_column(array: Any) -> pa.UInt64Array | pa.ChunkedArray:
    """xxh3-64 hash of every value of an Arrow array; nulls stay null.

    Each value hashes as its Arrow bytes: little-endian fixed-width values (a bool as one byte),
    UTF-8/binary payloads as-is, dictionary columns as their decoded values. So
    ``hash_column(pa.array([1], pa.int64()))[0] == xxhash.xxh3_64_intdigest((1).to_bytes(8, "little"))``.

    ``array`` is anything with ``__arrow_c_array__`` (pyarrow/Polars/nanoarrow arrays) or a chunked
    array / stream (``__arrow_c_stream__``), which is hashed chunk by chunk. The data is read in
    place through the Arrow C data interface; the GIL is released while hashing.
    """
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([_core.hash_array(c) for c in array.chunks], type=pa.uint64())
    if hasattr(array, "__arrow_c_array__"):
        return _core.hash_array(array)
    if hasattr(array, "__arrow_c_stream__"):
        return hash_column(pa.chunked_array(array))
    if isinstance(array, list | tuple):
        return _core.hash_array(pa.array(array))
    raise InvalidArgumentError(
        f"hash_column expects an Arrow array (pyarrow, Polars, ...), got {type(array).__name__}"
    )
