"""The asyncio pool: :class:`AsyncPool` (works under uvloop too).

The same state machine as :class:`minide.pool.Pool` (see :mod:`minide.pool.core`), on one event
loop instead of threads: no lock at all (only the loop's thread touches the pool), waiters are
futures queued FIFO, openers and maintenance are tasks. With ``driver="psycopg"`` connections
are ``psycopg.AsyncConnection`` objects and every round trip is awaited; the other drivers have
no asyncio API, so their connect, ping and reset run in ``asyncio.to_thread`` and the borrower
gets the driver's ordinary (blocking) connection.

The pool binds to the running loop on first use; ``await pool.close()`` (or
``async with AsyncPool(...) as pool``) stops its tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from minide._core import fd_ready_now
from minide.errors import PoolClosedError, PoolTimeoutError
from minide.pool.core import ALIVE_BYPASS, PoolBase, log
from minide.pool.drivers import Driver, socket_says_broken
from minide.pool.slot import PooledConnection, Slot, lend, record_stack

__all__ = ["AsyncPool"]

_monotonic = time.monotonic
_current_task = asyncio.current_task


class _Ops:
    """Awaitable driver calls: native for psycopg, ``asyncio.to_thread`` for the others."""

    def __init__(self, driver: Driver) -> None:
        self.d = driver
        self.native = hasattr(driver, "aconnect")

    async def connect(self, info: Any, timeout: float, socket_timeout: float | None) -> Any:
        if self.native:
            return await asyncio.wait_for(
                self.d.aconnect(info, timeout, socket_timeout),  # type: ignore[attr-defined]
                timeout,
            )
        return await asyncio.to_thread(self.d.connect, info, timeout, socket_timeout)

    async def ping(self, raw: Any, query: str | None, timeout: float) -> None:
        if self.native:
            return await self.d.aping(raw, query, timeout)  # type: ignore[attr-defined]
        return await asyncio.to_thread(self.d.ping, raw, query, timeout)

    async def reset(self, raw: Any, discard: bool, timeout: float) -> None:
        if self.native:
            return await self.d.areset(raw, discard, timeout)  # type: ignore[attr-defined]
        return await asyncio.to_thread(self.d.reset, raw, discard, timeout)

    async def position(self, raw: Any, primary: bool, timeout: float) -> Any:
        if not self.d.has_position:
            return None
        if self.native:
            return await self.d.aposition(raw, primary, timeout)  # type: ignore[attr-defined]
        return await asyncio.to_thread(self.d.position, raw, primary, timeout)

    async def close(self, raw: Any) -> None:
        if self.native:
            return await self.d.aclose(raw)  # type: ignore[attr-defined]
        self.d.close(raw)
        return None


class _Borrow:
    """``async with pool.connection() as conn``: returned on every exit (closed instead when
    the exception means the connection is gone)."""

    __slots__ = ("conn", "pool", "timeout")

    def __init__(self, pool: AsyncPool, timeout: float | None) -> None:
        self.pool, self.timeout, self.conn = pool, timeout, None

    async def __aenter__(self) -> PooledConnection:
        self.conn = c = await self.pool._acquire(self.timeout, 2)
        return c

    async def __aexit__(self, et: Any, e: Any, tb: Any) -> None:
        pool = self.pool
        if e is None:
            await pool.release(self.conn)
        else:
            await pool.release(self.conn, broken=pool.driver.is_disconnect(e), failed=True)


class AsyncPool(PoolBase):
    """An asyncio connection pool; the options are :class:`minide.pool.Pool`'s.

    >>> async with pool.connection() as conn:            # doctest: +SKIP
    ...     await conn.execute("SELECT 1")               # psycopg's AsyncConnection
    """

    def __init__(self, url: Any, **options: Any) -> None:
        super().__init__(url, **options)
        self._ops = _Ops(self.driver)
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._maint: asyncio.Task[Any] | None = None

    def _waiters_view(self) -> Any:
        return self._waiters

    def _start(self) -> None:
        if self._maint is None and not self._closed:
            self._maint = asyncio.get_running_loop().create_task(self._maintain())
            self._grow()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _grow(self, extra: int = 0) -> None:
        n = self._demand_locked() + extra
        n = min(n, self._max - self._size)
        self._size += n
        self._opening += n
        for _ in range(n):
            self._spawn(self._open_one())

    # -- borrowing -------------------------------------------------------------------------------
    def connection(self, timeout: Any = None) -> _Borrow:
        """``async with pool.connection() as conn:``; ``timeout`` overrides acquire_timeout."""
        return _Borrow(self, timeout)

    async def acquire(self, timeout: Any = None) -> PooledConnection:
        """Borrow a connection; give it back with ``await pool.release(conn)``."""
        return await self._acquire(timeout, 2)

    def _lend(self, slot: Slot, depth: int) -> PooledConnection:
        slot.borrowed_at = _monotonic()
        record_stack(slot, depth + 1)
        slot.thread = _current_task()  # its name is read when a report needs it
        slot.leak_reported = False
        self._borrowed[slot.id] = slot
        self._c.acquired += 1
        return lend(self, slot)

    async def _acquire(self, timeout: Any, depth: int) -> PooledConnection:
        if self._maint is None:
            self._start()
        if not self._waiters and self._idle:
            slot = self._idle.pop()
            now = _monotonic()
            probe = slot.probe
            if (
                now < slot.expires
                and (
                    not self._on_borrow
                    or (
                        (probe is None or not fd_ready_now(probe))
                        and now - slot.checked <= ALIVE_BYPASS
                        and slot.checked > self._break_epoch
                    )
                )
            ) or await self._usable(slot, self.options.acquire_timeout):
                return self._lend(slot, depth)
        return await self._acquire_slow(timeout, depth + 1)

    async def _usable(self, slot: Slot, budget: float) -> bool:
        now = _monotonic()
        if now >= slot.expires:
            await self._discard(slot, "lifetime")
            return False
        if not self._on_borrow:
            return True
        if slot.probe is not None and socket_says_broken(slot.probe):
            await self._discard(slot, "broken")
            return False
        if self._needs_ping(slot, now):
            try:
                limit = min(self.options.ping_timeout, max(budget, 0.05))
                await self._ops.ping(slot.raw, self.options.validation_query, limit)
            except asyncio.CancelledError:
                self._drop_cancelled(slot)
                raise
            except Exception as e:
                log.info("pool %s: connection #%d failed its check: %r", self.name, slot.id, e)
                await self._discard(slot, "broken")
                return False
            slot.checked = _monotonic()
        return True

    async def _acquire_slow(self, timeout: Any, depth: int) -> PooledConnection:
        limit = self.options.acquire_timeout if timeout is None else float(timeout)
        t0 = _monotonic()
        deadline = t0 + limit
        first = True
        while True:
            if self._closed:
                raise PoolClosedError(f"pool {self.name} is closed")
            if not first and _monotonic() >= deadline:
                self._c.timeouts += 1
                raise PoolTimeoutError(self._timeout_message(limit))
            first = False
            if self._idle and not self._waiters:
                slot = self._idle.pop()
            else:
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                self._hand_idle()
                self._grow()
                try:
                    await asyncio.wait([fut], timeout=max(0.0, deadline - _monotonic()))
                except asyncio.CancelledError:
                    self._abandon(fut)
                    raise
                if not fut.done():
                    self._abandon(fut)
                    self._c.timeouts += 1
                    raise PoolTimeoutError(self._timeout_message(limit))
                slot = fut.result()
                if slot is None:
                    raise PoolClosedError(f"pool {self.name} closed while waiting")
            if not await self._usable(slot, deadline - _monotonic()):
                continue
            self._c.record_wait(_monotonic() - t0)
            return self._lend(slot, depth)

    def _abandon(self, fut: asyncio.Future[Any]) -> None:
        """A waiter gives up (timeout, cancellation): dequeue it, or pass on what it got."""
        if fut.done() and not fut.cancelled():
            slot = fut.result()
            if slot is not None:
                self._deliver(slot)
            return
        fut.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)

    # -- returning -------------------------------------------------------------------------------
    async def release(
        self, conn: PooledConnection, broken: bool = False, failed: bool = False
    ) -> None:
        """Give a borrowed connection back (idempotent); see :meth:`minide.pool.Pool.release`."""
        slot = conn._detach()
        if slot is None:
            return
        self._borrowed.pop(slot.id, None)
        slot.borrowed_at = 0.0
        raw = slot.raw
        drv = self.driver
        if broken or drv.broken(raw):
            await self._discard(slot, "broken")
            return
        if self._closed:
            await self._discard(slot, "pool")
            return
        if (self._reset_tx or failed) and (self._discard_state or drv.in_transaction(raw)):
            try:
                await self._ops.reset(raw, self._discard_state, self.options.ping_timeout)
            except asyncio.CancelledError:
                self._drop_cancelled(slot)
                raise
            except Exception as e:
                log.info("pool %s: reset of connection #%d failed: %r", self.name, slot.id, e)
                await self._discard(slot, "broken" if drv.broken(raw) else "reset")
                return
        now = _monotonic()
        if now >= slot.expires:
            await self._discard(slot, "lifetime")
        elif self._size > self._max:
            await self._discard(slot, "resize")
        else:
            slot.last_used = now
            self._deliver(slot)

    def _deliver(self, slot: Slot) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(slot)
                return
        self._idle.append(slot)

    def _hand_idle(self) -> None:
        while self._waiters and self._idle:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(self._idle.pop())

    def _drop_cancelled(self, slot: Slot) -> None:
        """The task was cancelled in the middle of a round trip on ``slot`` (a check, a reset):
        the protocol state is unknown, so the connection is closed (never lent, never lost);
        the close runs as a task of the pool, since the cancelled task must not await."""
        self._spawn(self._discard(slot, "cancelled"))

    async def _discard(self, slot: Slot, reason: str) -> None:
        self._size -= 1
        self._c.closed[reason] += 1
        if reason == "broken":
            self._break_epoch = _monotonic()
        if not self._closed:
            self._grow()
        await self._ops.close(slot.raw)

    # -- opening ---------------------------------------------------------------------------------
    async def _open_one(self) -> None:
        backoff = 0.05
        while True:
            try:
                raw = await self._ops.connect(
                    self.info, self.options.connect_timeout, self.options.socket_timeout
                )
            except Exception as e:
                self._note_connect_error(e)
                needed = not self._closed and (
                    len(self._waiters) > 0 or self._size - self._opening < self._min
                )
                if not needed:
                    self._size -= 1
                    self._opening -= 1
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            slot = self._new_slot(raw)
            self._opening -= 1
            self._c.created += 1
            if self._closed:
                await self._discard(slot, "pool")
            else:
                self._deliver(slot)
            return

    # -- maintenance -----------------------------------------------------------------------------
    async def _maintain(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.tick)
            try:
                await self._maintain_once()
            except Exception:
                log.exception("pool maintenance failed")

    async def _maintain_once(self) -> None:
        now = _monotonic()
        self._c.sample(now)
        while self._reclaim:
            await self._reclaim_one(self._reclaim.popleft(), now)
        self._check_leaks(now)
        for slot, reason in self._idle_expiry(now):
            try:
                self._idle.remove(slot)
            except ValueError:
                continue
            await self._discard(slot, reason)
        if self.options.health_check == "periodic":
            every = self.options.periodic_interval
            for slot in [s for s in self._idle if now - s.checked >= every]:
                try:
                    self._idle.remove(slot)
                except ValueError:
                    continue
                try:
                    if socket_says_broken(slot.probe) or self.driver.broken(slot.raw):
                        raise ConnectionError("socket closed")
                    await self._ops.ping(
                        slot.raw, self.options.validation_query, self.options.ping_timeout
                    )
                except Exception:
                    await self._discard(slot, "broken")
                    continue
                slot.checked = _monotonic()
                self._deliver(slot)
        self._watch.scan(self, now)
        self._wait_ticks = self._wait_ticks + 1 if self._waiters else 0
        spare = 1 if self._wait_ticks >= 3 and not self._opening else 0
        self._grow(spare if self._demand_locked() == 0 else 0)

    async def _reclaim_one(self, slot: Slot, now: float) -> None:
        if self._borrowed.pop(slot.id, None) is None:
            return
        self._report_leak(slot, "collected", now)
        self._c.gc_reclaimed += 1
        slot.borrowed_at = 0.0
        try:
            await self._ops.reset(slot.raw, self._discard_state, self.options.ping_timeout)
        except Exception:
            await self._discard(slot, "leaked")
            return
        if self.driver.broken(slot.raw) or self._closed:
            await self._discard(slot, "leaked")
        else:
            self._deliver(slot)

    # -- public ----------------------------------------------------------------------------------
    def resize(self, min_size: int | None = None, max_size: int | None = None) -> None:
        """Change the bounds (see :meth:`minide.pool.Pool.resize`); call it on the pool's loop."""
        lo, hi = self._check_resize(min_size, max_size)
        self._min, self._max = lo, hi
        surplus = []
        while self._size - len(surplus) > hi and self._idle:
            surplus.append(self._idle.popleft())
        for slot in surplus:
            self._spawn(self._discard(slot, "resize"))
        if self._maint is not None:
            self._grow()

    async def wait(self, timeout: Any = None) -> None:
        """Wait until ``min_size`` connections are open (PoolTimeoutError after ``timeout``)."""
        self._start()
        limit = self.options.acquire_timeout if timeout is None else float(timeout)
        deadline = _monotonic() + limit
        while self._size - self._opening < self._min:
            if _monotonic() > deadline:
                raise PoolTimeoutError(
                    f"pool {self.name}: {self._size - self._opening} of min_size={self._min} "
                    f"connections open after {limit:g} s"
                )
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Close idle connections, stop the pool's tasks; waiters get PoolClosedError."""
        if self._closed:
            return
        self._closed = True
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
        idle = list(self._idle)
        self._idle.clear()
        for slot in idle:
            await self._discard(slot, "pool")
        if self._maint is not None:
            self._maint.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, *(x for x in [self._maint] if x), return_exceptions=True)

    async def __aenter__(self) -> AsyncPool:
        await self.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
