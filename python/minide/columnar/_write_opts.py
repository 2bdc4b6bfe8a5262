"""Validation of the Parquet write options shared by write_dataset and csv_to_parquet.

The options are ``write_parquet``'s keywords; they reach the Rust writer as one dict
(``rust/bindings/src/columnar/dataset.rs: write_options``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from minide.columnar.parquet import resolve_threads
from minide.errors import InvalidArgumentError

#: ``write_parquet``'s keywords other than data and path, with their defaults.
WRITE_DEFAULTS: dict[str, Any] = {
    "compression_level": None,
    "row_group_size": 1_048_576,
    "data_page_size": 1 << 20,
    "dictionary": True,
    "statistics": True,
    "page_index": True,
    "bloom_filter_columns": (),
    "data_page_version": "1.0",
    "threads": None,
}

_ARROW_SCHEMA_KEY = "ARROW:schema"


def build_write_options(
    compression: str, file_schema: pa.Schema, options: dict[str, Any], where: str
) -> dict[str, Any]:
    """The dict the Rust writer takes; ``options`` are the caller's ``**write_options``."""
    unknown = set(options) - set(WRITE_DEFAULTS)
    if unknown:
        raise InvalidArgumentError(
            f"{where}: unknown write option(s) {', '.join(sorted(unknown))} "
            f"(known: compression, {', '.join(WRITE_DEFAULTS)})"
        )
    o = {**WRITE_DEFAULTS, **options}
    if o["data_page_version"] not in ("1.0", "2.0"):
        raise InvalidArgumentError(
            f"data_page_version must be '1.0' or '2.0', got {o['data_page_version']!r}"
        )
    if o["row_group_size"] <= 0 or o["data_page_size"] <= 0:
        raise InvalidArgumentError("row_group_size and data_page_size must be positive")
    threads = resolve_threads(o["threads"])
    if threads < 1:
        raise InvalidArgumentError(f"threads must be >= 1, got {threads}")
    blooms: Sequence[str] = o["bloom_filter_columns"]
    hint = base64.b64encode(file_schema.serialize().to_pybytes()).decode("ascii")
    return {
        "compression": compression,
        "compression_level": o["compression_level"],
        "row_group_size": int(o["row_group_size"]),
        "data_page_size": int(o["data_page_size"]),
        "dictionary": bool(o["dictionary"]),
        "statistics": bool(o["statistics"]),
        "page_index": bool(o["page_index"]),
        "data_page_v2": o["data_page_version"] == "2.0",
        "threads": int(threads),
        "key_value_metadata": [(_ARROW_SCHEMA_KEY, hint)],
        "bloom_filter_columns": list(blooms),
    }


def file_schema(schema: pa.Schema, partition_by: Sequence[str]) -> pa.Schema:
    """The schema of a dataset's files: the data columns without the partition columns."""
    keep = [f for f in schema if f.name not in set(partition_by)]
    return pa.schema(keep, metadata=schema.metadata)


def partition_list(partition_by: str | Sequence[str] | None) -> list[str]:
    if partition_by is None:
        return []
    if isinstance(partition_by, str):
        return [partition_by]
    cols = list(partition_by)
    if not all(isinstance(c, str) for c in cols):
        raise InvalidArgumentError(f"partition_by must be column names, got {partition_by!r}")
    return cols
