"""The engine's logical types (mirrors ``rust/sql/src/types.rs``) and the binder's coercion rules.

``bool int64 float64 utf8 date32 timestamp timestamptz`` are column types, and so are DuckDB's
narrow ``int8 int16 int32`` (TINYINT, SMALLINT, INTEGER) and ``float32`` (REAL/FLOAT): a column
keeps its width through the query and comes back in it; inside the executor they are held as
int64 / float64, and arithmetic on them is checked against their range (rounded to f32 for REAL).
``null`` is the type of an untyped NULL literal and ``interval`` the type of an interval constant
(only valid in date arithmetic).
``decimal(p,s)`` is an exact decimal with precision ``p`` (1..38) and scale ``s``: the executor
holds it as a scaled integer (i64 when p <= 18, i128 above). The result-type rules below are
DuckDB's (see docs/sql.md, "Decimal semantics").
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import struct

import pyarrow as pa

from minide.errors import PlanError

BOOL, INT, FLOAT, STR, DATE, TS, NULL, INTERVAL = (
    "bool",
    "int64",
    "float64",
    "utf8",
    "date32",
    "timestamp",
    "null",
    "interval",
)
INT8, INT16, INT32, FLOAT32 = "int8", "int16", "int32", "float32"
#: TIMESTAMP WITH TIME ZONE: an instant, held as UTC microseconds like TIMESTAMP; results are
#: ``timestamp[us, tz=UTC]`` (the session time zone is always UTC here)
TSTZ = "timestamptz"
TIMESTAMPS = (TS, TSTZ)
#: the integer types, narrowest first
INTS = (INT8, INT16, INT32, INT)
FLOATS = (FLOAT32, FLOAT)
NUMERIC = (*INTS, *FLOATS)
_INT_BITS = {INT8: 8, INT16: 16, INT32: 32, INT: 64}
EPOCH = dt.date(1970, 1, 1)

_SQL_TYPES = {
    "boolean": BOOL,
    "bool": BOOL,
    "tinyint": INT8,
    "int1": INT8,
    "smallint": INT16,
    "int2": INT16,
    "int": INT32,
    "integer": INT32,
    "int4": INT32,
    "int32": INT32,
    "bigint": INT,
    "int8": INT,
    "int64": INT,
    "hugeint": INT,
    "real": FLOAT32,
    "float": FLOAT32,
    "float4": FLOAT32,
    "float32": FLOAT32,
    "float8": FLOAT,
    "double": FLOAT,
    "float64": FLOAT,
    "varchar": STR,
    "char": STR,
    "text": STR,
    "string": STR,
    "utf8": STR,
    "date": DATE,
    "timestamp": TS,
    "datetime": TS,
    "timestamptz": TSTZ,
}


MAX_PRECISION = 38
#: widest precision held as a scaled i64 in the executor
MAX_I64_PRECISION = 18
_DEC_RE = re.compile(r"decimal\((\d+),(\d+)\)")


def dec(p: int, s: int) -> str:
    """The type name of DECIMAL(p, s)."""
    return f"decimal({p},{s})"


def is_dec(t: str) -> bool:
    return t.startswith("decimal(")


def dec_ps(t: str) -> tuple[int, int]:
    """(precision, scale) of a decimal type name."""
    m = _DEC_RE.fullmatch(t)
    if m is None:
        raise PlanError(f"internal: {t!r} is not a decimal type")
    return int(m.group(1)), int(m.group(2))


def is_numeric(t: str) -> bool:
    return t in NUMERIC or is_dec(t)


def is_int(t: str) -> bool:
    return t in _INT_BITS


def int_fits(value: int, t: str) -> bool:
    """Whether the integer ``value`` is in the range of the integer type ``t``."""
    bits = _INT_BITS[t]
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


def to_f32(x: float) -> float:
    """``x`` rounded to the nearest REAL (f32), as a Python float."""
    try:
        return float(struct.unpack("f", struct.pack("f", x))[0])
    except OverflowError:
        raise ValueError(f"{x} is out of range for FLOAT") from None


def int_type_of(value: int) -> str:
    """The narrowest integer type holding ``value`` (INTEGER at least, as DuckDB types a literal
    that does not fit the column it meets)."""
    return next((t for t in (INT32, INT) if int_fits(value, t)), INT)


def check_decimal(p: int, s: int) -> str:
    if not 1 <= p <= MAX_PRECISION or not 0 <= s <= p:
        raise PlanError(f"DECIMAL({p}, {s}): need 1 <= precision <= 38, 0 <= scale <= precision")
    return dec(p, s)


def from_sql(name: str, params: tuple[int, ...] | list[int] = ()) -> str:
    """The engine type of a SQL type name (``DECIMAL`` alone is DuckDB's DECIMAL(18, 3))."""
    if name.lower() in ("decimal", "numeric"):
        p = params[0] if params else 18
        s = params[1] if len(params) > 1 else (0 if params else 3)
        return check_decimal(p, s)
    t = _SQL_TYPES.get(name.lower())
    if t is None:
        if _DEC_RE.fullmatch(name.lower()):
            return name.lower()
        known = ", ".join(sorted([*_SQL_TYPES, "decimal", "numeric"]))
        raise PlanError(f"unknown type {name!r}; known: {known}")
    return t


def int_as_dec(value: int | None = None, t: str = "int64") -> tuple[int, int]:
    """The decimal an integer operand becomes next to a decimal: DuckDB types a TINYINT as
    DECIMAL(3, 0), a SMALLINT as DECIMAL(5, 0), an INTEGER as DECIMAL(10, 0) and a BIGINT as
    DECIMAL(19, 0). Integer literals (``value``) that fit 32 bits are INTEGERs, as in DuckDB."""
    if value is not None and -(2**31) <= value < 2**31:
        return 10, 0
    return {INT8: (3, 0), INT16: (5, 0), INT32: (10, 0)}.get(t, (19, 0))


def dec_common(a: tuple[int, int], b: tuple[int, int]) -> str:
    """The decimal both sides of a comparison, CASE, UNION or ``%`` are rescaled to: as many
    integer digits and as many fraction digits as the wider side (precision capped at 38)."""
    s = max(a[1], b[1])
    p = min(max(a[0] - a[1], b[0] - b[1]) + s, MAX_PRECISION)
    return dec(p, s)


def dec_arith(op: str, a: tuple[int, int], b: tuple[int, int]) -> str:
    """Result type of ``a op b`` for two decimals (DuckDB's rules)."""
    (p1, s1), (p2, s2) = a, b
    if op in ("add", "sub"):
        s = max(s1, s2)
        return dec(min(max(p1 - s1, p2 - s2) + s + 1, MAX_PRECISION), s)
    if op == "mul":
        s = s1 + s2
        if s > MAX_PRECISION:
            raise PlanError(
                f"DECIMAL({p1},{s1}) * DECIMAL({p2},{s2}) needs scale {s}, above the maximum 38; "
                "CAST an operand to a smaller scale or to DOUBLE"
            )
        p = min(p1 + p2, MAX_PRECISION)
        # Both operands fit 64 bits: DuckDB keeps the product in 64 bits (checked for overflow)
        # while the scale allows it.
        narrow = p1 <= MAX_I64_PRECISION and p2 <= MAX_I64_PRECISION
        if p > MAX_I64_PRECISION and narrow and s < MAX_I64_PRECISION:
            p = MAX_I64_PRECISION
        return dec(p, s)
    if op == "mod":
        return dec_common(a, b)
    raise PlanError(f"internal: no decimal rule for {op}")


def to_decimal(value: object, s: int) -> decimal.Decimal:
    """``value`` rounded (half away from zero) to ``s`` fraction digits, exactly."""
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        if isinstance(value, float):
            d = decimal.Decimal(repr(value))
        elif isinstance(value, str):
            d = decimal.Decimal(value.strip())
        else:
            d = decimal.Decimal(value)  # type: ignore[arg-type]
        return d.quantize(decimal.Decimal(1).scaleb(-s), rounding=decimal.ROUND_HALF_UP)


def scaled(value: decimal.Decimal, s: int) -> int:
    """The integer the executor holds for ``value`` at scale ``s`` (value * 10^s)."""
    return int(value.scaleb(s, context=decimal.Context(prec=100)))


def fits(value: decimal.Decimal, p: int, s: int) -> bool:
    """Whether ``value`` (already rounded to ``s`` digits) fits DECIMAL(p, s)."""
    return abs(scaled(value, s)) < 10**p


def dec_const(value: object, src: str, dst: str) -> object | None:
    """Convert the constant ``value`` of type ``src`` to ``dst`` when one side is a decimal
    (decimal constants are ``decimal.Decimal`` at their scale); None if not a decimal cast.
    Raises PlanError when the value does not fit, as DuckDB's conversion error does."""
    if is_dec(dst):
        p, s = dec_ps(dst)
        if src not in (*NUMERIC, STR) and not is_dec(src):
            return None
        try:
            d = to_decimal(value, s)
        except decimal.InvalidOperation:
            raise PlanError(f"cannot convert {value!r} to DECIMAL({p},{s})") from None
        if not fits(d, p, s):
            raise PlanError(f"value {value} does not fit DECIMAL({p},{s})")
        return d
    assert isinstance(value, decimal.Decimal)
    if dst in FLOATS:
        return float(value)
    if is_int(dst):
        n = int(value.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))
        if not int_fits(n, dst):
            raise PlanError(f"value {value} is out of range for {sql_name(dst)}")
        return n
    if dst == STR:
        return format(value, "f")
    return None


