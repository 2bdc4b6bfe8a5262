"""Query parameters (``?`` and ``$n``): Python values -> typed constants for the binder.

The parser turns each placeholder into an :class:`ast.Parameter` node; the connection converts
the caller's values once per execution with :func:`bind_params` and the binder replaces each
``Parameter`` by the matching :class:`Const`. Values never enter the SQL text, so a string
parameter is always data, whatever characters it holds.

The Python type -> engine type mapping is the one table :data:`PARAM_TYPES`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from minide.errors import DataError, ProgrammingError
from minide.sql import ast
from minide.sql.expr import Const
from minide.sql.types import BOOL, DATE, EPOCH, FLOAT, INT, NULL, STR, TS, TSTZ

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_EPOCH_TS = dt.datetime(1970, 1, 1)


def _int(v: Any) -> Const:
    n = int(v)
    if not _I64_MIN <= n <= _I64_MAX:
        raise DataError(f"integer {n} is out of range for int64")
    return Const(n, INT)


def _timestamp(v: dt.datetime) -> Const:
    # An aware datetime is an instant: TIMESTAMP WITH TIME ZONE, held as its UTC time (as
    # DuckDB binds it); a naive one is a TIMESTAMP.
    if v.tzinfo is not None:
        v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return Const((v - _EPOCH_TS) // dt.timedelta(microseconds=1), TSTZ)
    return Const((v - _EPOCH_TS) // dt.timedelta(microseconds=1), TS)


def _decimal(v: decimal.Decimal) -> Const:
    # Typed as the same digits written as a literal would be (``Decimal("1.50")`` is
    # DECIMAL(3, 2), as DuckDB binds it): one rule, the binder's.
    from minide.sql.bind_expr import decimal_literal

    if not v.is_finite():
        raise DataError(f"decimal parameter {v} is not a finite number")
    return decimal_literal(format(v, "f"))


#: Python type -> typed constant, first match wins (bool before int: a bool is an int;
#: datetime before date: a datetime is a date). ``None`` is an untyped NULL that takes its type
#: from where it is used, as a NULL literal does.
PARAM_TYPES: tuple[tuple[type, Callable[[Any], Const]], ...] = (
    (bool, lambda v: Const(bool(v), BOOL)),
    (int, _int),
    (float, lambda v: Const(float(v), FLOAT)),
    (str, lambda v: Const(v, STR)),
    (decimal.Decimal, _decimal),
    (dt.datetime, _timestamp),
    (dt.date, lambda v: Const((v - EPOCH).days, DATE)),
    # numpy scalars and other registered numbers
    (numbers.Integral, _int),
    (numbers.Real, lambda v: Const(float(v), FLOAT)),
)


def param_const(value: Any, position: int) -> Const:
    """The typed constant for parameter number ``position`` (1-based, for messages)."""
    if value is None:
        return Const(None, NULL)
    for py_type, convert in PARAM_TYPES:
        if isinstance(value, py_type):
            try:
                return convert(value)
            except DataError as e:
                raise DataError(f"parameter {position}: {e}") from None
    known = "int, float, str, bool, None, decimal.Decimal, datetime.date, datetime.datetime"
    raise ProgrammingError(
        f"parameter {position} has unsupported type {type(value).__name__}; supported: {known}"
    )


def bind_params(script: ast.Script, params: Any) -> tuple[Const, ...]:
    """Check ``params`` against the placeholders of ``script`` and type every value."""
    if params is None:
        params = ()
    if isinstance(params, Mapping):
        raise ProgrammingError(
            "named parameters are not supported: pass a sequence for ? or $1, $2, ... placeholders"
        )
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise ProgrammingError(
            f"parameters must be a sequence (list or tuple), got {type(params).__name__}"
        )
    want = script.param_count
    if len(params) != want:
        where = "?" if script.paramstyle == "qmark" else "$1..$n"
        has = (
            f"{want} placeholder{'s' if want != 1 else ''} ({where})" if want else "no placeholders"
        )
        raise ProgrammingError(
            f"wrong number of parameters: the SQL has {has} but {len(params)} "
            f"parameter{'s were' if len(params) != 1 else ' was'} given"
        )
    return tuple(param_const(v, i + 1) for i, v in enumerate(params))


def has_parameters(node: Any) -> bool:
    """Whether an AST subtree contains a placeholder."""
    return any(isinstance(n, ast.Parameter) for n in _walk(node))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from _walk(getattr(node, f.name))
    elif isinstance(node, tuple | list):
        for x in node:
            yield from _walk(x)


# ------------------------------------------------------------------------------------------------
# executemany of INSERT ... VALUES: one statement for many parameter sets
# ------------------------------------------------------------------------------------------------


def values_insert(script: ast.Script) -> ast.Insert | None:
    """The statement if ``script`` is a single ``INSERT INTO t [cols] VALUES (...)`` with
    placeholders: ``executemany`` can then insert many parameter sets at once."""
    if len(script.statements) != 1 or not script.param_count:
        return None
    stmt = script.statements[0]
    if not isinstance(stmt, ast.Insert):
        return None
    q = stmt.query
    plain = not (q.with_ or q.order_by) and q.limit is None and q.offset is None
    return stmt if plain and isinstance(q.body, ast.Values) else None


def stack_values(
    stmt: ast.Insert, sets: Sequence[tuple[Const, ...]], width: int
) -> tuple[ast.Insert, tuple[Const, ...]] | None:
    """One INSERT whose VALUES holds the template rows once per parameter set (placeholders
    renumbered, values still typed constants), or None when a parameter position has values of
    different types across the sets (VALUES would unify them; row by row keeps each exact)."""
    for i in range(width):
        if len({s[i].type for s in sets} - {NULL}) > 1:
            return None
    assert isinstance(stmt.query.body, ast.Values)
    template = stmt.query.body.rows
    rows = tuple(
        tuple(_shift(e, k * width) for e in row) for k in range(len(sets)) for row in template
    )
    query = dataclasses.replace(stmt.query, body=ast.Values(rows))
    return dataclasses.replace(stmt, query=query), tuple(c for s in sets for c in s)


def _shift(node: Any, offset: int) -> Any:
    if isinstance(node, ast.Parameter):
        return ast.Parameter(node.index + offset)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _shift(getattr(node, f.name), offset) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
    if isinstance(node, tuple):
        return tuple(_shift(x, offset) for x in node)
    return node
