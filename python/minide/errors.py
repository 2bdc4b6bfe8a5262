"""The one exception hierarchy of minide.

Every error minide raises on purpose is a :class:`MinideError`. Errors from the Rust engines are
mapped onto these classes in ``rust/bindings/src/errors.rs``; the Python layers raise them directly.
Messages say *what* went wrong, *where* (file, byte offset, line, column) and, when it helps, how
to fix it.

Several classes also derive from the matching built-in exception (``ValueError``, ``OSError``) so
that code written against the standard library's conventions keeps working.
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "CorruptFileError",
    "DataError",
    "DatabaseError",
    "DatabaseInternalError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "InvalidArgumentError",
    "MinideError",
    "MinideIOError",
    "NetworkError",
    "NotSupportedError",
    "OperationalError",
    "PlanError",
    "PoolClosedError",
    "PoolTimeoutError",
    "ProgrammingError",
    "SchemaError",
    "SqlArgumentError",
    "SqlChecksumError",
    "SqlClosedError",
    "SqlCorruptFileError",
    "SqlDataError",
    "SqlError",
    "SqlIOError",
    "SqlSchemaError",
    "SqlSyntaxError",
    "SqlUnsupportedError",
    "SqlWarning",
    "StoreClosedError",
    "UnsupportedError",
]


class MinideError(Exception):
    """Base class of every error minide raises on purpose."""


class CorruptFileError(MinideError):
    """Bytes on disk do not decode: bad magic, checksum mismatch, truncation, impossible sizes.

    minide never decodes corrupt bytes into values; it raises this instead.
    """


class ChecksumError(CorruptFileError):
    """A stored checksum does not match the bytes it covers."""


class SchemaError(MinideError, ValueError):
    """Data does not fit the expected schema: unknown column, incompatible types."""


class InvalidArgumentError(MinideError, ValueError):
    """An argument value that cannot work (unknown option, out-of-range size, wrong input type)."""


class UnsupportedError(MinideError, NotImplementedError):
    """Valid input that this version of minide does not handle yet."""


class StoreClosedError(MinideError):
    """An operation on a store, file or handle that was already closed."""


class MinideIOError(MinideError, OSError):
    """An operating-system I/O failure, with the path it happened on."""


class InternalError(MinideError):
    """A bug in minide (a Rust panic caught at the boundary). Please report it with the message."""


# ------------------------------------------------------------------------------------------------
# PEP 249 (DB-API 2.0) classes, exported by ``minide.sql`` under their PEP 249 names
# (``SqlError`` as ``Error``, ``SqlWarning`` as ``Warning``, ``DatabaseInternalError`` as
# ``InternalError``). ``SqlError`` derives from ``MinideError``, so ``except MinideError`` still
# catches every SQL failure. Errors raised by shared machinery (the Rust core, file readers) during
# a SQL call are re-raised by ``minide.sql`` as the ``Sql*`` classes below, which derive from both
# the PEP 249 class and the original class: ``except InvalidArgumentError`` keeps working too.
# ------------------------------------------------------------------------------------------------


class SqlWarning(MinideError):
    """PEP 249 ``Warning``: important warnings. minide.sql raises none today."""


class SqlError(MinideError):
    """PEP 249 ``Error``: the base of every error minide.sql raises."""


class InterfaceError(SqlError):
    """PEP 249: misuse of the DB-API interface itself (a closed connection or cursor, fetch
    without a result set)."""


class DatabaseError(SqlError):
    """PEP 249: an error of the database engine (the base of the classes below)."""


class DataError(DatabaseError):
    """PEP 249: the data does not work (a failed cast, a value out of range, a bad parameter value)."""


class OperationalError(DatabaseError):
    """PEP 249: the engine could not operate (a file it reads is missing, unreadable or corrupt)."""


class IntegrityError(DatabaseError):
    """PEP 249: a constraint is violated. minide has no constraints; defined for compatibility."""


class DatabaseInternalError(DatabaseError, InternalError):
    """PEP 249 ``InternalError``: a bug in minide during a SQL call (also ``InternalError``)."""


class ProgrammingError(DatabaseError):
    """PEP 249: a wrong statement: syntax error, unknown table or column, type mismatch, wrong
    number or type of parameters."""


class NotSupportedError(DatabaseError):
    """PEP 249: valid SQL or API use that minide does not support (``rollback``, some features)."""


class NetworkError(MinideIOError):
    """A peer or server over the network failed us: unreachable, connection dropped, or a frame
    that does not decode (a broken frame is a network error, not a ``CorruptFileError``)."""


class SqlSyntaxError(ProgrammingError):
    """SQL text that does not parse; the message shows line, column and a caret."""


class PlanError(ProgrammingError):
    """A query that parses but cannot be bound or planned (unknown table, type mismatch)."""


class SqlDataError(DataError, InvalidArgumentError):
    """A value the engine could not process during a SQL call (was ``InvalidArgumentError``)."""


class SqlArgumentError(ProgrammingError, InvalidArgumentError):
    """A wrong argument to a minide.sql call (was ``InvalidArgumentError``)."""


class SqlSchemaError(ProgrammingError, SchemaError):
    """Data that does not fit the expected schema during a SQL call (was ``SchemaError``)."""


class SqlUnsupportedError(NotSupportedError, UnsupportedError):
    """Valid SQL that minide does not support yet (was ``UnsupportedError``)."""


class SqlClosedError(InterfaceError, StoreClosedError):
    """Use of a closed connection or cursor (also ``StoreClosedError``)."""


class SqlIOError(OperationalError, MinideIOError):
    """An I/O failure while reading a table's file during a SQL call (was ``MinideIOError``)."""


class SqlCorruptFileError(OperationalError, CorruptFileError):
    """A corrupt file read during a SQL call (was ``CorruptFileError``)."""


class SqlChecksumError(SqlCorruptFileError, ChecksumError):
    """A checksum mismatch in a file read during a SQL call (was ``ChecksumError``)."""


def by_name(name: str) -> type[MinideError]:
    """The :class:`MinideError` subclass called ``name`` (``MinideError`` if there is none).

    For errors that cross a process boundary by name (replication's client/region protocol), so
    a remote ``InvalidArgumentError`` arrives as an ``InvalidArgumentError``.
    """
    cls = globals().get(name)
    if isinstance(cls, type) and issubclass(cls, MinideError):
        return cls
    return MinideError


# ------------------------------------------------------------------------------------------------
# minide.pool
# ------------------------------------------------------------------------------------------------


class PoolTimeoutError(MinideError, TimeoutError):
    """No connection could be had within the pool's ``acquire_timeout``; the message says how
    many connections are in use, by whom (thread and borrowing line), how many callers wait,
    and the last connect error if the pool could not open new ones."""


class PoolClosedError(StoreClosedError):
    """Use of a closed pool, or of a pooled connection after it went back to the pool."""
