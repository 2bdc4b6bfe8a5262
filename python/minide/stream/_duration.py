"""Duration parsing: ``"1h"``, ``"5m"``, ``"200ms"``, ``"1h30m"``, a timedelta or integer nanoseconds."""

from __future__ import annotations

import re
from datetime import timedelta

from minide.errors import InvalidArgumentError

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

Duration = str | timedelta | int


def to_nanos(value: Duration, what: str = "duration") -> int:
    """Nanoseconds in ``value``; raises InvalidArgumentError naming ``what`` if it does not parse."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be a duration, got {value!r}")
    if isinstance(value, timedelta):
        return (
            value.days * 86_400_000_000_000
            + value.seconds * 1_000_000_000
            + value.microseconds * 1_000
        )
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        pos, total = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos and text[pos : m.start()].strip():
                break
            total += float(m.group(1)) * _UNITS_NS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return round(total)
    raise InvalidArgumentError(
        f"{what}: cannot read {value!r} as a duration; use e.g. '1h', '5m', '200ms', "
        "'1h30m', a datetime.timedelta or integer nanoseconds"
    )
