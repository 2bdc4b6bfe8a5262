"""ParquetSink: temp files until the covering checkpoint, roll-forward and roll-back on restore."""

from __future__ import annotations

import minide.columnar as mc
import minide.stream as ms
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minide.errors import CorruptFileError


def batch(lo: int, hi: int) -> pa.RecordBatch:
    return pa.record_batch({"event_id": pa.array(range(lo, hi), pa.int64())})


def committed_ids(sink: ms.ParquetSink) -> list[int]:
    out = []
    for f in sink.files():
        t = mc.read_parquet(f)
        assert t.equals(pq.read_table(f))
        out += t.column("event_id").to_pylist()
    return out


def test_files_appear_only_on_commit(tmp_path):
    sink = ms.ParquetSink(tmp_path, file_rows=100)
    sink.restore(None)
    sink.write(batch(0, 150))  # spills one temp file (150 >= 100 rows)
    sink.write(batch(150, 170))
    assert sink.files() == [] and len(list(tmp_path.glob(".part-*.tmp"))) == 1
    sink.sync()
    state = sink.state()
    assert state == {"next": 2} and sink.files() == []
    sink.commit(state)
    assert committed_ids(sink) == list(range(170))
    assert not list(tmp_path.glob(".part-*.tmp"))


def test_restore_rolls_forward_covered_and_deletes_uncovered_temp_files(tmp_path):
    sink = ms.ParquetSink(tmp_path)
    sink.restore(None)
    sink.write(batch(0, 10))
    sink.sync()
    covered = sink.state()  # a checkpoint recording this state is written; then a crash
    sink.write(batch(10, 20))
    sink.sync()  # a later checkpoint that never got written
    again = ms.ParquetSink(tmp_path)
    again.restore(covered)
    assert committed_ids(again) == list(range(10))
    assert not list(tmp_path.glob(".part-*.tmp"))
    # Output after the checkpoint is produced again, numbered after the covered files.
    again.write(batch(10, 20))
    again.sync()
    again.commit(again.state())
    assert committed_ids(again) == list(range(20))
    # Restoring an older checkpoint deletes committed files it does not cover.
    again.restore(covered)
    assert committed_ids(again) == list(range(10))


def test_no_checkpoint_but_committed_files_is_refused(tmp_path):
    sink = ms.ParquetSink(tmp_path)
    sink.restore(None)
    sink.write(batch(0, 5))
    sink.sync()
    sink.commit(sink.state())
    with pytest.raises(CorruptFileError, match="no checkpoint"):
        ms.ParquetSink(tmp_path).restore(None)


def test_pipeline_into_parquet(tmp_path):
    src_log = ms.Log(tmp_path / "in", partitions=2, fsync=False)
    ids = [i // 2 for i in range(4_000)]  # every id twice
    src_log.append(pa.table({"event_id": ids, "event_time": ids}), key="event_id")
    p = ms.Pipeline(
        ms.LogSource(src_log, "g"),
        [ms.dedup("event_id", time_column="event_time", window="1h")],
        ms.ParquetSink(tmp_path / "pq", file_rows=500),
        checkpoint_dir=tmp_path / "ck",
        poll_records=700,
    )
    p.run(until_idle=True)
    got = committed_ids(ms.ParquetSink(tmp_path / "pq"))
    assert sorted(got) == list(range(2_000))
