# Type stubs of the Rust extension module (rust/bindings). Checked by `python -m mypy.stubtest`.
# One section per engine, in the order rust/bindings/src/lib.rs registers them; keep the
# separators so that work on different engines merges cleanly.
from typing import Any

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

# ----------------------------------------------------------------------------------------------
# stream (rust/bindings/src/stream.rs)
# ----------------------------------------------------------------------------------------------

from typing import final as _stream_final  # noqa: E402  (kept in this section for merges)

@_stream_final
class StreamDeduplicator:
    def __new__(
        cls,
        key_columns: list[str],
        time_column: str,
        window_ns: int,
        allowed_lateness_ns: int,
        mode: str,
        false_positive_rate: float,
    ) -> StreamDeduplicator: ...
    def process(self, batch: Any) -> tuple[pa.UInt32Array, pa.UInt32Array]: ...
    @property
    def watermark(self) -> int | None: ...
    @property
    def time_unit_nanos(self) -> int | None: ...
    def stats(self) -> dict[str, int]: ...
    def checkpoint(self) -> bytes: ...
    @staticmethod
    def restore(state: bytes) -> StreamDeduplicator: ...

@_stream_final
class StreamLog:
    def __new__(
        cls,
        path: str,
        partitions: int,
        retention_bytes: int | None,
        retention_ms: int | None,
        segment_bytes: int,
        fsync: bool,
    ) -> StreamLog: ...
    def append(self, batch: Any, key: list[str]) -> tuple[pa.UInt32Array, pa.UInt64Array]: ...
    def read(self, partition: int, offset: int, max_records: int) -> pa.RecordBatch | None: ...
    def truncate(self, offsets: list[int]) -> None: ...
    def start_offsets(self) -> list[int]: ...
    def end_offsets(self) -> list[int]: ...
    def size_bytes(self) -> int: ...
    def segment_counts(self) -> list[int]: ...
    def partitions(self) -> int: ...
    def sync(self) -> None: ...
    def apply_retention(self) -> int: ...
    def commit(self, group: str, offsets: list[int]) -> None: ...
    def committed(self, group: str) -> list[int]: ...

def stream_checkpoint_read(path: str) -> bytes | None: ...
def stream_checkpoint_seal(payload: bytes) -> bytes: ...

# ----------------------------------------------------------------------------------------------
# sql (rust/bindings/src/sql.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# end of engine sections
# ----------------------------------------------------------------------------------------------
