"""Scalar functions: argument checks and result types. The kernels live in
``rust/sql/src/expr/func.rs`` (and ``binary.rs`` for operators)."""

from __future__ import annotations

from collections.abc import Callable

from minide.errors import PlanError
from minide.sql.expr import BExpr, Const, Func
from minide.sql.types import BOOL, DATE, FLOAT, INT, NULL, STR, TS, common_type

AGGREGATES = {"sum", "count", "avg", "min", "max", "bool_and", "bool_or", "every"}


def _cast(e: BExpr, t: str) -> BExpr:
    from minide.sql.binder import cast_to

    return cast_to(e, t)


def _numeric(name: str, e: BExpr) -> None:
    if e.type not in (INT, FLOAT, NULL):
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


def _str_fn(name: str) -> Callable[[list[BExpr]], BExpr]:
    return lambda args: Func(name, (_string(name, args[0]),), STR)


def _coalesce(args: list[BExpr]) -> BExpr:
    t = NULL
    for a in args:
        t = common_type(t, a.type, "coalesce()")
    if t == NULL:
        return Const(None, NULL)
    return Func("coalesce", tuple(_cast(a, t) for a in args), t)


def _nullif(args: list[BExpr]) -> BExpr:
    a, b = args
    t = common_type(a.type, b.type, "nullif()")
    a2, b2 = _cast(a, t), _cast(b, t)
    return Func("case", (Func("eq", (a2, b2), BOOL), Const(None, t), a2), t, True)


def _abs(args: list[BExpr]) -> BExpr:
    _numeric("abs", args[0])
    t = INT if args[0].type == INT else FLOAT
    return Func("abs", (_cast(args[0], t),), t)


def _round(args: list[BExpr]) -> BExpr:
    _numeric("round", args[0])
    extra: tuple[BExpr, ...] = ()
    if len(args) > 1:
        if not isinstance(args[1], Const) or args[1].type != INT:
            raise PlanError("round(x, digits): digits must be an integer constant")
        extra = (args[1],)
    return Func("round", (_cast(args[0], FLOAT), *extra), FLOAT)


def _length(args: list[BExpr]) -> BExpr:
    return Func("length", (_string("length", args[0]),), INT)


def _substring(args: list[BExpr]) -> BExpr:
    s = _string("substring", args[0])
    rest = []
    for a in args[1:]:
        if a.type not in (INT, NULL):
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
    if e.type not in (DATE, TS):
        raise PlanError(f"EXTRACT expects a date or timestamp, got {e.type}")
    return Func(f"extract_{field}", (e,), INT)


#: name -> (min args, max args, builder)
SCALARS: dict[str, tuple[int, int, Callable[[list[BExpr]], BExpr]]] = {
    "coalesce": (1, 99, _coalesce),
    "ifnull": (2, 2, _coalesce),
    "nullif": (2, 2, _nullif),
    "abs": (1, 1, _abs),
    "round": (1, 2, _round),
    "floor": (1, 1, _float_fn("floor")),
    "ceil": (1, 1, _float_fn("ceil")),
    "ceiling": (1, 1, _float_fn("ceil")),
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
