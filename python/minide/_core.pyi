# Type stubs of the Rust extension module (rust/bindings). Checked by `python -m mypy.stubtest`.
from typing import Any

import pyarrow as pa

__all__ = ["BUILD_PROFILE", "__version__", "hash_array"]

__version__: str
BUILD_PROFILE: str

def hash_array(array: Any) -> pa.UInt64Array: ...
