"""Binder helpers: CAST to DECIMAL(p, s) and window frame validation (split from binder.py)."""

from __future__ import annotations

from minide.errors import PlanError, UnsupportedError
from minide.sql import ast
from minide.sql.expr import BExpr
from minide.sql.scope import WINDOW_ONLY, cast_to
from minide.sql.types import from_sql


def cast_expr(x: BExpr, t: ast.TypeName) -> BExpr:
    """CAST; ``DECIMAL`` alone is DECIMAL(18, 3) as in DuckDB, and rounding to fewer fraction
    digits is half away from zero."""
    return cast_to(x, from_sql(t.name, tuple(t.params)))


_BOUND_RANK = {
    "unbounded_preceding": 0,
    "preceding": 1,
    "current_row": 2,
    "following": 3,
    "unbounded_following": 4,
}


def window_frame(
    f: ast.Frame | None, func: str, ordered: bool
) -> tuple[str, tuple[str, int | None], tuple[str, int | None]] | None:
    """The window frame as the planner carries it; None for the default frame (and for
    ranking and offset functions, which ignore frames as in DuckDB)."""
    if f is None or func in WINDOW_ONLY:
        return None
    lo, hi = f.start, f.end
    if lo.kind == "unbounded_following" or hi.kind == "unbounded_preceding":
        raise PlanError(
            f"window frame cannot start at {lo.kind.replace('_', ' ').upper()} "
            f"or end at {hi.kind.replace('_', ' ').upper()}"
        )
    if _BOUND_RANK[lo.kind] > _BOUND_RANK[hi.kind]:
        raise PlanError("window frame starts after it ends")
    if f.unit == "range" and (lo.offset is not None or hi.offset is not None):
        raise UnsupportedError(
            "RANGE frames with PRECEDING/FOLLOWING offsets (use ROWS, or UNBOUNDED/CURRENT ROW)"
        )
    if f.unit == "range" and not ordered:
        # without ORDER BY every row is a peer: any RANGE frame is the whole partition
        return ("range", ("unbounded_preceding", None), ("unbounded_following", None))
    frame = (f.unit, (lo.kind, lo.offset), (hi.kind, hi.offset))
    default = ("range", ("unbounded_preceding", None), ("current_row", None))
    return None if frame == default and ordered else frame
