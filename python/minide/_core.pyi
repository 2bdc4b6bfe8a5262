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

# ----------------------------------------------------------------------------------------------
# stream (rust/bindings/src/stream.rs)
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# sql (rust/bindings/src/sql.rs)
# ----------------------------------------------------------------------------------------------

@final
class SqlCatalog:
    def __init__(self) -> None: ...
    def register(self, name: str, data: Any) -> tuple[list[str], list[str], int]: ...
    def create(self, name: str, names: list[str], types: list[str]) -> None: ...
    def append(self, name: str, data: Any) -> int: ...
    def drop(self, name: str) -> bool: ...
    def stats(self, name: str) -> list[tuple[float, float | None, float | None, int]]: ...
    def execute(
        self, plan: bytes, names: list[str], threads: int
    ) -> tuple[pa.Table, dict[int, tuple[int, int]]]: ...

# ----------------------------------------------------------------------------------------------
# end of engine sections
# ----------------------------------------------------------------------------------------------
