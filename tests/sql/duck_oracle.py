"""What the DuckDB differential tests share: when two result values are the same."""

from __future__ import annotations

import decimal
import math
from typing import Any


def same_value(x: Any, y: Any) -> bool:
    """Equal results: decimals as ``Decimal`` of the same type, doubles to 1e-12 relative (NaN
    equals NaN), everything else by ``==``."""
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, decimal.Decimal) or isinstance(y, decimal.Decimal):
        return type(x) is type(y) and x == y
    if isinstance(x, float) or isinstance(y, float):
        fx, fy = float(x), float(y)
        if math.isnan(fx) or math.isnan(fy):
            return math.isnan(fx) and math.isnan(fy)
        return fx == fy or abs(fx - fy) <= 1e-12 * max(abs(fx), abs(fy))
    return bool(x == y)
