"""Scalar functions: argument checks and result types. The kernels live in
``rust/sql/src/expr/func.rs`` (and ``binary.rs`` for operators)."""

from __future__ import annotations

from collections.abc import Callable

from minide.errors import PlanError, UnsupportedError
from minide.sql.expr import BExpr, Const, Func
from minide.sql.types import (
    BOOL,
    DATE,
    FLOAT,
    FLOAT32,
    INT,
    NULL,
    STR,
    TIMESTAMPS,
    dec,
    dec_ps,
    is_dec,
    is_int,
    is_numeric,
    sql_name,
)

AGGREGATES = {"sum", "count", "avg", "min", "max", "bool_and", "bool_or", "every"}


def _cast(e: BExpr, t: str) -> BExpr:
    from minide.sql.binder import cast_to

    return cast_to(e, t)


def _numeric(name: str, e: BExpr) -> None:
    if not is_numeric(e.type) and e.type != NULL:
        raise PlanError(f"{name}() expects a number, got {e.type}")


def _string(name: str, e: BExpr) -> BExpr:
    if e.type not in (STR, NULL):
        raise PlanError(f"{name}() expects a string, got {e.type}")
    return _cast(e, STR)


def _float_fn(name: str) -> Callable[[list[BExpr]], BExpr]:
    def f(args: list[BExpr]) -> BExpr:
        _numeric(name, args[0])
        return Func(name, (_cast(args[0], FLOAT),), FLOAT)

    return f


def _floor_ceil(name: str) -> Callable[[list[BExpr]], BExpr]:
    def f(args: list[BExpr]) -> BExpr:
        _numeric(name, args[0])
        if is_dec(args[0].type):
            p, s = dec_ps(args[0].type)
            if s == 0:
                return args[0]
            return Func(f"{name}_dec", (args[0], Const(s, INT)), dec(p, 0))
        if args[0].type == FLOAT32:  # DuckDB: floor(REAL) is a REAL
            return Func(name, (args[0],), FLOAT32)
        return Func(name, (_cast(args[0], FLOAT),), FLOAT)

    return f


def _str_fn(name: str) -> Callable[[list[BExpr]], BExpr]:
    return lambda args: Func(name, (_string(name, args[0]),), STR)


def _unify(args: list[BExpr], what: str) -> str:
    from minide.sql.scope import unify

    return unify(args, what)


def _coalesce(args: list[BExpr]) -> BExpr:
    t = _unify(args, "coalesce()")
    if t == NULL:
        return Const(None, NULL)
    return Func("coalesce", tuple(_cast(a, t) for a in args), t)


def _nullif(args: list[BExpr]) -> BExpr:
    a, b = args
    t = _unify([a, b], "nullif()")
    a2, b2 = _cast(a, t), _cast(b, t)
    # the result keeps the first argument's type (DuckDB: NULLIF(DECIMAL(7,3), 0) is (7,3))
    r = a if a.type != NULL else a2
    return Func("case", (Func("eq", (a2, b2), BOOL), Const(None, r.type), r), r.type, True)


def _abs(args: list[BExpr]) -> BExpr:
    _numeric("abs", args[0])
    a = args[0].type
    t = a if is_int(a) or is_dec(a) or a == FLOAT32 else FLOAT
    return Func("abs", (_cast(args[0], t),), t)


def _round(args: list[BExpr]) -> BExpr:
    _numeric("round", args[0])
    extra: tuple[BExpr, ...] = ()
    if len(args) > 1:
        if not isinstance(args[1], Const) or args[1].type != INT:
            raise PlanError("round(x, digits): digits must be an integer constant")
        extra = (args[1],)
    if is_dec(args[0].type):
        # DuckDB: round(DECIMAL(p, s), n) is DECIMAL(p, n) for 0 <= n < s, rounded half away
        # from zero, which is exactly a CAST to that type.
        p, s = dec_ps(args[0].type)
        n = int(args[1].value) if len(args) > 1 and isinstance(args[1], Const) else 0
        if n < 0:
            raise UnsupportedError("round(decimal, digits) with negative digits")
        return args[0] if n >= s else _cast(args[0], dec(p, n))
    if args[0].type == FLOAT32:  # DuckDB: round(REAL) is a REAL
        return Func("round", (args[0], *extra), FLOAT32)
    return Func("round", (_cast(args[0], FLOAT), *extra), FLOAT)


