"""``retry(fn, attempts, backoff)``: run idempotent database work again after a transient error.

Transient means the same call can succeed a moment later on a fresh connection: the connection
was cut (server restart, network reset, idle kill: the driver's disconnect errors), no
connection could be had in time (:class:`~minide.errors.PoolTimeoutError`), or the server
aborted the transaction to resolve a conflict (serialization failure, deadlock). Anything else
(a syntax error, a constraint violation) is raised at once: trying again cannot help.

Only use it for work that is safe to repeat: a write whose commit was in flight when the
connection died may or may not have been committed.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from minide._convert import Duration, to_seconds
from minide.errors import InvalidArgumentError, NetworkError, PoolTimeoutError
from minide.pool.drivers import _LOADED

__all__ = ["is_transient", "retry"]

T = TypeVar("T")

#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, admin shutdown,
#: crash shutdown, cannot connect now (the server is starting)
_PG_STATES = {"40001", "40P01", "57P01", "57P02", "57P03"}
#: MySQL/MariaDB: deadlock, lock wait timeout
_MYSQL_CODES = {1213, 1205}


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying on a fresh connection (see the module docstring)."""
    if isinstance(exc, PoolTimeoutError | NetworkError | ConnectionError):
        return True
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if state in _PG_STATES:
        return True
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code in _MYSQL_CODES and type(exc).__module__.startswith("pymysql"):
        return True
    return any(d.is_disconnect(exc) for d in list(_LOADED.values()))


def _delays(attempts: int, backoff: float) -> list[float]:
    # exponential, with +-25 % jitter so that many clients do not retry in lockstep
    return [backoff * 2**i * random.uniform(0.75, 1.25) for i in range(attempts - 1)]


def retry(
    fn: Callable[[], T],
    attempts: int = 3,
    backoff: Duration | float = "100ms",
    *,
    retry_on: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Call ``fn()`` up to ``attempts`` times; after a transient failure (``retry_on``) sleep
    ``backoff`` (doubling each time, ±25 % jitter; a number counts seconds) and call it again.
    The last error is raised with the number of attempts noted on it.

    ``fn`` should borrow its own connection (``with pool.connection() as conn: ...``) so that
    each attempt gets a fresh one. If ``fn`` is a coroutine function, ``retry`` returns a
    coroutine and sleeps with ``asyncio.sleep``.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidArgumentError(f"attempts must be an int >= 1, got {attempts!r}")
    delays = _delays(attempts, to_seconds(backoff, "backoff"))
    if inspect.iscoroutinefunction(fn):
        return _aretry(fn, delays, retry_on)  # type: ignore[return-value]
    for i in range(attempts):
        try:
            return fn()
        except Exception as e:
            if i == attempts - 1 or not retry_on(e):
                _note(e, i + 1)
                raise
            time.sleep(delays[i])
    raise AssertionError("unreachable")


async def _aretry(
    fn: Callable[[], Any], delays: list[float], retry_on: Callable[[BaseException], bool]
) -> Any:
    for i in range(len(delays) + 1):
        try:
            return await fn()
        except Exception as e:
            if i == len(delays) or not retry_on(e):
                _note(e, i + 1)
                raise
            await asyncio.sleep(delays[i])
    raise AssertionError("unreachable")


def _note(e: BaseException, n: int) -> None:
    if n > 1:
        e.add_note(f"minide.pool.retry: failed after {n} attempts")
