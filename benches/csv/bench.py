"""The CSV cases of benches/columnar/csv_cases.py, runnable alone: ``minide bench csv``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from minide.bench import Case

_PATH = Path(__file__).resolve().parent.parent / "columnar" / "csv_cases.py"
_spec = importlib.util.spec_from_file_location("minide_bench_columnar_csv_cases", _PATH)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)


def cases(size: str) -> list[Case]:
    return list(_module.csv_cases(size))
