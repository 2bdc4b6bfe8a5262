"""Rust errors surface as minide exceptions with the right class and a useful message."""

import pytest
from minide import errors


def test_hierarchy() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MinideError)
    assert issubclass(errors.SchemaError, ValueError)
    assert issubclass(errors.MinideIOError, OSError)
    assert issubclass(errors.ChecksumError, errors.CorruptFileError)


def test_rust_error_maps_to_python_class() -> None:
    import minide
    import pyarrow as pa

    with pytest.raises(errors.UnsupportedError) as info:
        minide.hash_column(pa.array([{"a": 1}]))
    assert "struct" in str(info.value).lower()
