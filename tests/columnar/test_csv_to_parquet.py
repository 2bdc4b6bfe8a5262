"""csv_to_parquet: same data as read_csv (itself checked against pyarrow.csv), as pyarrow reads
the output; the report; bad lines; bounded memory; the ``minide csv2parquet`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from minide.columnar import datagen
from minide.errors import CorruptFileError, InvalidArgumentError, SchemaError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    p = tmp_path_factory.mktemp("c2p") / "data.csv"
    info = datagen.generate_csv(p, 2_000_000, seed=3)
    return p, info.rows


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("compression", ["zstd", "snappy"])
def test_single_file_equals_read_csv(
    tmp_path: Path, csv_file: tuple[Path, int], threads: int, compression: str
) -> None:
    src, rows = csv_file
    dst = tmp_path / "out.parquet"
    report = mc.csv_to_parquet(
        src, dst, compression=compression, threads=threads, row_group_size=5000
    )
    expect = mc.read_csv(src)
    got = pq.read_table(dst)  # pyarrow reads our output
    assert got.equals(expect)
    assert pq.ParquetFile(dst).metadata.num_row_groups == -(-rows // 5000)
    assert pq.ParquetFile(dst).metadata.row_group(0).column(0).compression == compression.upper()
    assert report.rows == rows == got.num_rows
    assert report.bytes_in == src.stat().st_size
    assert report.bytes_out == dst.stat().st_size
    assert report.ratio == pytest.approx(report.bytes_in / report.bytes_out)
    assert report.files == (str(dst),)
    assert report.skipped_rows == 0 and report.seconds > 0
    assert report.schema == expect.schema


def test_partitioned_dataset(tmp_path: Path, csv_file: tuple[Path, int]) -> None:
    src, _ = csv_file
    report = mc.csv_to_parquet(src, tmp_path / "ds", partition_by=["country"], compression="lz4")
    expect = mc.read_csv(src)
    countries = set(expect.column("country").to_pylist())
    assert len(report.files) == len(countries)
    assert report.bytes_out == sum(os.path.getsize(f) for f in report.files)
    theirs = ds.dataset(tmp_path / "ds", partitioning="hive").to_table()
    ours = mc.read_dataset(tmp_path / "ds")
    assert ours.equals(theirs)
    order = [c for c in expect.column_names if c != "country"] + ["country"]
    assert ours.sort_by("id").equals(expect.select(order))
    with pytest.raises(InvalidArgumentError, match="not empty"):
        mc.csv_to_parquet(src, tmp_path / "ds", partition_by=["country"])


def test_bad_lines_are_counted_or_fail_cleanly(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("a,b\n1,x\n2,y,extra\n3,z\n4\n5,w\n")
    dst = tmp_path / "bad.parquet"
    report = mc.csv_to_parquet(src, dst, on_bad_lines="skip")
    assert report.skipped_rows == 2 and report.skipped_lines == (3, 5)
    assert pq.read_table(dst).to_pydict() == {"a": [1, 3, 5], "b": ["x", "z", "w"]}
    dst2 = tmp_path / "fail.parquet"
    with pytest.raises(CorruptFileError, match="line 3"):
        mc.csv_to_parquet(src, dst2, threads=2)
    assert not dst2.exists()  # no truncated output left behind


@pytest.mark.parametrize("partition_by", [None, ["k"]])
def test_late_values_widen_types_like_read_csv(
    tmp_path: Path, partition_by: list[str] | None
) -> None:
    src = tmp_path / "late.csv"
    lines = [f"{i},{i % 3},2024-01-0{1 + i % 9}" for i in range(3000)]
    lines[2500] = "2500.5,1,2024-01-02 10:00:00"  # int64 -> float64, date32 -> timestamp
    src.write_text("n,k,d\n" + "\n".join(lines) + "\n")
    dst = tmp_path / ("late" if partition_by else "late.parquet")
    report = mc.csv_to_parquet(src, dst, partition_by=partition_by, infer_rows=100, batch_size=256)
    expect = mc.read_csv(src, infer_rows=100)
    assert expect.schema.field("n").type == pa.float64()
    assert report.schema == expect.schema and report.rows == 3000
    if partition_by:
        got = mc.read_dataset(dst).sort_by("n")
        assert got.equals(expect.select(["n", "d", "k"]).cast(got.schema).sort_by("n"))
    else:
        assert pq.read_table(dst).equals(expect)
    # with an explicit schema the misfit is an error naming the line
    with pytest.raises(SchemaError, match="line 2502"):
        mc.csv_to_parquet(
            src,
            tmp_path / "x.parquet",
            schema=mc.read_csv(src, infer_rows=100).schema.set(0, pa.field("n", pa.int64())),
        )


def test_progress_reports_bytes(tmp_path: Path, csv_file: tuple[Path, int]) -> None:
    src, rows = csv_file
    seen: list[tuple[int, int, int]] = []
    mc.csv_to_parquet(
        src, tmp_path / "p.parquet", batch_size=1000, progress=lambda *a: seen.append(a)
    )
    size = src.stat().st_size
    assert len(seen) > 2
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[-1] == (size, size, rows)


MEMORY = """
import sys
import minide.columnar as mc

def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    raise SystemExit("no " + key)

before = kib("VmRSS:")
r = mc.csv_to_parquet(sys.argv[1], sys.argv[2], row_group_size=16384, batch_size=8192, threads=2)
print(r.rows, (kib("VmHWM:") - before) * 1024)
"""


def convert_growth(src: Path, dst: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(src), str(dst)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    s_info = datagen.generate_csv(small, 16_000_000, seed=9)
    b_info = datagen.generate_csv(big, 48_000_000, seed=9)
    s_rows, s_growth = convert_growth(small, tmp_path / "small.parquet")
    b_rows, b_growth = convert_growth(big, tmp_path / "big.parquet")
    assert (s_rows, b_rows) == (s_info.rows, b_info.rows)
    # 3x the CSV (32 MB more, ~40 MB more as Arrow) costs no more memory: past the first
    # ~100k rows (row group + queue filled) the process holds a 16384-row group, at most 8
    # queued 8192-row batches and a few CSV blocks, whatever the file size
    assert b_growth < s_growth + (16 << 20), (s_growth, b_growth)
    assert b_growth < 96 << 20, b_growth


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minide.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_cli_csv2parquet(tmp_path: Path, csv_file: tuple[Path, int]) -> None:
    src, rows = csv_file
    dst = tmp_path / "cli.parquet"
    r = cli("csv2parquet", str(src), str(dst), "--compression", "snappy")
    assert r.returncode == 0, r.stderr
    assert f"rows       {rows:,}" in r.stdout
    assert f"bytes in   {src.stat().st_size:,}" in r.stdout
    assert f"bytes out  {dst.stat().st_size:,}" in r.stdout
    assert "ratio" in r.stdout and "seconds" in r.stdout
    assert "csv2parquet" in r.stderr  # the progress bar (rich, on stderr)
    assert pq.read_table(dst).equals(mc.read_csv(src))
    assert pq.ParquetFile(dst).metadata.row_group(0).column(0).compression == "SNAPPY"

    root = tmp_path / "cli-ds"
    r = cli(
        "csv2parquet",
        str(src),
        str(root),
        "--partition-by",
        "country",
        "--partition-by",
        "is_member",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    got = mc.read_dataset(root)
    assert got.num_rows == rows
    assert {p.name.split("=")[0] for p in root.iterdir()} == {"country"}

    r = cli("csv2parquet", str(tmp_path / "missing.csv"), str(tmp_path / "x.parquet"))
    assert r.returncode == 1 and "missing.csv" in r.stderr
