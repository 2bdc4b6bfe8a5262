"""What the thread pool (:class:`minide.pool.Pool`) and the asyncio pool
(:class:`minide.pool.AsyncPool`) share: options, bookkeeping, decisions and reports.

Both keep the same state (see docs/pool.md for the diagram):

- ``_idle``: a deque of :class:`~minide.pool.slot.Slot` ready to lend, most recently returned on
  the right. Borrowers pop from the right (the warmest connection; ``deque.pop`` is atomic, so
  the hot path takes no lock), maintenance expires from the left (the coldest).
- ``_borrowed``: slot id → slot for every lent connection (``in_use``; leak detection scans it).
- ``_size``: open + opening connections, never above ``max_size``; ``_opening``: handshakes in
  progress. Both change only under the pool's lock.
- ``_reclaim``: slots whose borrower's proxy was garbage-collected (appended by ``__del__``).

The concurrency (locks and threads, or futures and tasks) lives in the subclasses; here are the
decisions: is a slot expired, does it need a round trip before it is lent, how many connections
to open, what a timeout or a leak report says.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import Counter, deque
from typing import Any

from minide._convert import Duration
from minide.errors import InvalidArgumentError
from minide.pool.drivers import Driver, get_driver
from minide.pool.liveness import StallWatch
from minide.pool.options import Options, make_options
from minide.pool.slot import Slot, format_stack, where
from minide.pool.stats import Counters, prometheus_text
from minide.pool.url import ConnInfo, parse_url

__all__ = ["ALIVE_BYPASS", "LIFETIME_JITTER", "PoolBase", "log"]

log = logging.getLogger("minide.pool")

#: a connection validated this recently (seconds) is lent without a round trip (the socket
#: probe still runs): pinging on every borrow would double the cost of a short query
ALIVE_BYPASS = 0.5
#: each connection's max_lifetime is shortened by up to this fraction, at random, so that
#: connections opened together do not all expire (and reconnect) together
LIFETIME_JITTER = 0.1
#: leak reports kept for :meth:`PoolBase.leaks`
LEAK_HISTORY = 100


class PoolBase:
    """Options, counters and the decisions both pools share. Not used directly."""

    def __init__(
        self,
        url: str | ConnInfo,
        *,
        min_size: int = 2,
        max_size: int = 20,
        max_idle: Duration | float | None = "5m",
        max_lifetime: Duration | float | None = "30m",
        acquire_timeout: Duration | float = "5s",
        health_check: str = "on_borrow",
        validation_query: str | None = None,
        reset_on_return: bool | str = True,
        leak_threshold: Duration | float | None = "30s",
        socket_timeout: Duration | float | None = "30s",
        driver: str | None = None,
    ) -> None:
        self.info = url if isinstance(url, ConnInfo) else parse_url(url, driver)
        if driver is not None and isinstance(url, ConnInfo) and driver != url.driver:
            self.info = parse_url(url.redacted(), driver)
        self.driver: Driver = get_driver(self.info.driver)
        self.options: Options = make_options(
            min_size=min_size,
            max_size=max_size,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            acquire_timeout=acquire_timeout,
            health_check=health_check,
            validation_query=validation_query,
            reset_on_return=reset_on_return,
            leak_threshold=leak_threshold,
            socket_timeout=socket_timeout,
        )
        self.name = self.info.redacted()
        self._min = self.options.min_size
        self._max = self.options.max_size
        self._on_borrow = self.options.health_check == "on_borrow"
        self._reset_tx = self.options.reset_on_return is not False
        self._discard_state = self.options.reset_on_return == "discard"
        self._idle: deque[Slot] = deque()
        self._borrowed: dict[int, Slot] = {}
        self._reclaim: deque[Slot] = deque()
        self._size = 0
        self._opening = 0
        self._closed = False
        self._ids = itertools.count(1)
        self._c = Counters()
        self._break_epoch = 0.0
        self._last_error: tuple[float, BaseException] | None = None
        self._leak_log: deque[dict[str, Any]] = deque(maxlen=LEAK_HISTORY)
        self._wait_ticks = 0
        self._watch = StallWatch()
        self.tick = self._tick_interval()

    # -- decisions -------------------------------------------------------------------------------
    def _tick_interval(self) -> float:
        o = self.options
        spans = [
            x for x in (o.leak_threshold, o.max_idle, o.periodic_interval, o.socket_timeout) if x
        ]
        return min(0.25, max(0.02, min(spans) / 4)) if spans else 0.25

    def _new_slot(self, raw: Any) -> Slot:
        now = time.monotonic()
        life = self.options.max_lifetime
        expires = now + life * (1 - LIFETIME_JITTER * random.random()) if life else float("inf")
        drv = self.driver
        return Slot(next(self._ids), raw, now, expires, drv.fileno(raw), drv.backend_id(raw))

    def _needs_ping(self, slot: Slot, now: float) -> bool:
        """on_borrow: a round trip when the slot was not validated lately, or when another
        connection broke after its last check (a server restart cuts them all)."""
        return now - slot.checked > ALIVE_BYPASS or slot.checked <= self._break_epoch

    def _idle_expiry(self, now: float) -> list[tuple[Slot, str]]:
        """Idle slots to close now: past their lifetime, or idle longer than max_idle while
        the pool is above min_size (the coldest first)."""
        out: list[tuple[Slot, str]] = []
        max_idle = self.options.max_idle
        spare = self._size - self._min
        for slot in list(self._idle):
            if now >= slot.expires:
                out.append((slot, "lifetime"))
                spare -= 1
            elif max_idle is not None and spare > 0 and now - slot.last_used > max_idle:
                out.append((slot, "idle"))
                spare -= 1
        return out

    def _demand_locked(self) -> int:
        """How many connections to start opening now (under the lock): one per waiter not
        already covered by a handshake in progress, within max_size; and up to min_size."""
        room = self._max - self._size
        want = max(len(self._waiters_view()) - self._opening, self._min - self._size)
        return max(0, min(want, room))

    def _waiters_view(self) -> Any:
        raise NotImplementedError

    def _check_resize(self, min_size: int | None, max_size: int | None) -> tuple[int, int]:
        lo = self._min if min_size is None else min_size
        hi = self._max if max_size is None else max_size
        for what, n in (("min_size", lo), ("max_size", hi)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise InvalidArgumentError(f"resize: {what} must be an int >= 0, got {n!r}")
        if hi < 1 or lo > hi:
            raise InvalidArgumentError(
                f"resize: need 0 <= min_size <= max_size and max_size >= 1, got {lo}, {hi}"
            )
        return lo, hi

    # -- reports ---------------------------------------------------------------------------------
    def _borrower_name(self, slot: Slot) -> str:
        t = slot.thread  # a Thread, or an asyncio Task
        if t is None:
            return "unknown"
        return t.get_name() if hasattr(t, "get_name") else t.name

    def _report_leak(self, slot: Slot, kind: str, now: float) -> None:
        self._c.leaks += 1
        held = now - slot.borrowed_at if slot.borrowed_at else 0.0
        report = {
            "kind": kind,
            "connection": slot.id,
            "backend": slot.backend,
            "borrower": self._borrower_name(slot),
            "held_s": held,
            "where": where(slot.stack),
            "stack": format_stack(slot.stack),
        }
        what = (
            f"held for {held:.1f} s (leak_threshold {self.options.leak_threshold:g} s)"
            if kind == "held"
            else "garbage-collected without being returned; reclaimed"
        )
        log.warning(
            "pool %s: connection #%d (backend %d) %s; borrowed by %s at:\n%s",
            self.name,
            slot.id,
            slot.backend,
            what,
            report["borrower"],
            report["stack"],
        )
        self._leak_log.append(report)  # after the log line: a report seen is a report logged

    def _check_leaks(self, now: float) -> None:
        limit = self.options.leak_threshold
        if limit is None:
            return
        for slot in list(self._borrowed.values()):
            if not slot.leak_reported and slot.borrowed_at and now - slot.borrowed_at > limit:
                slot.leak_reported = True
                self._report_leak(slot, "held", now)

    def _timeout_message(self, waited: float) -> str:
        now = time.monotonic()
        borrowed = list(self._borrowed.values())
        sites: Counter[str] = Counter()
        names: dict[str, list[str]] = {}
        oldest = 0.0
        for s in borrowed:
            site = where(s.stack)
            sites[site] += 1
            names.setdefault(site, []).append(self._borrower_name(s))
            if s.borrowed_at:
                oldest = max(oldest, now - s.borrowed_at)
        parts = []
        for site, n in sites.most_common(5):
            who = sorted(set(names[site]))
            shown = ", ".join(who[:4]) + (f" and {len(who) - 4} more" if len(who) > 4 else "")
            parts.append(f"{n} by {site} ({shown})")
        held = "; ".join(parts) if parts else "none"
        msg = (
            f"pool {self.name}: no connection within {waited:.3g} s (acquire_timeout): "
            f"{len(borrowed)} in use of max_size={self._max}, {self._opening} opening, "
            f"{len(self._waiters_view())} other callers waiting. In use by: {held}"
        )
        if borrowed:
            msg += f"; the oldest borrow is {oldest:.2f} s old"
        if self._last_error is not None and now - self._last_error[0] < max(waited, 1.0) * 2:
            t, e = self._last_error
            msg += f". Last connect error {now - t:.2f} s ago: {type(e).__name__}: {e}"
        return msg

    def _note_connect_error(self, e: BaseException) -> None:
        self._c.connect_errors += 1
        self._last_error = (time.monotonic(), e)

    # -- public, shared --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """A snapshot: ``size`` (open + opening), ``idle``, ``in_use``, ``opening``, ``waiting``,
        ``min_size``/``max_size``, ``acquired`` (total) and ``acquired_per_s`` (over the last
        10 s), ``wait_p50_s``/``wait_p99_s``, ``timeouts``, ``created``, ``connect_errors``,
        ``closed`` (by reason: lifetime, idle, broken, reset, resize, leaked, cancelled, pool),
        ``leaks`` and ``stalls`` (borrowed connections cut after ``socket_timeout`` of silence
        from a server that was not working on their query)."""
        c = self._c
        now = time.monotonic()
        return {
            "size": self._size,
            "idle": len(self._idle),
            "in_use": len(self._borrowed),
            "opening": self._opening,
            "waiting": len(self._waiters_view()),
            "min_size": self._min,
            "max_size": self._max,
            "acquired": c.acquired,
            "acquired_per_s": c.rate(now),
            "wait_p50_s": c.quantile(0.50),
            "wait_p99_s": c.quantile(0.99),
            "timeouts": c.timeouts,
            "created": c.created,
            "connect_errors": c.connect_errors,
            "closed": dict(c.closed),
            "leaks": c.leaks,
            "stalls": c.stalls,
        }

    def metrics_prometheus(self) -> str:
        """``stats()`` in the Prometheus text exposition format (label ``pool`` = the URL
        without its password), with the wait time as a histogram."""
        return prometheus_text(self.name, self.stats(), self._c)

    def leaks(self) -> list[dict[str, Any]]:
        """The latest leak reports (newest last): kind ("held" past leak_threshold or
        "collected" by the garbage collector), connection, backend, borrower, held_s, where,
        stack (the borrower's stack, traceback-style)."""
        return list(self._leak_log)

    def describe(self) -> str:
        """A human-readable summary: target, driver, options, state and every connection."""
        st = self.stats()
        o = self.options
        lines = [
            f"{type(self).__name__} {self.name} (driver {self.driver.name})",
            f"  size {st['size']} (min {st['min_size']}, max {st['max_size']}): {st['idle']} idle, "
            f"{st['in_use']} in use, {st['opening']} opening, {st['waiting']} waiting",
            f"  options: max_idle={o.max_idle}, max_lifetime={o.max_lifetime}, "
            f"acquire_timeout={o.acquire_timeout}, health_check={o.health_check}, "
            f"reset_on_return={o.reset_on_return}, leak_threshold={o.leak_threshold}, "
            f"socket_timeout={o.socket_timeout}",
            f"  acquired {st['acquired']} ({st['acquired_per_s']:.0f}/s), wait p50 "
            f"{st['wait_p50_s'] * 1e3:.3g} ms p99 {st['wait_p99_s'] * 1e3:.3g} ms, "
            f"timeouts {st['timeouts']}, created {st['created']}, leaks {st['leaks']}, "
            f"stalls {st['stalls']}",
            "  closed: " + ", ".join(f"{k} {v}" for k, v in st["closed"].items()),
        ]
        now = time.monotonic()
        for s in sorted(self._borrowed.values(), key=lambda s: s.id):
            lines.append(
                f"  #{s.id} backend {s.backend}: in use {now - s.borrowed_at:.2f} s by "
                f"{self._borrower_name(s)} at {where(s.stack)}"
            )
        for s in list(self._idle):
            lines.append(
                f"  #{s.id} backend {s.backend}: idle {now - s.last_used:.2f} s, "
                f"age {now - s.created:.1f} s"
            )
        return "\n".join(lines)

    inspect = describe

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = (
            "closed" if self._closed else f"{len(self._idle)} idle, {len(self._borrowed)} in use"
        )
        return (
            f"{type(self).__name__}({self.name!r}, driver={self.driver.name!r}, "
            f"min_size={self._min}, max_size={self._max}: {state})"
        )
