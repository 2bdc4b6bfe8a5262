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

def parquet_write(
    data: Any,
    path: str,
    *,
    compression: str,
    compression_level: int | None,
    row_group_size: int,
    data_page_size: int,
    dictionary: bool,
    statistics: bool,
    page_index: bool,
    data_page_v2: bool,
    threads: int,
    key_value_metadata: list[tuple[str, str]],
    bloom_filter_columns: list[str] = ...,
) -> None: ...

@final
class ParquetReader:
    def __new__(cls, path: str) -> ParquetReader: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def num_row_groups(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def schema(self) -> pa.Schema: ...
    def key_value_metadata(self) -> list[tuple[str, str | None]]: ...
    def metadata(self) -> dict[str, Any]: ...
    def read(
        self,
        row_groups: list[int] | None = None,
        columns: list[str] | None = None,
        threads: int = 2,
        filter: tuple[Any, ...] | None = None,
    ) -> pa.Table: ...
    def bloom_probe(self, row_group: int, column: str, values: list[Any]) -> bool | None: ...
    def page_index(self, row_group: int, column: str) -> list[dict[str, Any]] | None: ...
    def read_selected(
        self,
        row_group: int,
        selection: list[tuple[int, int]],
        columns: list[str] | None = None,
        threads: int = 2,
        filter: tuple[Any, ...] | None = None,
    ) -> tuple[pa.Table, int]: ...
    def inspect(self) -> str: ...

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

# ----------------------------------------------------------------------------------------------
# end of engine sections
# ----------------------------------------------------------------------------------------------
