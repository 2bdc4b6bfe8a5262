"""``ParquetSink``: pipeline output as Parquet files (minide.columnar's writer), committed with
each checkpoint.

Files in ``dir``::

    part-00000000.parquet          committed: covered by a durable pipeline checkpoint
    .part-00000001.parquet.tmp     written and fsynced, waiting for the checkpoint that covers it

Between checkpoints the sink buffers batches (spilling a temp file every ``file_rows`` rows).
A checkpoint runs ``sync`` (write the rest, fsync every temp file) → the pipeline writes its
checkpoint file, recording ``next`` = the sequence number after the last temp file → ``commit``
(rename temp → ``part-N.parquet``, fsync the directory: ``minide._core.rename_durable``, the
shared atomic-write code). Readers that list ``part-*.parquet`` therefore only ever see output of
durable checkpoints.

``restore(state)`` makes the directory match the checkpoint: temp files below ``next`` are the
checkpoint's own output whose rename a crash interrupted, so they are renamed (they were fsynced
before the checkpoint was written); temp and part files at or above ``next`` are output of work
after the checkpoint, which the pipeline will redo, so they are deleted. Each input record
therefore lands in exactly one committed file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from minide import _core
from minide.errors import CorruptFileError

__all__ = ["ParquetSink"]

_PART = re.compile(r"^part-(\d{8})\.parquet$")
_TMP = re.compile(r"^\.part-(\d{8})\.parquet\.tmp$")


class ParquetSink:
    """Writes output batches to ``dir/part-NNNNNNNN.parquet``, one or more files per checkpoint.

    ``compression``, ``row_group_size`` and ``threads`` go to
    :func:`minide.columnar.write_parquet`; ``file_rows`` bounds the rows buffered in memory before a temp file is written.
    """

    def __init__(
        self,
        dir: str | os.PathLike[str],
        *,
        compression: str = "zstd",
        row_group_size: int = 1_048_576,
        file_rows: int = 1_048_576,
        threads: int | None = None,
    ) -> None:
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.compression = compression
        self.row_group_size = row_group_size
        self.file_rows = file_rows
        self.threads = threads
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        #: temp files written since the last commit, fsynced or not
        self._pending: list[int] = []
        self._unsynced: list[int] = []
        self._next = self._scan_next()

    def _part(self, seq: int) -> Path:
        return self.dir / f"part-{seq:08d}.parquet"

    def _tmp(self, seq: int) -> Path:
        return self.dir / f".part-{seq:08d}.parquet.tmp"

    def _listing(self) -> tuple[list[int], list[int]]:
        parts, tmps = [], []
        for name in os.listdir(self.dir):
            if m := _PART.match(name):
                parts.append(int(m.group(1)))
            elif m := _TMP.match(name):
                tmps.append(int(m.group(1)))
        return sorted(parts), sorted(tmps)

    def _scan_next(self) -> int:
        parts, _ = self._listing()
        return parts[-1] + 1 if parts else 0

    def files(self) -> list[Path]:
        """The committed files, in write order."""
        parts, _ = self._listing()
        return [self._part(s) for s in parts]

    # -- Sink protocol ----------------------------------------------------------------------
    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._buffer and batch.schema != self._buffer[0].schema:
            self._spill()  # one schema per file
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        if self._buffered_rows >= self.file_rows:
            self._spill()

    def _spill(self) -> None:
        if not self._buffer:
            return
        from minide.columnar import write_parquet

        seq = self._next
        table = pa.Table.from_batches(self._buffer)
        write_parquet(
            table,
            self._tmp(seq),
            compression=self.compression,
            row_group_size=self.row_group_size,
            threads=self.threads,
        )
        self._next += 1
        self._pending.append(seq)
        self._unsynced.append(seq)
        self._buffer, self._buffered_rows = [], 0

    def sync(self) -> None:
        """Write what is buffered and fsync every temp file (before the checkpoint is written)."""
        self._spill()
        for seq in self._unsynced:
            _core.sync_file(self._tmp(seq))
        self._unsynced = []

    def state(self) -> Any:
        return {"next": self._next}

    def commit(self, state: Any) -> None:
        """The checkpoint recording ``state`` is durable: publish the temp files it covers."""
        upto = int(state["next"])
        done = [s for s in self._pending if s < upto]
        if done:
            _core.rename_durable([(self._tmp(seq), self._part(seq)) for seq in done])
        self._pending = [s for s in self._pending if s >= upto]

    def restore(self, state: Any | None) -> None:
        self._buffer, self._buffered_rows = [], 0
        self._pending, self._unsynced = [], []
        parts, tmps = self._listing()
        if state is None:
            # No checkpoint yet: nothing in this directory was committed by this pipeline.
            upto = 0
            if parts:
                raise CorruptFileError(
                    f"{self.dir}: holds committed Parquet files but the pipeline has no "
                    "checkpoint; use an empty directory (or the pipeline's checkpoint_dir)"
                )
        else:
            upto = int(state["next"])
        # Temp files the checkpoint covers: a crash came between checkpoint and commit.
        roll_forward = [s for s in tmps if s < upto and s not in parts]
        for seq in tmps:
            if seq not in roll_forward:
                os.remove(self._tmp(seq))
        for seq in parts:
            if seq >= upto:
                os.remove(self._part(seq))
        if roll_forward:  # its directory fsync covers the removals above too
            _core.rename_durable([(self._tmp(seq), self._part(seq)) for seq in roll_forward])
        else:
            _core.sync_dir(self.dir)
        self._next = upto
