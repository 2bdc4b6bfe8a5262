"""``ParquetFile.scan(decimals_as_float=True)``: the SQL scan's one-pass decimal decode.

INT32/INT64-backed decimals come out as float64 ``unscaled / 10**scale`` (correctly rounded,
like the SQL engine's Decimal128 normalization); FIXED_LEN_BYTE_ARRAY decimals and every other
column are unchanged. Oracle: pyarrow's own decode of the same file.
"""

from __future__ import annotations

import decimal
from pathlib import Path

import minide.columnar as mc
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minide.errors import InvalidArgumentError


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    mask = rng.random(n) < 0.2

    def dec(lo: int, hi: int, scale: int, prec: int) -> pa.Array:
        vals = [
            None if m else decimal.Decimal(int(v)).scaleb(-scale)
            for v, m in zip(rng.integers(lo, hi, n), mask, strict=True)
        ]
        return pa.array(vals, pa.decimal128(prec, scale))

    return pa.table(
        {
            "d32": dec(-(10**8), 10**8, 2, 9),
            "d64": dec(-(10**15), 10**15, 4, 18),
            "d0": dec(-(10**6), 10**6, 0, 12),
            "i": pa.array(rng.integers(0, 100, n)),
            "s": pa.array([f"v{i % 7}" for i in range(n)]),
        }
    )


def _expected(col: pa.ChunkedArray) -> list[float | None]:
    scale = col.type.scale
    return [None if v is None else int(v.scaleb(scale)) / 10**scale for v in col.to_pylist()]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("integer_backed", [True, False])
@pytest.mark.parametrize("dictionary", [True, False])  # converted per entry / per page
def test_decimals_as_float_matches_pyarrow(
    tmp_path: Path, threads: int, integer_backed: bool, dictionary: bool
) -> None:
    t = _table(5000, seed=threads)
    path = tmp_path / "d.parquet"
    pq.write_table(
        t,
        path,
        row_group_size=1200,
        store_decimal_as_integer=integer_backed,
        use_dictionary=dictionary,
    )
    pf = mc.ParquetFile(path)
    got = pa.Table.from_batches(
        list(pf.scan(threads=threads, decimals_as_float=True)),
        schema=pf.scan_schema(decimals_as_float=True),
    )
    plain = pf.read(threads=threads)
    assert got.num_rows == t.num_rows
    assert got.column("i").to_pylist() == t.column("i").to_pylist()
    assert got.column("s").to_pylist() == t.column("s").to_pylist()
    for name in ("d32", "d64", "d0"):
        col = got.column(name)
        if integer_backed:
            assert col.type == pa.float64()
            assert col.to_pylist() == _expected(t.column(name))
        else:
            # FIXED_LEN_BYTE_ARRAY decimals are left to the caller's own conversion
            assert col.type == t.column(name).type
            assert col.to_pylist() == t.column(name).to_pylist()
    # without the option, nothing changes
    assert plain.equals(t)


def test_decimals_as_float_row_group_subset_and_projection(tmp_path: Path) -> None:
    t = _table(3000, seed=7)
    path = tmp_path / "d.parquet"
    pq.write_table(t, path, row_group_size=1000, store_decimal_as_integer=True)
    rd = mc.ParquetFile(path)._reader
    got = rd.scan(["d64", "s"], row_groups=[2, 0], threads=2, decimals_as_float=True).read_all()
    want = pa.concat_tables([t.slice(2000, 1000), t.slice(0, 1000)])
    assert got.column_names == ["d64", "s"]
    assert got.column("d64").to_pylist() == _expected(want.column("d64"))
    assert got.column("s").to_pylist() == want.column("s").to_pylist()


def test_decimals_as_float_with_a_filter(tmp_path: Path) -> None:
    """The filter binds to the float64 columns the scan outputs (the SQL engine's case)."""
    t = _table(3000, seed=3)
    path = tmp_path / "d.parquet"
    pq.write_table(t, path, row_group_size=700, store_decimal_as_integer=True)
    pf = mc.ParquetFile(path)
    got = pa.Table.from_batches(
        list(pf.scan(["d32", "i"], filter="d32 > 1000.5 AND i < 50", decimals_as_float=True)),
        schema=pf.scan_schema(["d32", "i"], decimals_as_float=True),
    )
    want = [
        (d, i)
        for d, i in zip(_expected(t.column("d32")), t.column("i").to_pylist(), strict=True)
        if d is not None and d > 1000.5 and i < 50
    ]
    assert (
        list(zip(got.column("d32").to_pylist(), got.column("i").to_pylist(), strict=True)) == want
    )
    with pytest.raises(InvalidArgumentError):
        list(pf.scan(["d32"], filter="d32 > 'x'", decimals_as_float=True))
