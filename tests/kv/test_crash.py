"""kill -9 durability: acknowledged writes survive, in-flight ones are all-or-nothing.

A writer subprocess (crash_writer.py) logs each write as pending before the call and done after it
(to a separate, fsync'd file). The test SIGKILLs it at random moments - sometimes while it is
still opening (recovering) the store - then reopens the store and checks every write so far:
done => present with its value; pending => all of its keys present or none. The next writer
continues on the same store, so recovery runs after every kill. Under sync="none"/"batch" a
process crash loses nothing either: the OS keeps the written pages.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import minide.kv as kv
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from crash_writer import keys_of  # noqa: E402

# CI: 100 kills in all; more with MINIDE_KV_KILLS=N per mode.
KILLS = {"always": 40, "batch": 30, "none": 30}


def parse_log(log: Path) -> tuple[set[int], set[int]]:
    done: set[int] = set()
    pending: set[int] = set()
    if not log.exists():
        return done, pending
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue  # a torn last line of the log itself
        (done if parts[0] == "D" else pending).add(int(parts[1]))
    return done, pending - done


def check(path: Path, done: set[int], pending: set[int]) -> None:
    with kv.open(path) as db:
        for group in (sorted(done), sorted(pending)):
            keys = [k for i in group for k in keys_of(i)]
            got = dict(zip(keys, db.get_many(keys), strict=True))
            for i in group:
                want = f"v{i}".encode() * 8
                vals = [got[k] for k in keys_of(i)]
                if i in done:
                    assert vals == [want] * len(vals), f"acknowledged write {i} lost: {vals}"
                else:
                    assert vals in ([want] * len(vals), [None] * len(vals)), (
                        f"in-flight write {i} partially applied: {vals}"
                    )


@pytest.mark.slow
@pytest.mark.parametrize("sync", ["always", "batch", "none"])
def test_kill9_never_loses_acknowledged_writes(tmp_path: Path, sync: str) -> None:
    kills = int(os.environ.get("MINIDE_KV_KILLS", KILLS[sync]))
    rng = random.Random(f"kill9-{sync}")
    path, log = tmp_path / "db", tmp_path / "ops.log"
    next_i = 0
    acknowledged = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_writer.py"), str(path), str(log), sync, str(next_i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 0.3))  # may land during import or recovery
        else:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line == b"ready\n", proc.stderr.read() if proc.stderr else line
            time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            err = proc.stderr.read()
            proc.stderr.close()
            assert b"Error" not in err, err.decode(errors="replace")
        done, pending = parse_log(log)
        check(path, done, pending)
        acknowledged = len(done)
        next_i = max(done | pending, default=-1) + 1
    assert acknowledged > kills, "the writer barely wrote anything; the test proves little"