def to_arrow(t: str) -> pa.DataType:
    if is_dec(t):
        return pa.decimal128(*dec_ps(t))
    return {
        BOOL: pa.bool_(),
        INT: pa.int64(),
        INT32: pa.int32(),
        INT16: pa.int16(),
        INT8: pa.int8(),
        FLOAT: pa.float64(),
        FLOAT32: pa.float32(),
        STR: pa.string(),
        DATE: pa.date32(),
        TS: pa.timestamp("us"),
        TSTZ: pa.timestamp("us", tz="UTC"),
        NULL: pa.int64(),
    }[t]


def common_type(a: str, b: str, what: str) -> str:
    """The type both sides of a comparison / arithmetic / UNION are cast to."""
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    if is_int(a) and is_int(b):
        return a if _INT_BITS[a] >= _INT_BITS[b] else b
    # DuckDB: REAL absorbs integers and decimals, DOUBLE absorbs everything numeric
    if FLOAT in (a, b) and is_numeric(a) and is_numeric(b):
        return FLOAT
    if FLOAT32 in (a, b) and is_numeric(a) and is_numeric(b):
        return FLOAT32
    if is_dec(a) or is_dec(b):
        other = b if is_dec(a) else a
        if is_int(other) or is_dec(other):
            pa_ = dec_ps(a) if is_dec(a) else int_as_dec(None, a)
            pb_ = dec_ps(b) if is_dec(b) else int_as_dec(None, b)
            return dec_common(pa_, pb_)
    if {a, b} == {DATE, TS}:
        return TS
    if {a, b} in ({DATE, TSTZ}, {TS, TSTZ}):
        return TSTZ
    raise PlanError(f"{what}: cannot combine {a} and {b}; add a CAST")


def sql_name(t: str) -> str:
    """DuckDB's name of an engine type, for messages and ``typeof``."""
    names = {
        BOOL: "BOOLEAN",
        INT8: "TINYINT",
        INT16: "SMALLINT",
        INT32: "INTEGER",
        INT: "BIGINT",
        FLOAT32: "FLOAT",
        FLOAT: "DOUBLE",
        STR: "VARCHAR",
        DATE: "DATE",
        TS: "TIMESTAMP",
        TSTZ: "TIMESTAMP WITH TIME ZONE",
    }
    if is_dec(t):
        return "DECIMAL({},{})".format(*dec_ps(t))
    return names.get(t, t.upper())


def date_to_days(text: str) -> int:
    try:
        return (dt.date.fromisoformat(text.strip()[:10]) - EPOCH).days
    except ValueError:
        raise PlanError(f"invalid date literal {text!r}; expected YYYY-MM-DD") from None


def days_to_date(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=days)


def ts_to_micros(text: str) -> int:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise PlanError(f"invalid timestamp literal {text!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return (t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
