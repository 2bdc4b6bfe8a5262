# Type stubs of the Rust extension module (rust/bindings). Checked by `python -m mypy.stubtest`.
# One section per engine, in the order rust/bindings/src/lib.rs registers them; keep the
# separators so that work on different engines merges cleanly.
from typing import Any, final

import pyarrow as pa

__version__: str
BUILD_PROFILE: str

# ----------------------------------------------------------------------------------------------
# common (rust/bindings/src/common.rs)
# ----------------------------------------------------------------------------------------------

def hash_array(array: Any) -> pa.UInt64Array: ...

# ----------------------------------------------------------------------------------------------
# columnar: Parquet (rust/bindings/src/columnar/parquet.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# columnar: CSV (rust/bindings/src/columnar/csv.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# kv (rust/bindings/src/kv.rs)
# ----------------------------------------------------------------------------------------------

@final
class KvSnapshot:
    @property
    def ts(self) -> int: ...
    @property
    def released(self) -> bool: ...
    def release(self) -> None: ...

@final
class KvDb:
    def __new__(
        cls,
        path: str,
        sync: str,
        memtable_size: int,
        block_size: int,
        compression: str,
        bloom_bits_per_key: int,
        retention_kind: str,
        retention_value: int,
        recovery: str,
    ) -> KvDb: ...
    def put(
        self, key: bytes, value: bytes, valid_from: int | None = None, valid_to: int | None = None
    ) -> int: ...
    def delete(
        self, key: bytes, valid_from: int | None = None, valid_to: int | None = None
    ) -> int: ...
    def write(self, ops: list[tuple[bytes, bytes | None, int | None, int | None]]) -> int: ...
    def get(
        self, key: bytes, as_of: int | None = None, valid_at: int | None = None
    ) -> bytes | None: ...
    def get_many(
        self, keys: list[bytes], as_of: int | None = None, valid_at: int | None = None
    ) -> list[bytes | None]: ...
    def history(
        self, key: bytes
    ) -> list[tuple[bytes | None, int, int | None, int | None, int | None]]: ...
    def scan_chunk(
        self,
        start: bytes | None,
        start_exclusive: bool,
        end: bytes | None,
        read_ts: int,
        valid_at: int | None,
        limit: int,
    ) -> list[tuple[bytes, bytes]]: ...
    def read_ts(self, as_of: int | None = None) -> int: ...
    def snapshot(self) -> KvSnapshot: ...
    def pin(self, ts: int) -> KvSnapshot: ...
    def to_arrow(
        self, as_of: int | None = None, valid_at: int | None = None, prefix: bytes | None = None
    ) -> pa.RecordBatch: ...
    def flush(self) -> None: ...
    def compact(self) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def path(self) -> str: ...

def kv_inspect(path: str) -> str: ...

# ----------------------------------------------------------------------------------------------
# stream (rust/bindings/src/stream.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# sql (rust/bindings/src/sql.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# end of engine sections
# ----------------------------------------------------------------------------------------------
