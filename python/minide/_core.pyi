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

from typing import final  # noqa: E402  (kept in this section: merges stay easy)

def csv_read(
    path: str,
    *,
    schema: pa.Schema | None = None,
    delimiter: str = ",",
    quote: str = '"',
    header: bool = True,
    null_values: list[str] = ...,
    infer_rows: int = 10000,
    on_bad_lines: str = "error",
    batch_size: int = 65536,
    threads: int = 1,
) -> tuple[pa.Table, int, list[int]]: ...
def csv_open(
    path: str,
    *,
    schema: pa.Schema | None = None,
    delimiter: str = ",",
    quote: str = '"',
    header: bool = True,
    null_values: list[str] = ...,
    infer_rows: int = 10000,
    on_bad_lines: str = "error",
    batch_size: int = 65536,
    threads: int = 1,
) -> CsvReader: ...

@final
class CsvReader:
    @property
    def schema(self) -> pa.Schema: ...
    @property
    def skipped(self) -> int: ...
    @property
    def skipped_lines(self) -> list[int]: ...
    @property
    def bytes_read(self) -> int: ...
    def __iter__(self) -> CsvReader: ...
    def __next__(self) -> pa.RecordBatch: ...
    def close(self) -> None: ...

# ----------------------------------------------------------------------------------------------
# kv (rust/bindings/src/kv.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# stream (rust/bindings/src/stream.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# sql (rust/bindings/src/sql.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# end of engine sections
# ----------------------------------------------------------------------------------------------