def _length(args: list[BExpr]) -> BExpr:
    return Func("length", (_string("length", args[0]),), INT)


def _substring(args: list[BExpr]) -> BExpr:
    s = _string("substring", args[0])
    rest = []
    for a in args[1:]:
        if not is_int(a.type) and a.type != NULL:
            raise PlanError(f"substring() positions must be integers, got {a.type}")
        rest.append(_cast(a, INT))
    return Func("substring", (s, *rest), STR)


def _str2bool(name: str) -> Callable[[list[BExpr]], BExpr]:
    return lambda args: Func(name, (_string(name, args[0]), _string(name, args[1])), BOOL)


def _date_part(field: str) -> Callable[[list[BExpr]], BExpr]:
    def f(args: list[BExpr]) -> BExpr:
        return extract(field, args[0])

    return f


def _date_part_fn(args: list[BExpr]) -> BExpr:
    if not isinstance(args[0], Const) or args[0].type != STR:
        raise PlanError("date_part(field, date): field must be a string constant")
    return extract(str(args[0].value), args[1])


_EXTRACT = {"year", "month", "day", "quarter", "dow", "doy"}


def extract(field: str, e: BExpr) -> BExpr:
    field = field.lower()
    if field not in _EXTRACT:
        raise PlanError(
            f"EXTRACT({field} ...) is not supported; use one of {', '.join(sorted(_EXTRACT))}"
        )
    if e.type not in (DATE, *TIMESTAMPS):
        raise PlanError(f"EXTRACT expects a date or timestamp, got {e.type}")
    return Func(f"extract_{field}", (e,), INT)


def _typeof(args: list[BExpr]) -> BExpr:
    """typeof(x): the SQL name of x's type, as DuckDB spells it (a constant)."""
    return Const(sql_name(args[0].type), STR)


#: name -> (min args, max args, builder)
SCALARS: dict[str, tuple[int, int, Callable[[list[BExpr]], BExpr]]] = {
    "coalesce": (1, 99, _coalesce),
    "ifnull": (2, 2, _coalesce),
    "nullif": (2, 2, _nullif),
    "abs": (1, 1, _abs),
    "round": (1, 2, _round),
    "floor": (1, 1, _floor_ceil("floor")),
    "ceil": (1, 1, _floor_ceil("ceil")),
    "ceiling": (1, 1, _floor_ceil("ceil")),
    "sqrt": (1, 1, _float_fn("sqrt")),
    "ln": (1, 1, _float_fn("ln")),
    "exp": (1, 1, _float_fn("exp")),
    "upper": (1, 1, _str_fn("upper")),
    "lower": (1, 1, _str_fn("lower")),
    "trim": (1, 1, _str_fn("trim")),
    "ltrim": (1, 1, _str_fn("ltrim")),
    "rtrim": (1, 1, _str_fn("rtrim")),
    "reverse": (1, 1, _str_fn("reverse")),
    "length": (1, 1, _length),
    "char_length": (1, 1, _length),
    "substring": (2, 3, _substring),
    "substr": (2, 3, _substring),
    "starts_with": (2, 2, _str2bool("starts_with")),
    "contains": (2, 2, _str2bool("contains")),
    "year": (1, 1, _date_part("year")),
    "month": (1, 1, _date_part("month")),
    "day": (1, 1, _date_part("day")),
    "date_part": (2, 2, _date_part_fn),
    "typeof": (1, 1, _typeof),
}


def call_scalar(name: str, args: list[BExpr]) -> BExpr:
    spec = SCALARS.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, [*SCALARS, *AGGREGATES], n=1)
        hint = f"; did you mean {close[0]}()?" if close else ""
        raise PlanError(f"unknown function {name}(){hint}")
    lo, hi, build = spec
    if not lo <= len(args) <= hi:
        raise PlanError(f"{name}() takes {lo}..{hi} arguments, got {len(args)}")
    return build(args)
