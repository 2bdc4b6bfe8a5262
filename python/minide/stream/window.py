"""Event-time windows keyed by columns: tumbling, sliding and session, closed by the watermark.

``ms.window("tumbling", size="1m", key="user", aggs={"n": (None, "count"), "total": ("amount",
"sum")})`` is a pipeline step. Rows are assigned to windows by event time; a window's result is
emitted (once) when the watermark passes its end:

* watermark = max event time seen - allowed_lateness, advanced row by row as in the
  deduplicator; a row with ``t < watermark`` is late: counted in ``late_rows`` and ignored;
* tumbling ``[k*size, (k+1)*size)``; sliding ``[k*slide, k*slide + size)`` (a row is in
  ``size / slide`` windows); session: a key's rows closer than ``gap`` merge into one window
  ``[first, last + gap)``;
* a window is emitted when ``end <= watermark``; :meth:`WindowStep.flush` emits the rest.

Output columns: the key columns, ``window_start``, ``window_end`` (in the time column's units)
and one column per aggregate (count, sum, min, max, mean). State (open windows and the
watermark) is checkpointed with the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
import numpy as np
import pyarrow as pa

from minide.errors import InvalidArgumentError, SchemaError
from minide.stream._duration import Duration, to_nanos
from minide.stream.pipeline import Step

__all__ = ["WindowStep", "window"]

_AGGS = ("count", "sum", "min", "max", "mean")


def _unit_nanos(t: pa.DataType) -> int:
    if pa.types.is_int64(t):
        return 1_000_000
    if pa.types.is_timestamp(t):
        return {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
    raise SchemaError(f"window time column must be a timestamp or int64 milliseconds, not {t}")


def _ticks(nanos: int, unit: int) -> int:
    return max(1, -(-nanos // unit))


class WindowStep(Step):
    name = "window"

    def __init__(
        self,
        kind: str,
        *,
        size: Duration | None,
        slide: Duration | None,
        gap: Duration | None,
        key: Sequence[str],
        time_column: str,
        allowed_lateness: Duration,
        aggs: dict[str, tuple[str | None, str]],
    ) -> None:
        if kind not in ("tumbling", "sliding", "session"):
            raise InvalidArgumentError(
                f"window kind must be tumbling, sliding or session, not {kind!r}"
            )
        if kind == "session" and gap is None:
            raise InvalidArgumentError("session windows need gap=")
        if kind != "session" and size is None:
            raise InvalidArgumentError(f"{kind} windows need size=")
        if kind == "sliding" and slide is None:
            raise InvalidArgumentError("sliding windows need slide=")
        for out, (col, fn) in aggs.items():
            if fn not in _AGGS:
                raise InvalidArgumentError(f"aggregate {out!r}: {fn!r} is not one of {_AGGS}")
            if fn != "count" and col is None:
                raise InvalidArgumentError(f"aggregate {out!r}: {fn} needs a column")
        self.kind, self.key, self.time_column, self.aggs = kind, list(key), time_column, dict(aggs)
        self._spec = (size, slide, gap, allowed_lateness)
        self.size_ns = to_nanos(size, "size") if size is not None else 0
        self.slide_ns = to_nanos(slide, "slide") if slide is not None else 0
        self.gap_ns = to_nanos(gap, "gap") if gap is not None else 0
        self.lateness_ns = to_nanos(allowed_lateness, "allowed_lateness")
        if kind == "sliding" and (self.slide_ns <= 0 or self.size_ns % self.slide_ns):
            raise InvalidArgumentError("sliding windows need a slide that divides size")
        self.unit: int | None = None
        self.max_seen: int | None = None
        # (key tuple, start) -> [end, count, per-agg partials...]
        self.open: dict[tuple[Any, int], list[Any]] = {}
        self.late_rows = 0
        self._schema: pa.Schema | None = None
        self._by_key: dict[Any, set[int]] = {}  # session index: key -> open session starts

    def fresh(self) -> Step:
        size, slide, gap, lateness = self._spec
        return WindowStep(
            self.kind, size=size, slide=slide, gap=gap, key=self.key,
            time_column=self.time_column, allowed_lateness=lateness, aggs=self.aggs,
        )  # fmt: skip

    # -- assignment ---------------------------------------------------------------------------
    def _windows(self, t: int) -> list[tuple[int, int]]:
        assert self.unit is not None
        if self.kind == "tumbling":
            size = _ticks(self.size_ns, self.unit)
            s = t - t % size
            return [(s, s + size)]
        size, slide = _ticks(self.size_ns, self.unit), _ticks(self.slide_ns, self.unit)
        last = t - t % slide
        return [(s, s + size) for s in range(last, t - size, -slide)]

    def _fold(self, acc: list[Any], row: dict[str, Any]) -> None:
        acc[1] += 1
        for i, (col, fn) in enumerate(self.aggs.values()):
            if fn == "count":
                continue
            v = row.get(col) if col is not None else None
            if v is None:
                continue
            cur = acc[2 + i]
            if fn in ("sum", "mean"):
                acc[2 + i] = v if cur is None else cur + v
                acc[2 + i + len(self.aggs)] += 1  # non-null count for mean
            elif fn == "min":
                acc[2 + i] = v if cur is None or v < cur else cur
            elif fn == "max":
                acc[2 + i] = v if cur is None or v > cur else cur

    def _new_acc(self, end: int) -> list[Any]:
        return [end, 0] + [None] * len(self.aggs) + [0] * len(self.aggs)

    def _merge(self, a: list[Any], b: list[Any]) -> list[Any]:
        out = self._new_acc(max(a[0], b[0]))
        out[1] = a[1] + b[1]
        n = len(self.aggs)
        for i, (_, fn) in enumerate(self.aggs.values()):
            x, y = a[2 + i], b[2 + i]
            if x is None or y is None:
                out[2 + i] = y if x is None else x
            elif fn in ("sum", "mean"):
                out[2 + i] = x + y
            elif fn == "min":
                out[2 + i] = min(x, y)
            elif fn == "max":
                out[2 + i] = max(x, y)
            out[2 + n + i] = a[2 + n + i] + b[2 + n + i]
        return out

    # -- processing ---------------------------------------------------------------------------
    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.time_column not in batch.schema.names:
            raise SchemaError(f"window time column {self.time_column!r} is not in the batch")
        tcol = batch.column(self.time_column)
        unit = _unit_nanos(tcol.type)
        if self.unit is None:
            self.unit = unit
        elif unit != self.unit:
            raise SchemaError("window time column changed unit since the first batch")
        self._schema = batch.schema
        lateness = -(-self.lateness_ns // unit) if self.lateness_ns else 0
        times = tcol.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if len(times) == 0:
            return self._emit()
        # Watermark before each row: running max of earlier rows (and earlier batches).
        prev = np.maximum.accumulate(times)
        before = np.empty_like(times)
        before[0] = (
            self.max_seen if self.max_seen is not None else np.iinfo(np.int64).min + lateness
        )
        before[1:] = prev[:-1]
        if self.max_seen is not None:
            before = np.maximum(before, self.max_seen)
        late = times < before - lateness
        self.late_rows += int(late.sum())
        self.max_seen = int(max(prev[-1], self.max_seen if self.max_seen is not None else prev[-1]))
        cols = [c for c in {*self.key, *(c for c, _ in self.aggs.values() if c)}]
        data = {c: batch.column(c).to_pylist() for c in cols}
        for i in np.flatnonzero(~late):
            t = int(times[i])
            k = tuple(data[c][i] for c in self.key)
            row = {c: data[c][i] for c in cols}
            if self.kind == "session":
                self._add_session(k, t, row)
                continue
            for s, e in self._windows(t):
                acc = self.open.get((k, s))
                if acc is None:
                    acc = self.open[(k, s)] = self._new_acc(e)
                self._fold(acc, row)
        return self._emit()

    def _add_session(self, k: tuple, t: int, row: dict[str, Any]) -> None:
        assert self.unit is not None
        gap = _ticks(self.gap_ns, self.unit)
        acc = self._new_acc(t + gap)
        self._fold(acc, row)
        start = t
        # Merge every open session of this key that overlaps [t, t + gap).
        starts = self._by_key.setdefault(k, set())
        for s in list(starts):
            other = self.open[(k, s)]
            if s < t + gap and t < other[0]:
                del self.open[(k, s)]
                starts.discard(s)
                acc = self._merge(acc, other)
                start = min(start, s)
        self.open[(k, start)] = acc
        starts.add(start)

    def _emit(self, everything: bool = False) -> pa.RecordBatch:
        wm = (
            None
            if self.max_seen is None
            else self.max_seen
            - (-(-self.lateness_ns // self.unit) if self.lateness_ns and self.unit else 0)
        )
        done = [
            (k, s, acc)
            for (k, s), acc in self.open.items()
            if everything or (wm is not None and acc[0] <= wm)
        ]
        for k, s, _ in done:
            del self.open[(k, s)]
            if k in self._by_key:
                self._by_key[k].discard(s)
        done.sort(key=lambda x: (x[1], repr(x[0])))
        return self._to_batch(done)

    def _to_batch(self, done: list[tuple[tuple, int, list[Any]]]) -> pa.RecordBatch:
        schema = self._schema
        cols: dict[str, pa.Array] = {}
        for j, c in enumerate(self.key):
            t = schema.field(c).type if schema is not None else None
            cols[c] = pa.array([k[j] for k, _, _ in done], type=t)
        ttype = schema.field(self.time_column).type if schema is not None else pa.int64()
        cols["window_start"] = pa.array([s for _, s, _ in done], pa.int64()).cast(ttype)
        cols["window_end"] = pa.array([a[0] for _, _, a in done], pa.int64()).cast(ttype)
        n = len(self.aggs)
        for i, (out, (_, fn)) in enumerate(self.aggs.items()):
            if fn == "count":
                cols[out] = pa.array([a[1] for _, _, a in done], pa.int64())
            elif fn == "mean":
                cols[out] = pa.array(
                    [None if a[2 + n + i] == 0 else a[2 + i] / a[2 + n + i] for _, _, a in done],
                    pa.float64(),
                )
            else:
                cols[out] = pa.array([a[2 + i] for _, _, a in done])
        return pa.record_batch(cols)

    def flush(self) -> pa.RecordBatch:
        """Emit every open window (end of a bounded stream)."""
        return self._emit(everything=True)

    # -- state --------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        return msgpack.packb(
            {
                "unit": self.unit,
                "max_seen": self.max_seen,
                "late": self.late_rows,
                "open": [[list(k), s, acc] for (k, s), acc in self.open.items()],
            },
            use_bin_type=True,
        )

    def restore(self, state: bytes) -> None:
        doc = msgpack.unpackb(state, raw=False)
        self.unit, self.max_seen, self.late_rows = doc["unit"], doc["max_seen"], doc["late"]
        self.open = {(tuple(k), s): acc for k, s, acc in doc["open"]}
        self._by_key = {}
        for k, s in self.open:
            self._by_key.setdefault(k, set()).add(s)

    def stats(self) -> dict[str, float]:
        return {"open_windows": len(self.open), "late_rows": self.late_rows}


def window(
    kind: str = "tumbling",
    *,
    size: Duration | None = None,
    slide: Duration | None = None,
    gap: Duration | None = None,
    key: str | Sequence[str] = (),
    time_column: str = "event_time",
    allowed_lateness: Duration = "0s",
    aggs: dict[str, tuple[str | None, str]] | None = None,
) -> WindowStep:
    """A window step; ``aggs`` maps output names to ``(column, "count"|"sum"|"min"|"max"|"mean")``
    (default ``{"count": (None, "count")}``)."""
    keys = [key] if isinstance(key, str) else list(key)
    return WindowStep(
        kind,
        size=size,
        slide=slide,
        gap=gap,
        key=keys,
        time_column=time_column,
        allowed_lateness=allowed_lateness,
        aggs=aggs or {"count": (None, "count")},
    )
