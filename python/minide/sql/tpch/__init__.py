"""TPC-H helpers for tests, benches and the demo: the 22 queries (unmodified, validation
parameters), data generation with ``tpchgen-cli`` (cached), and result comparison."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

TABLES = ("lineitem", "orders", "customer", "part", "partsupp", "supplier", "nation", "region")
HERE = Path(__file__).parent


def query(n: int) -> str:
    """The text of TPC-H query ``n`` (1..22)."""
    return (HERE / f"q{n:02d}.sql").read_text()


def cache_dir() -> Path:
    """Where generated data is kept by default: ``<temp dir>/minide-cache``."""
    return Path(tempfile.gettempdir()) / "minide-cache"


def generate(scale: float, cache: str | os.PathLike[str] | None = None) -> Path:
    """Parquet files of every table at ``scale``, generated once and cached under ``cache``
    (default :func:`cache_dir`; the bench passes ``$MINIDE_CACHE`` when it is set)."""
    out = Path(cache if cache is not None else cache_dir()) / f"tpch-sf{scale}"
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    exe = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run(
        [exe, "parquet", "-s", str(scale), f"--output-dir={tmp}"], check=True, capture_output=True
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def load(scale: float) -> dict[str, pa.Table]:
    """Every table decoded into memory by minide.columnar's Parquet reader."""
    import minide.columnar as mc

    d = generate(scale)
    return {t: mc.read_parquet(d / f"{t}.parquet") for t in TABLES}


def register_files(con: Any, scale: float) -> Path:
    """Register every table of ``scale`` with ``con`` as its Parquet file (scanned lazily)."""
    d = generate(scale)
    for t in TABLES:
        con.register(t, d / f"{t}.parquet")
    return d


def _norm(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def _close(a: Any, b: Any, rel: float, exact: bool = False) -> bool:
    if exact and (isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal)):
        # exact decimals: same type and the same value, digit for digit
        return type(a) is type(b) and a == b
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, dt.date) or isinstance(b, dt.date):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return abs(fa - fb) <= rel * max(abs(fa), abs(fb)) or abs(fa - fb) < 1e-9
    return bool(a == b)


def rows_of(t: Any) -> list[tuple[Any, ...]]:
    if isinstance(t, pa.Table):
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True)) if cols else []
    return [tuple(r) for r in t]


def compare(
    ours: Any, theirs: Any, ordered: bool, rel: float = 1e-9, exact: bool = False
) -> str | None:
    """None if the results agree (floats to ``rel``), else a description of the first difference.
    ``exact``: decimals must be ``Decimal`` on both sides and equal, doubles agree to 1e-12."""
    if exact:
        rel = min(rel, 1e-12)
    a, b = rows_of(ours), rows_of(theirs)
    if len(a) != len(b):
        return f"{len(a)} rows, expected {len(b)}"
    if not ordered:

        def key(r: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(
                (
                    x is None,
                    str(type(_norm(x))),
                    round(_norm(x), 6) if isinstance(_norm(x), float) else _norm(x),
                )
                for x in r
            )

        a, b = sorted(a, key=key), sorted(b, key=key)
    for i, (ra, rb) in enumerate(zip(a, b, strict=True)):
        same = all(_close(x, y, rel, exact) for x, y in zip(ra, rb, strict=True))
        if len(ra) != len(rb) or not same:
            return f"row {i}: {ra} != expected {rb}"
    return None
