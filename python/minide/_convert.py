"""Argument conventions shared by every engine (see docs/conventions.md): one parser each.

- :func:`to_nanos`: a duration from a ``datetime.timedelta``, a string like ``"1h30m"`` or
  ``"250ms"``, or an int in the unit the caller documents (nanoseconds unless it says otherwise).
- :func:`check_sync`: durability, ``sync="always" | "batch" | "none"``.
- :func:`resolve_threads`: ``threads=None`` means every core (``os.cpu_count()``).

This module is neutral ground: it imports nothing of minide but the errors, so any engine can
use it without loading another engine.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Literal, get_args

from minide.errors import InvalidArgumentError

__all__ = ["Duration", "Sync", "check_sync", "resolve_threads", "to_nanos", "to_seconds"]

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|min|s|m|h|d)")

#: a duration argument: a timedelta, a string like "1h30m", or an int in a documented unit
Duration = str | timedelta | int

#: durability of a write: fsync before returning / within milliseconds (group commit) / never
Sync = Literal["always", "batch", "none"]
SYNC_MODES: tuple[str, ...] = get_args(Sync)


def to_nanos(value: Duration | float, what: str = "duration", *, int_unit: str = "ns") -> int:
    """Nanoseconds in ``value``; raises InvalidArgumentError naming ``what`` if it does not parse.

    Strings are one or more ``<number><unit>`` parts (units ns, us, µs, ms, s, m/min, h, d),
    summed: ``"1h30m"``, ``"250ms"``, ``"1.5s"``. A number (int, or float where the caller
    documents it) counts ``int_unit`` (one of those units).
    """
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be a duration, got {value!r}")
    if isinstance(value, timedelta):
        return (
            value.days * 86_400_000_000_000
            + value.seconds * 1_000_000_000
            + value.microseconds * 1_000
        )
    if isinstance(value, int):
        return value * _UNITS_NS[int_unit]
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return round(value * _UNITS_NS[int_unit])
    if isinstance(value, str):
        text = value.strip().lower()
        pos, total = 0, 0.0
        for m in _PART.finditer(text):
            if text[pos : m.start()].strip():
                break
            total += float(m.group(1)) * _UNITS_NS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return round(total)
    raise InvalidArgumentError(
        f"{what}: cannot read {value!r} as a duration; use e.g. '1h', '5m', '250ms', "
        f"'1h30m', a datetime.timedelta or an int ({int_unit})"
    )


def to_seconds(value: Duration | float, what: str = "duration", *, number_unit: str = "s") -> float:
    """:func:`to_nanos` in seconds, for APIs whose numbers count seconds (like ``time.sleep``)."""
    return to_nanos(value, what, int_unit=number_unit) / 1e9


def check_sync(value: object, what: str = "sync") -> Sync:
    """``value`` if it is one of "always", "batch", "none"; InvalidArgumentError otherwise."""
    if isinstance(value, str) and value in SYNC_MODES:
        return value  # type: ignore[return-value]
    raise InvalidArgumentError(
        f'{what} must be "always" (fsync before returning), "batch" (fsync within '
        f'milliseconds) or "none" (leave it to the OS), got {value!r}'
    )


def resolve_threads(threads: int | None, what: str = "threads") -> int:
    """``None`` → every core (``os.cpu_count()``); otherwise a positive int, checked."""
    if threads is None:
        return os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgumentError(
            f"{what} must be None (every core) or an int >= 1, got {threads!r}"
        )
    return threads
