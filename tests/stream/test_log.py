"""Durable log: round trips, consumer groups, restarts, torn tails, corruption, kill -9."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import minide.stream as ms
import pyarrow as pa
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from minide.errors import CorruptFileError, InvalidArgumentError, UnsupportedError


def sample(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "user_id": [f"user-{i % 13}" for i in range(start, start + n)],
            "score": pa.array([None if i % 5 == 0 else i / 3 for i in range(start, start + n)]),
            "ok": pa.array([i % 2 == 0 for i in range(start, start + n)]),
            "ts": pa.array(
                [
                    dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
                    for i in range(start, start + n)
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array(
                [dt.date(2024, 1, 1 + i % 28) for i in range(start, start + n)], pa.date32()
            ),
            "blob": pa.array(
                [
                    None if i % 7 == 0 else bytes([i % 256]) * (i % 4)
                    for i in range(start, start + n)
                ],
                pa.binary(),
            ),
            "small": pa.array([i % 100 for i in range(start, start + n)], pa.int8()),
        }
    )


def read_partition(log: ms.Log, p: int, batch: int = 7) -> pa.Table:
    out, off = [], log.start_offsets()[p]
    while True:
        b = log.read(p, off, max_records=batch)
        if b.num_rows == 0:
            break
        out.append(b)
        off += b.num_rows
    return pa.Table.from_batches(out) if out else pa.table({})


def test_round_trip_keeps_types_values_and_per_key_order(tmp_path):
    log = ms.Log(tmp_path / "log", partitions=3, sync="none")
    t = sample(500)
    acks = log.append(t, key="user_id")
    assert acks.num_rows == 500
    parts = acks.column("partition").to_pylist()
    # Same key → same partition; offsets dense per partition.
    by_user: dict[str, set[int]] = {}
    for u, p in zip(t.column("user_id").to_pylist(), parts, strict=True):
        by_user.setdefault(u, set()).add(p)
    assert all(len(s) == 1 for s in by_user.values())
    for p in range(3):
        got = read_partition(log, p)
        want = t.filter(pa.array([x == p for x in parts]))
        assert got.num_rows == want.num_rows
        assert got.to_pylist() == want.to_pylist()
        assert got.schema.field("ts").type == pa.timestamp("us", tz="UTC")
        offs = [o for o, q in zip(acks.column("offset").to_pylist(), parts, strict=True) if q == p]
        assert offs == list(range(len(offs)))


def test_large_string_and_view_come_back_as_strings(tmp_path):
    log = ms.Log(tmp_path, partitions=1)
    log.append(pa.table({"s": pa.array(["x", None, "yz"], pa.large_string())}))
    assert log.read(0, 0).column("s").to_pylist() == ["x", None, "yz"]
    with pytest.raises(UnsupportedError, match="column"):
        log.append(pa.table({"l": pa.array([[1]])}))


def test_consumer_groups_commit_lag_and_restart(tmp_path):
    path = tmp_path / "log"
    log = ms.Log(path, partitions=2, sync="none")
    log.append(sample(100), key="user_id")
    c = log.consumer(group="g1")
    assert sum(c.lag().values()) == 100
    first = c.poll(max_records=30)
    assert first.num_rows == 30 and "_offset" in first.column_names
    c.commit()
    assert sum(c.lag().values()) == 70
    # A restarted consumer resumes at the committed offsets: rows polled later are redelivered.
    c.poll()
    del c, log
    log = ms.Log(path, partitions=2, sync="none")
    c2 = log.consumer("g1")
    seen = list(first.column("id").to_pylist())
    while (b := c2.poll(max_records=25)).num_rows:
        seen += b.column("id").to_pylist()
    c2.commit()
    assert sorted(seen) == list(range(100))
    assert c2.lag() == {0: 0, 1: 0}
    # Another group is independent; appends continue the offsets after a restart.
    assert sum(log.consumer("g2").lag().values()) == 100
    acks = log.append(sample(10, 100), key="user_id")
    assert min(acks.column("offset").to_pylist()) > 0
    assert sum(c2.lag().values()) == 10
    with pytest.raises(InvalidArgumentError, match="partitions"):
        ms.Log(path, partitions=3)


def test_torn_tail_is_truncated_at_every_byte_of_the_last_records(tmp_path):
    path = tmp_path / "log"
    log = ms.Log(path, partitions=1, sync="none")
    log.append(sample(20))
    seg = path / "p0" / f"{0:020}.log"
    good = seg.stat().st_size
    log.append(sample(3, 20))
    log.append(sample(2, 23))
    del log
    full = seg.read_bytes()
    for cut in range(good, len(full)):
        seg.write_bytes(full[:cut])
        log = ms.Log(path, partitions=1, sync="none")
        ids = read_partition(log, 0).column("id").to_pylist()
        # Whole records survive, the torn one is gone, nothing else.
        assert ids in (list(range(20)), list(range(23))), cut
        assert log.end_offsets()[0] == len(ids)
        del log
    seg.write_bytes(full)
    log = ms.Log(path, partitions=1, sync="none")
    assert log.end_offsets() == [25]


def test_corruption_in_the_middle_raises(tmp_path):
    path = tmp_path / "log"
    log = ms.Log(path, partitions=1, sync="none")
    log.append(sample(20))
    log.append(sample(20, 20))
    del log
    seg = path / "p0" / f"{0:020}.log"
    data = bytearray(seg.read_bytes())
    data[40] ^= 0x01
    seg.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="checksum"):
        ms.Log(path, partitions=1)


def test_retention_deletes_whole_old_segments(tmp_path):
    log = ms.Log(tmp_path, partitions=1, retention_bytes=20_000, segment_bytes=4_000, sync="none")
    for i in range(60):
        log.append(sample(50, i * 50))
    assert log.size_bytes() <= 20_000 + 8_000
    start = log.start_offsets()[0]
    assert start > 0 and start % 50 == 0
    ids = read_partition(log, 0).column("id").to_pylist()
    assert ids == list(range(start, 3000))
    with pytest.raises(InvalidArgumentError, match="retention"):
        log.read(0, 0)


WRITER = textwrap.dedent(
    """
    import sys, pyarrow as pa, minide.stream as ms
    log = ms.Log(sys.argv[1], partitions=3, sync="always")
    i = 0
    while True:
        t = pa.table({"id": list(range(i, i + 7)), "user_id": [f"u{j % 11}" for j in range(i, i + 7)]})
        acks = log.append(t, key="user_id")
        for j, p, o in zip(range(i, i + 7), acks.column("partition").to_pylist(), acks.column("offset").to_pylist()):
            print(j, p, o, flush=True)
        i += 7
    """
)


def test_kill_9_writer_keeps_every_acknowledged_append(tmp_path):
    path = tmp_path / "log"
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        acked = []
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(tuple(map(int, line.split())))
            if len(acked) >= 300 + 97 * round_:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        log = ms.Log(path, partitions=3)
        stored = {}
        for p in range(3):
            t = read_partition(log, p, batch=1000)
            for o, i in enumerate(t.column("id").to_pylist()):
                stored[(p, o)] = i
        for i, p, o in acked:
            assert stored.get((p, o)) == i, f"acknowledged row {i} at {p}/{o} lost"
        del log


class LogModel(RuleBasedStateMachine):
    """Appends, reads, commits and reopenings against lists-per-partition."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="minide-logsm-"))
        self.log = ms.Log(self.dir, partitions=2, segment_bytes=600, sync="none")
        self.model: list[list[int]] = [[], []]
        self.next_id = 0
        self.committed = [0, 0]

    @rule(n=st.integers(1, 20), keyed=st.booleans())
    def append(self, n, keyed):
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        acks = self.log.append(
            pa.table({"id": ids, "k": [i % 5 for i in ids]}), key="k" if keyed else None
        )
        for i, p, o in zip(
            ids,
            acks.column("partition").to_pylist(),
            acks.column("offset").to_pylist(),
            strict=True,
        ):
            assert o == len(self.model[p])
            self.model[p].append(i)

    @rule(p=st.integers(0, 1), off=st.integers(0, 200), m=st.integers(1, 50))
    def read(self, p, off, m):
        got = self.log.read(p, off, max_records=m)
        want = self.model[p][off : off + m]
        assert (got.column("id").to_pylist() if got.num_rows else []) == want

    @rule(p=st.integers(0, 1), frac=st.floats(0, 1))
    def commit(self, p, frac):
        c = self.log.consumer("g")
        c.seek(p, int(len(self.model[p]) * frac))
        c.commit()
        self.committed = c.positions

    @rule()
    def reopen(self):
        self.log = ms.Log(self.dir, partitions=2, segment_bytes=600, sync="none")

    @invariant()
    def offsets_agree(self):
        assert self.log.end_offsets() == [len(m) for m in self.model]
        assert self.log.consumer("g").positions == self.committed

    def teardown(self):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


TestLogModel = LogModel.TestCase
TestLogModel.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
