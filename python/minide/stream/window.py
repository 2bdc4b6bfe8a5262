"""Event-time windows keyed by columns: tumbling, sliding (hopping) and session, closed by the
watermark. The work happens in Rust (rust/stream/src/window/); this module is the facade.

``ms.window("tumbling", size="1m", key="user", aggs={"n": (None, "count"), "total": ("amount",
"sum")})`` is a pipeline step. Rows are assigned to windows by event time; a window's result is
emitted (once) when the watermark passes its end:

* watermark = max event time seen - allowed_lateness, advanced row by row as in the
  deduplicator; a row with ``t < watermark`` (or a null time) is late: counted in
  ``late_rows`` and ignored;
* tumbling ``[k*size, (k+1)*size)``; sliding/hopping ``[k*slide, k*slide + size)`` (a row is
  in ``size / slide`` windows); session: a key's rows closer than ``gap`` merge into one window
  ``[first, last + gap)``;
* a window is emitted when ``end <= watermark``; :meth:`WindowStep.flush` emits the rest.

Output columns: the key columns, ``window_start``, ``window_end`` (in the time column's type)
and one column per aggregate: ``count`` (rows; ``count`` of a column counts its non-null
values), ``sum``, ``min``, ``max`` (int64 for integer columns, float64 for floats) and ``mean``
(float64); nulls are ignored as in SQL, and an aggregate over no non-null value is null.
Rows are ordered by window start, end, then key. State (open windows and the watermark) is
checkpointed with the pipeline. See docs/stream.md, "Windows".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from minide import _core
from minide._convert import Duration, to_nanos
from minide.errors import InvalidArgumentError
from minide.stream.dedup import record_batches
from minide.stream.pipeline import Step

__all__ = ["WindowStep", "window"]

_AGGS = ("count", "sum", "min", "max", "mean")
_KINDS = ("tumbling", "sliding", "hopping", "session")


class WindowStep(Step):
    """A window step (see the module docs); ``threads=None`` uses every core."""

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
        threads: int | None = None,
    ) -> None:
        if kind not in _KINDS:
            raise InvalidArgumentError(
                f"window kind must be tumbling, sliding (hopping) or session, not {kind!r}"
            )
        if kind == "session" and gap is None:
            raise InvalidArgumentError("session windows need gap=")
        if kind != "session" and size is None:
            raise InvalidArgumentError(f"{kind} windows need size=")
        if kind in ("sliding", "hopping") and slide is None:
            raise InvalidArgumentError(f"{kind} windows need slide=")
        for out, (col, fn) in aggs.items():
            if fn not in _AGGS:
                raise InvalidArgumentError(f"aggregate {out!r}: {fn!r} is not one of {_AGGS}")
            if fn != "count" and col is None:
                raise InvalidArgumentError(f"aggregate {out!r}: {fn} needs a column")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InvalidArgumentError(
                f"threads must be a positive integer or None, not {threads!r}"
            )
        self.kind, self.key, self.time_column, self.aggs = kind, list(key), time_column, dict(aggs)
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        self._spec = (size, slide, gap, allowed_lateness)
        self._inner = _core.StreamWindow(
            "hopping" if kind == "sliding" else kind,
            to_nanos(size, "size") if size is not None else None,
            to_nanos(slide, "slide") if slide is not None else None,
            to_nanos(gap, "gap") if gap is not None else None,
            self.key,
            time_column,
            to_nanos(allowed_lateness, "allowed_lateness"),
            [(out, col, fn) for out, (col, fn) in self.aggs.items()],
            self.threads,
        )

    def fresh(self) -> Step:
        size, slide, gap, lateness = self._spec
        return WindowStep(
            self.kind, size=size, slide=slide, gap=gap, key=self.key,
            time_column=self.time_column, allowed_lateness=lateness, aggs=self.aggs,
            threads=self.threads,
        )  # fmt: skip

    def process(self, batch: Any) -> pa.RecordBatch:
        """Feed a batch (or table); returns the windows it closed (often none)."""
        outs = [self._inner.process(b) for b in record_batches(batch, "a window step")]
        if len(outs) == 1:
            out: pa.RecordBatch = outs[0]
            return out
        if not outs:
            return self._empty()
        return pa.concat_batches(outs)

    def flush(self) -> pa.RecordBatch:
        """Emit every open window (end of a bounded stream)."""
        out = self._inner.flush()
        return self._empty() if out is None else out

    def _empty(self) -> pa.RecordBatch:
        """No batch seen yet: an empty result (key types unknown, so null-typed)."""
        cols: dict[str, pa.Array] = {k: pa.array([], pa.null()) for k in self.key}
        cols["window_start"] = pa.array([], pa.int64())
        cols["window_end"] = pa.array([], pa.int64())
        for out, (_, fn) in self.aggs.items():
            cols[out] = pa.array([], pa.float64() if fn == "mean" else pa.int64())
        return pa.record_batch(cols)

    @property
    def late_rows(self) -> int:
        """Rows that arrived behind the watermark (or with a null time) since the start."""
        n: int = self._inner.stats()["late_rows"]
        return n

    @property
    def watermark(self) -> int | None:
        """Current watermark in the time column's unit (int64 columns: ms); None before any row."""
        wm: int | None = self._inner.watermark
        return wm

    # -- state --------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        """Open windows, watermark and counters as versioned, CRC-checked bytes."""
        state: bytes = self._inner.checkpoint()
        return state

    def restore(self, state: bytes) -> None:
        """Continue from ``checkpoint()`` bytes of a step with the same configuration."""
        inner = _core.StreamWindow.restore(bytes(state), self.threads)
        if not inner.same_config(self._inner):
            raise InvalidArgumentError(
                "window checkpoint was written by a step with another configuration (kind, "
                "durations, key, time column or aggregates differ); restore it into the same "
                "step or replay the source"
            )
        self._inner = inner

    def stats(self) -> dict[str, float]:
        """rows_in, late_rows, windows_emitted, open_windows, keys, state_bytes."""
        return {k: float(v) for k, v in self._inner.stats().items()}

    def describe(self) -> dict[str, Any]:
        """The step's configuration, counters, watermark and per-shard state (see docs/stream.md)."""
        return {
            "kind": self.kind,
            "key": list(self.key),
            "time_column": self.time_column,
            "aggs": dict(self.aggs),
            "threads": self._inner.threads,
            "watermark": self._inner.watermark,
            "time_unit_nanos": self._inner.time_unit_nanos,
            "stats": self._inner.stats(),
            "shards": self._inner.shard_stats(),
        }


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
    threads: int | None = None,
) -> WindowStep:
    """A window step; ``aggs`` maps output names to ``(column, "count"|"sum"|"min"|"max"|"mean")``
    (default ``{"count": (None, "count")}``); ``threads=None`` means every core."""
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
        threads=threads,
    )
