"""A durable :class:`~minide.replication.storage.Storage` for network regions, until minide.kv
is plugged in: an append-only log replayed into a dict at start.

Record: ``[u32 length][u32 crc32][msgpack [key, value or nil]]``. A put is written to the log
(and, with ``fsync=True``, synced) before the region acknowledges it, so a region killed with
SIGKILL keeps every acknowledged write (the OS keeps written pages). A torn last record (crash
mid-write) is detected by its length/CRC and cut off at start.

The data directory also holds ``EPOCH``: the region's actor epoch. If the log is gone (the disk
was lost or replaced) the region cannot know which dots it had issued, so it takes a fresh
random epoch: its new writes can never reuse a dot (kv679).

At open, a log more than twice the size of its live records (plus 1 MiB) is compacted: the live
records are written to ``data.log.tmp``, synced, and renamed over the log (atomic on POSIX).
"""

from __future__ import annotations

import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgpack

_HEAD = struct.Struct(">II")


class FileStorage:
    def __init__(self, data_dir: str | os.PathLike[str], fsync: bool = False) -> None:
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "data.log"
        self.fsync = fsync
        self._data: dict[bytes, bytes] = {}
        self.lost_data = not self.path.exists()
        good = self._replay() if self.path.exists() else 0
        self._f = open(self.path, "ab")  # noqa: SIM115 (owned for the storage's lifetime)
        if self._f.tell() != good:
            self._f.truncate(good)  # drop a torn tail
            self._f.seek(good)
        live = sum(len(k) + len(v) + 16 for k, v in self._data.items())
        if good > 2 * live + (1 << 20):
            self.compact()

    def compact(self) -> None:
        """Rewrite the log with only the live records."""
        tmp = self.path.with_suffix(".log.tmp")
        with open(tmp, "wb") as f:
            for key, value in self._data.items():
                f.write(self._record(key, value))
            f.flush()
            os.fsync(f.fileno())
        self._f.close()
        os.replace(tmp, self.path)
        self._f = open(self.path, "ab")  # noqa: SIM115

    def _replay(self) -> int:
        raw = self.path.read_bytes()
        pos = 0
        while pos + _HEAD.size <= len(raw):
            n, crc = _HEAD.unpack_from(raw, pos)
            body = raw[pos + _HEAD.size : pos + _HEAD.size + n]
            if len(body) < n or zlib.crc32(body) != crc:
                break
            key, value = msgpack.unpackb(body, raw=False)
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value
            pos += _HEAD.size + n
        return pos

    def epoch(self) -> str:
        """The actor epoch: kept while the data is, new (random) when the data was lost."""
        ep = self.dir / "EPOCH"
        if ep.exists() and not self.lost_data:
            return ep.read_text().strip()
        value = secrets.token_hex(3)
        ep.write_text(value)
        self.lost_data = False
        return value

    @staticmethod
    def _record(key: bytes, value: bytes | None) -> bytes:
        body = msgpack.packb([key, value], use_bin_type=True)
        return _HEAD.pack(len(body), zlib.crc32(body)) + body

    def _append(self, key: bytes, value: bytes | None) -> None:
        self._f.write(self._record(key, value))
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._append(key, value)
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._append(key, None)
        self._data.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self._data.items()))

    def close(self) -> None:
        self._f.close()
