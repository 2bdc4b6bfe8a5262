"""ParquetSink: temp files until the covering checkpoint, roll-forward and roll-back on restore."""

from __future__ import annotations

import minide.columnar as mc
import minide.stream as ms
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    src_log = ms.Log(tmp_path / "in", partitions=2, sync="none")
    ids = [i // 2 for i in range(4_000)]  # every id twice
    src_log.append(pa.table({"event_id": ids, "event_time": ids}), key="event_id")
    p = ms.Pipeline(
        ms.LogSource(src_log, "g"),
        [ms.dedup("event_id", time_column="event_time", window="1h")],
        ms.ParquetSink(tmp_path / "pq", file_rows=500),
        checkpoint_dir=tmp_path / "ck",
        batch_size=700,
    )
    p.run(until_idle=True)
    got = committed_ids(ms.ParquetSink(tmp_path / "pq"))
    assert sorted(got) == list(range(2_000))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(1, 40)),
            st.tuples(st.just("checkpoint"), st.sampled_from(["done", "before", "after"])),
            st.tuples(st.just("crash"), st.just(0)),
        ),
        max_size=25,
    ),
    st.integers(5, 60),
)
def test_committed_files_always_equal_the_last_durable_checkpoint(tmp_path_factory, ops, rows):
    """A model of the pipeline's use of the sink: after any crash and restore, the committed
    files hold exactly the rows written before the last checkpoint that became durable."""
    d = tmp_path_factory.mktemp("pq")
    sink = ms.ParquetSink(d, file_rows=rows)
    sink.restore(None)
    durable = None  # the sink state inside the last durable checkpoint
    durable_rows = 0
    written = 0  # rows written since the last restore, counted from durable_rows
    for op, arg in ops:
        if op == "write":
            sink.write(batch(durable_rows + written, durable_rows + written + arg))
            written += arg
        elif op == "checkpoint":
            sink.sync()
            state = sink.state()
            if arg == "before":  # crash before the checkpoint file's rename: not durable
                op = "crash"
            else:
                durable, durable_rows, written = state, durable_rows + written, 0
                if arg == "done":
                    sink.commit(state)
                else:  # crash after the rename, before the sink's commit
                    op = "crash"
        if op == "crash":
            sink = ms.ParquetSink(d, file_rows=rows)
            sink.restore(durable)
            written = 0
            assert committed_ids(sink) == list(range(durable_rows))
            assert not list(d.glob(".part-*.tmp"))
