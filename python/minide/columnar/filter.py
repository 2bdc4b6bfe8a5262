"""Row filters: what a user writes -> the scan core's predicate nodes.

A filter is SQL text (``"price > 10 AND country IN ('DE', 'FR')"``), parsed by the SQL
engine's expression grammar (``minide.sql.parser.parse_expression``, imported only when a text
filter is used), or pyarrow-style tuples: a list of ``(column, op, value)`` (all must hold) or
a list of such lists (any of them). Both become node tuples that the bindings turn into the
Rust predicate tree (``rust/columnar/src/scan/predicate.rs``)::

    ("and", a, b) | ("or", a, b) | ("not", a)
    ("cmp", column, op, literal)          op in = != < <= > >=
    ("in", column, [literals], negated)
    ("isnull", column, negated)

Literals keep their types: None, bool, int, float, str, bytes, ``("decimal", unscaled, scale)``,
``("date", days)``, ``("timestamp", value, unit)``. Checking columns and types, pruning and
row evaluation all happen in Rust; this module only converts.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Sequence
from typing import Any

from minide.errors import InvalidArgumentError, SqlSyntaxError

Node = tuple[Any, ...]

_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_EPOCH = datetime.datetime(1970, 1, 1)


def literal(v: Any) -> Any:
    """A Python value as a typed literal node."""
    if v is None or isinstance(v, (bool, int, float, str, bytes)):
        return v
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise InvalidArgumentError(f"filter: {v} is not a finite decimal")
        sign, digits, exp = v.as_tuple()
        unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        if isinstance(exp, int) and 0 <= exp <= 38:
            return unscaled * 10**exp
        if isinstance(exp, int) and -38 <= exp < 0 and len(digits) <= 38:
            return ("decimal", unscaled, -exp)
        return float(v)  # beyond decimal128: compared as a float
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.UTC).replace(tzinfo=None)
        d = v - _EPOCH
        return ("timestamp", (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds, "us")
    if isinstance(v, datetime.date):
        return ("date", (v - _EPOCH.date()).days)
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    as_py = getattr(v, "as_py", None) or getattr(v, "item", None)  # pyarrow / numpy scalars
    if callable(as_py):
        return literal(as_py())
    raise InvalidArgumentError(f"filter: unsupported value {v!r} of type {type(v).__name__}")


def _tuple_node(t: Sequence[Any]) -> Node:
    if len(t) != 3:
        raise InvalidArgumentError(f"filter tuple must be (column, op, value), got {t!r}")
    col, op, value = t
    if not isinstance(col, str):
        raise InvalidArgumentError(f"filter tuple's column must be a string, got {col!r}")
    op = str(op).lower().strip()
    if op in ("in", "not in"):
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, set, frozenset)):
            raise InvalidArgumentError(f"filter: {op!r} needs a list of values, got {value!r}")
        return ("in", col, [literal(v) for v in value], op == "not in")
    if op in ("is", "is null"):
        return ("isnull", col, False)
    if op in ("is not", "is not null"):
        return ("isnull", col, True)
    if op not in _OPS:
        raise InvalidArgumentError(f"filter: unknown operator {op!r}")
    return ("cmp", col, _OPS[op], literal(value))


def _fold(kind: str, nodes: list[Node]) -> Node:
    out = nodes[0]
    for n in nodes[1:]:
        out = (kind, out, n)
    return out


def to_predicate(filter: Any, names: Sequence[str] = ()) -> Node:
    """The predicate nodes of ``filter`` (SQL text, tuples or lists of tuples). ``names`` are
    the columns of the data: SQL folds unquoted names to lower case, so an unquoted name that
    matches one column ignoring case refers to it."""
    if isinstance(filter, str):
        return _from_sql(filter, names)
    if isinstance(filter, Sequence) and filter:
        if all(isinstance(x, tuple) for x in filter):
            return _fold("and", [_tuple_node(x) for x in filter])
        if all(isinstance(x, list) and x for x in filter):
            return _fold("or", [to_predicate(x, names) for x in filter])
    raise InvalidArgumentError(
        f"filter must be a SQL string or a list of (column, op, value) tuples, got {filter!r}"
    )


def _from_sql(text: str, names: Sequence[str]) -> Node:
    from minide.sql import ast  # lazy: the SQL engine and lark load only for text filters
    from minide.sql.parser import parse_expression

    lower: dict[str, list[str]] = {}
    for n in names:
        lower.setdefault(n.lower(), []).append(n)

    def unsupported(e: Any) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"filter {text!r}: unsupported expression {e!r}; filters compare a column with "
            "constants (= != < <= > >= IN BETWEEN IS NULL) combined with AND, OR, NOT"
        )

    def column(e: Any) -> str | None:
        if not isinstance(e, ast.ColumnRef) or e.table is not None:
            return None
        if e.name in names:
            return e.name
        hits = lower.get(e.name.lower(), [])
        return hits[0] if len(hits) == 1 else e.name

    def const(e: Any) -> Any:
        if isinstance(e, ast.Literal):
            k, v = e.kind, e.value
            if k == "float" and isinstance(v, float):
                return literal(decimal.Decimal(repr(v)))  # the literal's own digits, exactly
            if k == "date":
                return literal(datetime.date.fromisoformat(str(v)))
            if k == "timestamp":
                return literal(datetime.datetime.fromisoformat(str(v)))
            if k == "decimal":
                return literal(decimal.Decimal(str(v)))
            return literal(v)
        if isinstance(e, ast.UnaryOp) and e.op == "neg":
            v = const(e.operand)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v
            if isinstance(v, tuple) and v[0] == "decimal":
                return ("decimal", -v[1], v[2])
        raise unsupported(e)

    def conv(e: Any) -> Node:
        if isinstance(e, ast.BinaryOp) and e.op in ("and", "or"):
            return (e.op, conv(e.left), conv(e.right))
        if isinstance(e, ast.UnaryOp) and e.op == "not":
            return ("not", conv(e.operand))
        if isinstance(e, ast.BinaryOp) and e.op in _OPS:
            op = _OPS[e.op]
            col = column(e.left)
            if col is not None:
                return ("cmp", col, op, const(e.right))
            col = column(e.right)
            if col is not None:
                return ("cmp", col, _FLIP[op], const(e.left))
            raise unsupported(e)
        if isinstance(e, ast.IsNull) and (col := column(e.expr)) is not None:
            return ("isnull", col, e.negated)
        if isinstance(e, ast.Between) and (col := column(e.expr)) is not None:
            node: Node = (
                "and",
                ("cmp", col, ">=", const(e.low)),
                ("cmp", col, "<=", const(e.high)),
            )
            return ("not", node) if e.negated else node
        if isinstance(e, ast.InList) and (col := column(e.expr)) is not None:
            return ("in", col, [const(x) for x in e.items], e.negated)
        if (col := column(e)) is not None:
            return ("cmp", col, "=", True)  # a boolean column alone
        if isinstance(e, ast.Literal) and e.kind in ("bool", "null"):
            return ("const", e.value)
        raise unsupported(e)

    try:
        parsed = parse_expression(text)
    except SqlSyntaxError as e:
        raise InvalidArgumentError(f"filter {text!r}: {e}") from None
    return conv(parsed)
