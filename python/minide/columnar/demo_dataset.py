"""The datasets chapter of `minide demo` (csv_to_parquet, write_dataset, read_dataset),
listed in CHAPTERS for minide.demo."""

from __future__ import annotations

import pyarrow.dataset as ds

from minide._tour import Chapter, Context, console


def _datasets(ctx: Context) -> None:
    import minide.columnar as mc
    from minide.columnar import datagen

    src = ctx.workdir / "orders.csv"
    info = datagen.generate_csv(src, min(ctx.rows, 250_000) * 160, seed=ctx.seed)
    report = mc.csv_to_parquet(src, ctx.workdir / "orders.parquet")
    console.print(f"  csv_to_parquet ({info.rows:,} rows, streamed, bounded memory):")
    for line in report.summary().splitlines():
        console.print(f"    {line}")

    root = ctx.workdir / "orders"
    report = mc.csv_to_parquet(src, root, partition_by=["country", "is_member"])
    sample = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))[:2]
    console.print(
        f"  partition_by=['country', 'is_member']: {len(report.files)} files, e.g. {sample}"
    )
    d = mc.Dataset(root)
    got = d.read(filter="country IN ('DE', 'FR') AND price > 100", columns=["id", "price"])
    s = d.last_scan
    if s is not None:
        console.print(
            f"  read_dataset(filter=\"country IN ('DE', 'FR') AND price > 100\"): "
            f"{got.num_rows:,} rows; {s.files_skipped}/{s.files_total} files pruned by their "
            f"partition values, {s.row_groups_skipped}/{s.row_groups_total} row groups by "
            f"statistics inside the rest"
        )
    ours = mc.read_dataset(root)
    theirs = ds.dataset(root, partitioning="hive").to_table()
    console.print(
        f"  pyarrow.dataset reads the same dataset identically: {ours.equals(theirs)} "
        f"(partition columns typed as pyarrow infers them: "
        f"{', '.join(f'{f.name}:{f.type}' for f in d.partition_schema)})"
    )
    if not ours.equals(theirs):
        raise AssertionError("read_dataset differs from pyarrow.dataset")


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (
    ("CSV -> Parquet and Hive-partitioned datasets: csv_to_parquet / read_dataset", _datasets),
)
