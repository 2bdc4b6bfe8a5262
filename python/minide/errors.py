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
    "InternalError",
    "InvalidArgumentError",
    "MinideError",
    "MinideIOError",
    "NetworkError",
    "PlanError",
    "SchemaError",
    "SqlSyntaxError",
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


class NetworkError(MinideIOError):
    """A peer or server over the network failed us: unreachable, connection dropped, or a frame
    that does not decode (a broken frame is a network error, not a ``CorruptFileError``)."""


class SqlSyntaxError(MinideError):
    """SQL text that does not parse; the message shows line, column and a caret."""


class PlanError(MinideError):
    """A query that parses but cannot be bound or planned (unknown table, type mismatch)."""


class InternalError(MinideError):
    """A bug in minide (a Rust panic caught at the boundary). Please report it with the message."""


def by_name(name: str) -> type[MinideError]:
    """The :class:`MinideError` subclass called ``name`` (``MinideError`` if there is none).

    For errors that cross a process boundary by name (replication's client/region protocol), so
    a remote ``InvalidArgumentError`` arrives as an ``InvalidArgumentError``.
    """
    cls = globals().get(name)
    if isinstance(cls, type) and issubclass(cls, MinideError):
        return cls
    return MinideError
