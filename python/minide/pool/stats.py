"""The pool's counters, its wait-time histogram, and their Prometheus text form.

The hot path touches one counter (``acquired``): a borrow served from the idle set waited zero
seconds, so only borrows that had to wait (the slow path, which holds the pool's lock anyway)
are put in the histogram; zero-wait borrows are ``acquired - waited``. Quantiles are read from
the histogram (log-spaced buckets, each twice the previous), so p50/p99 are upper bounds within
a factor of two, cheap to keep and exportable as a Prometheus histogram.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from typing import Any

__all__ = ["BUCKETS", "CLOSE_REASONS", "Counters", "prometheus_text"]

#: why a connection was closed: lifetime (max_lifetime), idle (max_idle), broken (the driver or
#: a health check saw it dead), reset (reset_on_return failed), resize (the pool shrank),
#: leaked (a borrower lost it and it could not be reset), cancelled (an asyncio task was
#: cancelled in the middle of a check or reset on it), pool (the pool was closed)
CLOSE_REASONS = ("lifetime", "idle", "broken", "reset", "resize", "leaked", "cancelled", "pool")
#: wait-time bucket upper bounds in seconds: 10 µs · 2^i, up to ~84 s
BUCKETS: tuple[float, ...] = tuple(1e-5 * 2**i for i in range(24))
#: the window acquired/s is measured over
RATE_WINDOW = 10.0


class Counters:
    """Counters of one pool. ``acquired`` is bumped on every borrow without a lock (one
    ``+=`` on an int attribute under the GIL); everything else changes on slow paths."""

    def __init__(self) -> None:
        self.acquired = 0
        self.waited = 0
        self.wait_sum = 0.0
        self.wait_hist = [0] * (len(BUCKETS) + 1)
        self.timeouts = 0
        self.created = 0
        self.connect_errors = 0
        self.leaks = 0
        self.stalls = 0
        self.gc_reclaimed = 0
        self.closed = dict.fromkeys(CLOSE_REASONS, 0)
        self.started = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque()

    def record_wait(self, seconds: float) -> None:
        self.waited += 1
        self.wait_sum += seconds
        self.wait_hist[bisect.bisect_left(BUCKETS, seconds)] += 1

    def sample(self, now: float) -> None:
        """Remember (now, acquired) for the acquired/s rate (called by the maintenance tick)."""
        self._samples.append((now, self.acquired))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()

    def rate(self, now: float) -> float:
        if self._samples and now - self._samples[0][0] > 0.05:
            t0, n0 = self._samples[0]
            return (self.acquired - n0) / (now - t0)
        elapsed = now - self.started
        return self.acquired / elapsed if elapsed > 0 else 0.0

    def quantile(self, q: float) -> float:
        """Wait-time quantile in seconds (0.0 when the q-th borrow did not wait)."""
        total = self.acquired
        if total <= 0:
            return 0.0
        rank = q * total
        seen = total - self.waited  # zero-wait borrows
        if rank <= seen:
            return 0.0
        for i, n in enumerate(self.wait_hist):
            seen += n
            if seen >= rank:
                return BUCKETS[i] if i < len(BUCKETS) else float("inf")
        return BUCKETS[-1]


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(name: str, st: dict[str, Any], c: Counters) -> str:
    """The Prometheus exposition text of one pool's ``stats()`` (label ``pool``)."""
    p = f'pool="{_label(name)}"'
    out: list[str] = []

    def metric(mname: str, kind: str, help_: str, rows: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {mname} {help_}")
        out.append(f"# TYPE {mname} {kind}")
        for labels, value in rows:
            lab = f"{p},{labels}" if labels else p
            out.append(f"{mname}{{{lab}}} {value}")

    metric(
        "minide_pool_connections",
        "gauge",
        "Open connections by state (opening: handshakes in progress).",
        [(f'state="{s}"', st[s]) for s in ("idle", "in_use", "opening")],
    )
    metric("minide_pool_size", "gauge", "Open plus opening connections.", [("", st["size"])])
    metric("minide_pool_min_size", "gauge", "The min_size bound.", [("", st["min_size"])])
    metric("minide_pool_max_size", "gauge", "The max_size bound.", [("", st["max_size"])])
    metric(
        "minide_pool_waiting", "gauge", "Callers waiting for a connection.", [("", st["waiting"])]
    )
    metric(
        "minide_pool_acquired_total", "counter", "Connections handed out.", [("", st["acquired"])]
    )
    metric(
        "minide_pool_timeouts_total",
        "counter",
        "Borrows that raised PoolTimeoutError.",
        [("", st["timeouts"])],
    )
    metric("minide_pool_created_total", "counter", "Connections opened.", [("", st["created"])])
    metric(
        "minide_pool_connect_errors_total",
        "counter",
        "Failed connection attempts.",
        [("", st["connect_errors"])],
    )
    metric(
        "minide_pool_closed_total",
        "counter",
        "Connections closed, by reason.",
        [(f'reason="{r}"', n) for r, n in st["closed"].items()],
    )
    metric(
        "minide_pool_leaks_total",
        "counter",
        "Borrows held past leak_threshold or lost to the garbage collector.",
        [("", st["leaks"])],
    )
    metric(
        "minide_pool_stalls_total",
        "counter",
        "Borrowed connections cut after socket_timeout without an answer from the server.",
        [("", st["stalls"])],
    )
    out.append("# HELP minide_pool_wait_seconds Time borrowers waited for a connection.")
    out.append("# TYPE minide_pool_wait_seconds histogram")
    cum = c.acquired - c.waited
    for le, n in zip(BUCKETS, c.wait_hist, strict=False):
        cum += n
        out.append(f'minide_pool_wait_seconds_bucket{{{p},le="{le:.6g}"}} {cum}')
    out.append(f'minide_pool_wait_seconds_bucket{{{p},le="+Inf"}} {c.acquired}')
    out.append(f"minide_pool_wait_seconds_sum{{{p}}} {c.wait_sum:.9g}")
    out.append(f"minide_pool_wait_seconds_count{{{p}}} {c.acquired}")
    return "\n".join(out) + "\n"
