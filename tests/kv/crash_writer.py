"""Writer process for the kill -9 test (tests/kv/test_crash.py).

Writes numbered operations forever. Before each call it appends ``P i`` to the log file and after
the call returns ``D i``, each fsync'd, so the test knows which writes were acknowledged (done)
and which were in flight (pending) when it killed the process. Operation ``i`` writes key
``k{i}-0`` (and, for every third ``i``, ``k{i}-1`` and ``k{i}-2`` in one write batch) with value
``v{i}``.
"""

from __future__ import annotations

import os
import sys

import minide.kv as kv


def keys_of(i: int) -> list[str]:
    return [f"k{i:07d}-{j}" for j in range(3 if i % 3 == 0 else 1)]


def main() -> None:
    path, log, sync, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    db = kv.open(path, sync=sync, memtable_size=32 << 10, block_size=1024)  # type: ignore[arg-type]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    i = start
    while True:
        os.write(fd, f"P {i}\n".encode())
        os.fsync(fd)
        value = f"v{i}".encode() * 8
        keys = keys_of(i)
        if len(keys) == 1:
            db.put(keys[0], value)
        else:
            with db.write_batch() as b:
                for k in keys:
                    b.put(k, value)
        os.write(fd, f"D {i}\n".encode())
        os.fsync(fd)
        i += 1


if __name__ == "__main__":
    main()
