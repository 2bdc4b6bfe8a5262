"""Row filters for ``read_parquet(filter=...)``: parsing, literal conversion and pruning.

A filter is a SQL boolean expression (``"price > 10 AND country IN ('DE', 'FR')"``) or
pyarrow-style tuples: a list of ``(column, op, value)`` (all must hold) or a list of such lists
(any of them). Both become one expression tree::

    ("and", a, b) | ("or", a, b) | ("not", a)
    ("cmp", column, op, value)        op in = != < <= > >=
    ("in", column, [values], negated)
    ("isnull", column, negated)

``may_match`` decides from column-chunk statistics whether a row group can hold a matching row
(pruning); the exact per-row evaluation runs in Rust (``rust/columnar/src/parquet/filter.rs``).
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from minide.errors import InvalidArgumentError, SchemaError

Expr = tuple[Any, ...]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+\.\d*(?:[eE][-+]?\d+)?|-?\d+(?:[eE][-+]?\d+)?)
    | (?P<str>'(?:[^']|'')*')
    | (?P<qid>"(?:[^"]|"")*")
    | (?P<op><=|>=|<>|!=|==|=|<|>|\(|\)|,)
    | (?P<id>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)

_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _tokenize(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidArgumentError(
                f"filter: cannot parse at {text[pos : pos + 20]!r} (position {pos})"
            )
        pos = m.end()
        kind = m.lastgroup
        val = m.group(kind or "")
        if kind == "num":
            out.append(("lit", float(val) if any(c in val for c in ".eE") else int(val)))
        elif kind == "str":
            out.append(("lit", val[1:-1].replace("''", "'")))
        elif kind == "qid":
            out.append(("id", val[1:-1].replace('""', '"')))
        elif kind == "op":
            out.append(("op", val))
        else:
            word = val.upper()
            if word in ("AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "TRUE", "FALSE"):
                if word in ("TRUE", "FALSE"):
                    out.append(("lit", word == "TRUE"))
                else:
                    out.append(("kw", word))
            else:
                out.append(("id", val))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.text = text

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> Any:
        t = self.peek()
        if t is None or t[0] != kind or (value is not None and t[1] != value):
            want = value or kind
            raise InvalidArgumentError(
                f"filter: expected {want} in {self.text!r}, got {t[1] if t else 'end'}"
            )
        self.i += 1
        return t[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        t = self.peek()
        if t is not None and t[0] == kind and (value is None or t[1] == value):
            self.i += 1
            return True
        return False

    def parse(self) -> Expr:
        e = self.or_()
        if self.peek() is not None:
            raise InvalidArgumentError(f"filter: unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return e

    def or_(self) -> Expr:
        e = self.and_()
        while self.accept("kw", "OR"):
            e = ("or", e, self.and_())
        return e

    def and_(self) -> Expr:
        e = self.not_()
        while self.accept("kw", "AND"):
            e = ("and", e, self.not_())
        return e

    def not_(self) -> Expr:
        if self.accept("kw", "NOT"):
            return ("not", self.not_())
        return self.predicate()

    def literal(self) -> Any:
        if self.accept("kw", "NULL"):
            return None
        return self.take("lit")

    def predicate(self) -> Expr:
        if self.accept("op", "("):
            e = self.or_()
            self.take("op", ")")
            return e
        col = self.take("id")
        if self.accept("kw", "IS"):
            negated = self.accept("kw", "NOT")
            self.take("kw", "NULL")
            return ("isnull", col, negated)
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            values = [self.literal()]
            while self.accept("op", ","):
                values.append(self.literal())
            self.take("op", ")")
            return ("in", col, values, negated)
        if self.accept("kw", "BETWEEN"):
            lo = self.literal()
            self.take("kw", "AND")
            hi = self.literal()
            e: Expr = ("and", ("cmp", col, ">=", lo), ("cmp", col, "<=", hi))
            return ("not", e) if negated else e
        if negated:
            raise InvalidArgumentError(
                f"filter: NOT must be followed by IN or BETWEEN in {self.text!r}"
            )
        op = self.take("op")
        if op not in _OPS:
            raise InvalidArgumentError(f"filter: unknown operator {op!r}")
        return ("cmp", col, _OPS[op], self.literal())


def _tuple_expr(t: Sequence[Any]) -> Expr:
    if len(t) != 3:
        raise InvalidArgumentError(f"filter tuple must be (column, op, value), got {t!r}")
    col, op, value = t
    op = str(op).lower().strip()
    if op in ("in", "not in"):
        return ("in", col, list(value), op == "not in")
    if op in ("is", "is null"):
        return ("isnull", col, False)
    if op in ("is not", "is not null"):
        return ("isnull", col, True)
    if op not in _OPS:
        raise InvalidArgumentError(f"filter: unknown operator {op!r}")
    return ("cmp", col, _OPS[op], value)


class Parsed:
    """An already parsed filter expression, passed on as a ``filter`` argument (datasets hand
    each file the part of the filter its partition values leave open)."""

    def __init__(self, expr: Expr) -> None:
        self.expr = expr


def parse_filter(filter: Any) -> Expr:
    """A SQL string, a list of (column, op, value) tuples, or a list of lists of them."""
    if isinstance(filter, Parsed):
        return filter.expr
    if isinstance(filter, str):
        return _Parser(filter).parse()
    if isinstance(filter, Sequence) and filter:
        if all(isinstance(x, tuple) for x in filter):
            exprs = [_tuple_expr(x) for x in filter]
            e = exprs[0]
            for x in exprs[1:]:
                e = ("and", e, x)
            return e
        if all(isinstance(x, list) for x in filter):
            ors = [parse_filter(x) for x in filter]
            e = ors[0]
            for x in ors[1:]:
                e = ("or", e, x)
            return e
    raise InvalidArgumentError(
        f"filter must be a SQL string or a list of (column, op, value) tuples, got {filter!r}"
    )


def columns_of(e: Expr) -> set[str]:
    kind = e[0]
    if kind in ("and", "or"):
        return columns_of(e[1]) | columns_of(e[2])
    if kind == "not":
        return columns_of(e[1])
    return {e[1]}


def to_physical(value: Any, t: pa.DataType) -> Any:
    """A literal in the representation the file stores for type `t` (ints for dates and
    timestamps in the file's unit, Decimal for decimals)."""
    if value is None:
        return None
    try:
        if pa.types.is_date32(t) or pa.types.is_timestamp(t) or pa.types.is_time(t):
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            storage = pa.int32() if pa.types.is_date32(t) or t == pa.time32("ms") else pa.int64()
            src = value
            if pa.types.is_timestamp(t) and isinstance(src, str):
                src = datetime.datetime.fromisoformat(src)
            if pa.types.is_date32(t) and isinstance(src, str):
                src = datetime.date.fromisoformat(src)
            return pa.scalar(src).cast(t).cast(storage).as_py()
        if pa.types.is_decimal(t):
            return decimal.Decimal(str(value))
        if pa.types.is_floating(t):
            return float(value)
        if pa.types.is_integer(t):
            if isinstance(value, float):
                return value
            return int(value)
        if pa.types.is_boolean(t):
            return bool(value)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return str(value)
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return value if isinstance(value, bytes) else str(value).encode()
    except (ValueError, TypeError, pa.ArrowException) as e:
        raise InvalidArgumentError(f"filter literal {value!r} does not fit type {t}: {e}") from e
    raise InvalidArgumentError(f"filter on a column of type {t} is not supported")


def bind(e: Expr, schema: pa.Schema) -> Expr:
    """Check columns and convert literals to the file's physical representation."""
    kind = e[0]
    if kind in ("and", "or"):
        return (kind, bind(e[1], schema), bind(e[2], schema))
    if kind == "not":
        return ("not", bind(e[1], schema))
    col = e[1]
    idx = schema.get_field_index(col)
    if idx < 0:
        raise SchemaError(
            f"filter column {col!r} is not in the file (columns: {', '.join(schema.names)})"
        )
    t = schema.field(idx).type
    if kind == "cmp":
        return ("cmp", col, e[2], to_physical(e[3], t))
    if kind == "in":
        return ("in", col, [to_physical(v, t) for v in e[2]], e[3])
    return e


# Pruning: three-valued "can any row match?" from per-column (min, max, null_count, rows).
Stats = Mapping[str, tuple[Any, Any, int | None, int]]


def _cmp_may(op: str, lo: Any, hi: Any, v: Any) -> bool:
    try:
        if op == "=":
            return bool(lo <= v <= hi)
        if op == "!=":
            return not (lo == hi == v)
        if op == "<":
            return bool(lo < v)
        if op == "<=":
            return bool(lo <= v)
        if op == ">":
            return bool(hi > v)
        if op == ">=":
            return bool(hi >= v)
    except TypeError:
        return True
    return True


def may_match(e: Expr, stats: Stats) -> bool:
    """False only when no row described by `stats` can satisfy `e` (a safe prune)."""
    kind = e[0]
    if kind == "and":
        return may_match(e[1], stats) and may_match(e[2], stats)
    if kind == "or":
        return may_match(e[1], stats) or may_match(e[2], stats)
    if kind == "not":
        return True  # negations are not pruned (would need "all rows match")
    col = e[1]
    if col not in stats:
        return True
    lo, hi, nulls, rows = stats[col]
    if kind == "isnull":
        if nulls is None:
            return True
        return nulls < rows if e[2] else nulls > 0
    if nulls is not None and nulls == rows:
        return False  # only nulls: no comparison is true
    if lo is None or hi is None:
        return True
    if isinstance(lo, float) and (lo != lo or hi != hi):
        return True
    if kind == "cmp":
        v = e[3]
        if v is None:
            return False
        return _cmp_may(e[2], lo, hi, v)
    if kind == "in":
        if e[3]:
            return True
        return any(v is not None and _cmp_may("=", lo, hi, v) for v in e[2])
    return True


# Datasets: partition columns (and columns a file lacks) are constants per file. ``residual``
# evaluates the predicates on them and leaves the rest for the file's own pushdown.

_NEGATE = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def to_nnf(e: Expr) -> Expr:
    """Push NOTs down to the predicates (De Morgan; ``NOT a < 1`` is ``a >= 1``). Equivalent
    in SQL's three-valued logic; afterwards "unknown" behaves as "false" for keeping a row."""
    kind = e[0]
    if kind in ("and", "or"):
        return (kind, to_nnf(e[1]), to_nnf(e[2]))
    if kind != "not":
        return e
    inner = e[1]
    k = inner[0]
    if k == "not":
        return to_nnf(inner[1])
    if k == "and":
        return ("or", to_nnf(("not", inner[1])), to_nnf(("not", inner[2])))
    if k == "or":
        return ("and", to_nnf(("not", inner[1])), to_nnf(("not", inner[2])))
    if k == "cmp":
        return ("cmp", inner[1], _NEGATE[inner[2]], inner[3])
    if k == "in":
        return ("in", inner[1], inner[2], not inner[3])
    return ("isnull", inner[1], not inner[2])  # isnull


def _holds(e: Expr, v: Any) -> bool:
    """Whether predicate `e` is TRUE for constant `v` (None = null; unknown counts as false)."""
    kind = e[0]
    if kind == "isnull":
        return (v is None) != e[2]
    if v is None:
        return False
    try:
        if kind == "cmp":
            lit = e[3]
            if lit is None:
                return False
            return bool(_CMP[e[2]](v, lit))
        values = [x for x in e[2] if x is not None]
        found = any(v == x for x in values)
        if e[3]:
            return not found and len(values) == len(e[2])
        return found
    except TypeError as err:
        raise InvalidArgumentError(f"filter: cannot compare {v!r} with {e}: {err}") from err


_CMP: dict[str, Any] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def residual(e: Expr, constants: Mapping[str, Any]) -> Expr | bool:
    """`e` (in NNF) with the predicates on `constants` evaluated: True (every row matches),
    False (no row does) or the expression left for the file's columns."""
    kind = e[0]
    if kind in ("and", "or"):
        a = residual(e[1], constants)
        b = residual(e[2], constants)
        if kind == "and":
            if a is False or b is False:
                return False
            if a is True:
                return b
            return a if b is True else ("and", a, b)
        if a is True or b is True:
            return True
        if a is False:
            return b
        return a if b is False else ("or", a, b)
    if kind == "not":
        raise InvalidArgumentError("internal: residual() needs an expression in NNF")
    if e[1] in constants:
        return _holds(e, constants[e[1]])
    return e
