"""The PEP 249 (DB-API 2.0) face of minide.sql: cursors, streamed fetches, type objects,
constructors, and the translation of engine errors into the PEP 249 exception classes.

A cursor runs its statement at ``execute`` (errors surface there, ``rowcount`` is known). The
result stays an Arrow table; ``fetchone``/``fetchmany``/``fetchall`` convert it to Python rows one
chunk (at most :data:`CHUNK_ROWS` rows of one Arrow batch) at a time, so fetching the first rows of
a big result creates Python objects for those rows only.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from minide.errors import (
    ChecksumError,
    CorruptFileError,
    DatabaseError,
    DatabaseInternalError,
    InterfaceError,
    InternalError,
    InvalidArgumentError,
    MinideError,
    MinideIOError,
    SchemaError,
    SqlArgumentError,
    SqlChecksumError,
    SqlClosedError,
    SqlCorruptFileError,
    SqlDataError,
    SqlError,
    SqlIOError,
    SqlSchemaError,
    SqlUnsupportedError,
    StoreClosedError,
    UnsupportedError,
)
from minide.sql.params import values_insert

if TYPE_CHECKING:
    from minide.sql.connection import Connection

# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------

#: shared error class -> its minide.sql twin (derives from both it and the PEP 249 class);
#: most specific first
_TWINS: tuple[tuple[type[MinideError], type[SqlError]], ...] = (
    (ChecksumError, SqlChecksumError),
    (CorruptFileError, SqlCorruptFileError),
    (MinideIOError, SqlIOError),
    (SchemaError, SqlSchemaError),
    (UnsupportedError, SqlUnsupportedError),
    (StoreClosedError, SqlClosedError),
    (InternalError, DatabaseInternalError),
    (InvalidArgumentError, SqlArgumentError),
)


@contextmanager
def sql_errors(executing: bool = False) -> Iterator[None]:
    """Re-raise errors as PEP 249 classes: ``except minide.sql.Error`` catches every failure of a
    SQL call and ``except`` on the original minide class still works. ``executing``: inside the
    executor, where a bad argument is bad data (a failed cast): DataError, not ProgrammingError."""
    try:
        yield
    except SqlError:
        raise
    except MinideError as e:
        if executing and isinstance(e, InvalidArgumentError):
            cls: type[SqlError] = SqlDataError
        else:
            cls = next((twin for base, twin in _TWINS if isinstance(e, base)), _other(type(e)))
        raise _twin(cls, e) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise _twin(SqlDataError, e) from None


_OTHER: dict[type[MinideError], type[SqlError]] = {}


def _other(cls: type[MinideError]) -> type[SqlError]:
    """A twin for a MinideError class the table does not know (one added later)."""
    twin = _OTHER.get(cls)
    if twin is None:
        twin = type(f"Sql{cls.__name__}", (DatabaseError, cls), {"__module__": cls.__module__})
        _OTHER[cls] = twin
    return twin


def _twin(cls: type[SqlError], e: BaseException) -> SqlError:
    new = cls(*e.args)
    new.__dict__.update(e.__dict__)
    return new.with_traceback(e.__traceback__)


F = TypeVar("F", bound=Callable[..., Any])


def translated(fn: F) -> F:
    """Decorator form of :func:`sql_errors` for the public methods."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with sql_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------
# type objects and constructors
# ------------------------------------------------------------------------------------------------


class DBAPITypeObject:
    """Compares equal to every ``description`` type code (a ``pyarrow.DataType``, or its name)
    of its family: ``cur.description[0][1] == minide.sql.NUMBER``."""

    def __init__(self, name: str, test: Callable[[pa.DataType], bool]) -> None:
        self.name = name
        self._test = test

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return other is self
        if isinstance(other, str):
            try:
                other = _ENGINE_TYPES.get(other) or pa.type_for_alias(other)
            except ValueError:
                return False
        return isinstance(other, pa.DataType) and bool(self._test(other))

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"minide.sql.{self.name}"


_ENGINE_TYPES = {"utf8": pa.string(), "date32": pa.date32(), "timestamp": pa.timestamp("us")}

STRING = DBAPITypeObject("STRING", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t))
BINARY = DBAPITypeObject(
    "BINARY",
    lambda t: (
        pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
    ),
)
NUMBER = DBAPITypeObject(
    "NUMBER",
    lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
)
DATETIME = DBAPITypeObject(
    "DATETIME",
    lambda t: pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_time(t),
)
#: minide tables have no row ids: no column is of this type
ROWID = DBAPITypeObject("ROWID", lambda t: False)

Date = dt.date
Time = dt.time
Timestamp = dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> dt.date:
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> dt.time:
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> dt.datetime:
    return Timestamp(*time.localtime(ticks)[:6])


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------

#: most rows converted to Python objects at once
CHUNK_ROWS = 2048


