"""open_csv streams with bounded memory: measured in fresh processes (Linux VmHWM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from minide.columnar import datagen

SCRIPT = """
import sys
import minide.columnar as mc

def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    raise SystemExit("no " + key)

before = kib("VmRSS:")
if sys.argv[2] == "stream":
    rows = sum(b.num_rows for b in mc.open_csv(sys.argv[1], batch_size=8192, threads=1))
else:
    rows = mc.read_csv(sys.argv[1], threads=1).num_rows
print(rows, (kib("VmHWM:") - before) * 1024)
"""


def growth(path: Path, mode: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_open_csv_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    info = datagen.generate_csv(p, 40_000_000, seed=5)
    rows, streamed = growth(p, "stream")
    assert rows == info.rows
    rows, whole = growth(p, "read")
    assert rows == info.rows
    # reading the whole file holds it (as Arrow); streaming holds a few 8192-row blocks
    # (~1.3 MB of text each) and the batch being handed out, whatever the file size
    assert whole > info.bytes // 2
    assert streamed < 16 << 20, (streamed, whole)
