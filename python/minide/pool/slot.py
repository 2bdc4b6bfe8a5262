"""One pooled connection (:class:`Slot`) and what a borrower holds (:class:`PooledConnection`).

A :class:`Slot` lives as long as its driver connection and carries the pool's bookkeeping:
when it was opened, last returned, last checked, and, while borrowed, who borrowed it (thread
and stack). A :class:`PooledConnection` is a thin proxy handed to one borrower for one borrow:
attribute access goes to the driver connection until the borrow ends, then raises
:class:`~minide.errors.PoolClosedError`, so a stale reference can never reach a connection that
another borrower holds now. If the proxy is garbage-collected while still borrowed, its
``__del__`` queues the slot for the pool's maintenance to report and reclaim (it takes no lock:
``__del__`` can run in any thread, inside any critical section).
"""

from __future__ import annotations

import linecache
from sys import _getframe
from typing import Any

from minide.errors import PoolClosedError

__all__ = [
    "PooledConnection",
    "Slot",
    "format_stack",
    "lend",
    "line_of",
    "record_stack",
    "where",
]

#: frames kept of a borrower's stack
STACK_DEPTH = 12

Stack = list[tuple[Any, int]]  # (code object, line number) per frame, innermost first


def record_stack(slot: Slot, depth: int) -> None:
    """Keep the caller's stack, ``depth`` frames up, in ``slot`` as (code, instruction offset)
    pairs: under 1 µs for 12 frames, cheap enough for every borrow. The offset, not the line:
    ``f_lineno`` decodes the code's line table on every read (it more than doubled the cost);
    :func:`line_of` maps an offset to its line when a report needs it. The pairs go into lists
    the slot owns, so a borrow allocates nothing the garbage collector tracks."""
    codes, offsets = slot.codes, slot.offsets
    f: Any = _getframe(depth + 1)
    n = 0
    while f is not None and n < STACK_DEPTH:
        codes[n] = f.f_code
        offsets[n] = f.f_lasti
        n += 1
        f = f.f_back
    slot.depth = n


def line_of(code: Any, offset: int) -> int:
    """The source line of the instruction at byte ``offset`` of ``code`` (what the frame's
    ``f_lineno`` said at that instruction)."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line if line is not None else code.co_firstlineno
    return code.co_firstlineno


def format_stack(stack: Stack) -> str:
    """Traceback-style text, outermost call first (like ``traceback.format_stack``)."""
    lines = []
    for code, lineno in reversed(stack):
        lines.append(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n')
        src = linecache.getline(code.co_filename, lineno).strip()
        if src:
            lines.append(f"    {src}\n")
    return "".join(lines)


def where(stack: Stack) -> str:
    """The borrowing line: ``function() at file:line``."""
    if not stack:
        return "unknown"
    code, lineno = stack[0]
    return f"{code.co_name}() at {code.co_filename}:{lineno}"


class Slot:
    """One open driver connection and the pool's bookkeeping for it."""

    __slots__ = (
        "backend",
        "borrowed_at",
        "checked",
        "codes",
        "created",
        "depth",
        "expires",
        "fd",
        "id",
        "last_used",
        "leak_reported",
        "offsets",
        "probe",
        "raw",
        "thread",
    )

    def __init__(
        self, sid: int, raw: Any, now: float, expires: float, fd: int | None, backend: int
    ) -> None:
        self.id = sid
        self.raw = raw
        self.fd = fd
        #: the socket to probe (None: no socket, e.g. SQLite): readable while idle means the
        #: server closed or killed the connection (``minide._core.fd_ready_now``)
        self.probe = fd if fd is not None and fd >= 0 else None
        self.backend = backend
        self.created = now
        self.expires = expires
        self.last_used = now
        self.checked = now
        self.borrowed_at = 0.0
        #: the borrower's stack: codes[:depth] and instruction offsets[:depth], innermost first
        self.codes: list[Any] = [None] * STACK_DEPTH
        self.offsets: list[int] = [0] * STACK_DEPTH
        self.depth = 0
        #: the borrower: its Thread (sync pool) or its asyncio Task (asyncio pool)
        self.thread: Any = None
        self.leak_reported = False

    @property
    def stack(self) -> Stack:
        """The last borrower's stack as (code, line) pairs, innermost first."""
        n = self.depth
        return [(c, line_of(c, o)) for c, o in zip(self.codes[:n], self.offsets[:n], strict=True)]

    def __repr__(self) -> str:
        state = f"borrowed by {self.thread}" if self.borrowed_at else "idle"
        return f"Slot(#{self.id}, backend={self.backend}, {state})"


class PooledConnection:
    """The driver connection of one borrow. Attributes and methods are the driver's
    (``conn.cursor()``, ``conn.execute(...)``, ``conn.commit()``); ``conn.raw`` is the driver
    connection itself. ``close()`` gives it back to the pool (like SQLAlchemy's pooled
    connections), ``invalidate()`` closes it for good (the pool opens a new one)."""

    __slots__ = ("_pool", "_raw", "_slot")

    def __init__(self, pool: Any, slot: Slot) -> None:
        _set_pool(self, pool)
        _set_slot(self, slot)
        _set_raw(self, slot.raw)

    def __getattr__(self, name: str) -> Any:
        raw = self._raw
        if raw is None:
            raise PoolClosedError(
                f"connection #{self._slot.id} was returned to the pool; "
                f"borrow another one to use .{name}"
            )
        return getattr(raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raw = self._raw
        if raw is None:
            raise PoolClosedError(f"connection #{self._slot.id} was returned to the pool")
        setattr(raw, name, value)

    @property
    def raw(self) -> Any:
        """The driver's connection (psycopg, pymysql, sqlite3 ...) for this borrow."""
        raw = self._raw
        if raw is None:
            raise PoolClosedError(f"connection #{self._slot.id} was returned to the pool")
        return raw

    @property
    def backend_id(self) -> int:
        """The server's session id: ``pg_backend_pid()``, ``CONNECTION_ID()`` (SQLite: an id
        of the connection object)."""
        return self._slot.backend

    @property
    def returned(self) -> bool:
        return self._raw is None

    def _detach(self) -> Slot | None:
        """End the borrow: later use raises. Returns the slot, or None if already ended."""
        if self._raw is None:
            return None
        _set_raw(self, None)
        return self._slot

    def close(self) -> None:
        """Give the connection back to the pool (idempotent)."""
        self._pool.release(self)

    def invalidate(self) -> None:
        """Close the driver connection for good instead of giving it back."""
        self._pool.release(self, broken=True)

    def __del__(self) -> None:
        # still borrowed and unreachable: the borrower lost it; queue it, take no lock here
        if self._raw is not None:
            _set_raw(self, None)
            self._pool._reclaim.append(self._slot)

    def __repr__(self) -> str:
        state = "returned" if self._raw is None else f"backend {self._slot.backend}"
        return f"<PooledConnection #{self._slot.id} {state}>"


# the slots' own setters: a borrow builds one proxy, this is the cheapest way past __setattr__
_set_pool = PooledConnection._pool.__set__  # type: ignore[attr-defined]
_set_slot = PooledConnection._slot.__set__  # type: ignore[attr-defined]
_set_raw = PooledConnection._raw.__set__  # type: ignore[attr-defined]
_new = object.__new__


def lend(pool: Any, slot: Slot) -> PooledConnection:
    """A new proxy for one borrow of ``slot`` (what ``PooledConnection(pool, slot)`` does,
    without the ``__init__`` call)."""
    conn = _new(PooledConnection)
    _set_pool(conn, pool)
    _set_slot(conn, slot)
    _set_raw(conn, slot.raw)
    return conn