class ResultRows:
    """Python rows of an Arrow table, converted one chunk at a time, on demand."""

    def __init__(self, table: pa.Table) -> None:
        self.schema = table.schema
        self.num_rows = table.num_rows
        self._chunks = _chunks(table)
        self._arrow: pa.RecordBatch | None = None  # the chunk being read, as Arrow
        self._rows: list[tuple[Any, ...]] = []
        self._pos = 0
        #: how many chunks / rows were converted to Python objects so far
        self.chunks_converted = 0
        self.rows_converted = 0

    def _fill(self) -> bool:
        """Make sure an unread converted row is available; False at the end."""
        while self._pos >= len(self._rows):
            batch = next(self._chunks, None)
            if batch is None:
                self._arrow, self._rows, self._pos = None, [], 0
                return False
            self._arrow, self._rows, self._pos = batch, _to_rows(batch), 0
            self.chunks_converted += 1
            self.rows_converted += batch.num_rows
        return True

    def take(self, n: int | None) -> list[tuple[Any, ...]]:
        """The next ``n`` rows (all the remaining ones for None)."""
        out: list[tuple[Any, ...]] = []
        while (n is None or len(out) < n) and self._fill():
            end = len(self._rows) if n is None else min(len(self._rows), self._pos + n - len(out))
            out.extend(self._rows[self._pos : end])
            self._pos = end
        return out

    def arrow_rest(self) -> pa.Table:
        """The rows not fetched yet, as Arrow (nothing converted)."""
        batches = []
        if self._arrow is not None and self._pos < len(self._rows):
            batches.append(self._arrow.slice(self._pos))
        batches.extend(self._chunks)
        self._arrow, self._rows, self._pos = None, [], 0
        return pa.Table.from_batches(batches, schema=self.schema)


def _chunks(table: pa.Table) -> Iterator[pa.RecordBatch]:
    for batch in table.to_batches():
        for start in range(0, batch.num_rows, CHUNK_ROWS):
            yield batch.slice(start, CHUNK_ROWS)


def _to_rows(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    if batch.num_columns == 0:
        return [()] * batch.num_rows
    return list(zip(*(c.to_pylist() for c in batch.columns), strict=True))


def describe(schema: pa.Schema) -> list[tuple[Any, ...]]:
    """PEP 249 ``description``: (name, type_code, display_size, internal_size, precision, scale,
    null_ok); type_code is the column's ``pyarrow.DataType``; precision and scale for decimals."""
    out = []
    for f in schema:
        prec = scale = None
        if pa.types.is_decimal(f.type):
            prec, scale = f.type.precision, f.type.scale
        out.append((f.name, f.type, None, None, prec, scale, f.nullable))
    return out


# ------------------------------------------------------------------------------------------------
# cursor
# ------------------------------------------------------------------------------------------------


class Cursor:
    """A PEP 249 cursor over a :class:`Connection` (``qmark`` ``?`` or numeric ``$n`` params)."""

    def __init__(self, con: Connection) -> None:
        self.connection = con
        #: default number of rows ``fetchmany()`` returns
        self.arraysize = 1
        #: 7-tuples per result column after a query, None after other statements
        self.description: list[tuple[Any, ...]] | None = None
        #: rows of the result (queries), rows inserted (INSERT), -1 when not applicable
        self.rowcount = -1
        #: PEP 249: minide tables have no row ids
        self.lastrowid = None
        self._result: ResultRows | None = None
        self._closed = False

    # ---- execution ------------------------------------------------------------------------------
    @translated
    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """Run ``operation`` (one or more statements; the last one's result is fetched)."""
        self._check_open()
        script = self.connection._parse(operation)
        self._run(script, parameters, operation)
        return self

    @translated
    def executemany(self, operation: str, seq_of_parameters: Any) -> Cursor:
        """Run ``operation`` once per parameter sequence (parsed once). ``rowcount`` is the total
        rows inserted for INSERT; for a query, the result of the last run is fetchable."""
        self._check_open()
        script = self.connection._parse(operation)
        insert = values_insert(script)
        if insert is not None:  # INSERT ... VALUES (?, ...): many sets per statement
            self._reset()
            total = self.connection._insert_many(script, insert, seq_of_parameters)
            self.rowcount = -1 if total is None else total
            return self
        total, last = 0, -1
        ran = False
        for params in seq_of_parameters:
            last = self._run(script, params, operation)
            total = total + last if last >= 0 and total >= 0 else -1
            ran = True
        if not ran:
            self._reset()
        elif self.description is None:
            self.rowcount = total
        return self

    def _run(self, script: Any, params: Any, sql: str) -> int:
        self._reset()
        table, rowcount = self.connection._run_script(script, params, sql)
        if table is not None:
            self._result = ResultRows(table)
            self.description = describe(table.schema)
        self.rowcount = rowcount
        return rowcount

    def _reset(self) -> None:
        self._result = None
        self.description = None
        self.rowcount = -1

    # ---- fetching -------------------------------------------------------------------------------
    def _rows(self) -> ResultRows:
        self._check_open()
        if self._result is None:
            raise InterfaceError(
                "no result set: call execute() with a query (SELECT, VALUES, EXPLAIN) first"
            )
        return self._result

    @translated
    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._rows().take(1)
        return rows[0] if rows else None

    @translated
    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        n = self.arraysize if size is None else size
        if n < 0:
            raise SqlArgumentError(f"fetchmany size must be >= 0, got {n}")
        return self._rows().take(n)

    @translated
    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows().take(None)

    @translated
    def fetch_arrow_table(self) -> pa.Table:
        """The rows not fetched yet as a ``pyarrow.Table`` (DuckDB-style; nothing converted)."""
        return self._rows().arrow_rest()

    arrow = fetch_arrow_table

    def df(self) -> Any:
        """The rows not fetched yet as a pandas DataFrame (needs pandas installed)."""
        return self.fetch_arrow_table().to_pandas()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    # ---- PEP 249 no-ops and lifetime -------------------------------------------------------------
    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249: a hint minide does not need (parameters are typed from their values)."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """PEP 249: a hint minide does not need (results are Arrow)."""

    def close(self) -> None:
        """Free the result; later use of the cursor raises InterfaceError."""
        self._reset()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise SqlClosedError("this cursor is closed")
        self.connection._check_open()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
