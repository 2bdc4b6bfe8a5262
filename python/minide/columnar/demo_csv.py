"""The CSV chapter of `minide demo`, listed in CHAPTERS for minide.demo."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.csv as pacsv

from minide._tour import Chapter, Context, console


def _csv(ctx: Context) -> None:
    import minide.columnar as mc
    from minide.columnar import datagen
    from minide.errors import CorruptFileError, SchemaError

    path = ctx.workdir / "sales.csv"
    rows = min(ctx.rows, 250_000)
    t0 = time.perf_counter()
    info = datagen.generate_csv(path, rows * 160, seed=ctx.seed)
    mib = info.bytes / 2**20
    console.print(
        f"Generated {path.name}: {info.rows:,} rows, {mib:.1f} MiB "
        f"in {time.perf_counter() - t0:.1f} s (minide.columnar.datagen, seeded)"
    )
    head = path.read_text().splitlines()[:2]
    console.print(f"  {head[0]}\n  {head[1][:110]}...")

    cores = os.cpu_count() or 1
    for threads in sorted({1, min(2, cores)}):
        t0 = time.perf_counter()
        table = mc.read_csv(path, threads=threads)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=threads > 1))
        theirs = time.perf_counter() - t0
        console.print(
            f"  read_csv, {threads} thread(s): {ours * 1e3:.0f} ms = {mib / ours:,.0f} MiB/s; "
            f"pyarrow.csv.read_csv {theirs * 1e3:.0f} ms (ratio {theirs / ours:.2f}x)"
        )
    types = ", ".join(f"{f.name}:{f.type}" for f in table.schema)
    console.print(f"  inferred from the first 10,000 records: {types}")

    with mc.open_csv(path, batch_size=50_000, threads=1) as reader:
        sizes = [b.num_rows for b in reader]
        console.print(
            f"  open_csv: {len(sizes)} batches of <= 50,000 rows, {sum(sizes):,} rows, "
            f"{reader.bytes_read / 2**20:.1f} MiB read a block at a time (bounded memory)"
        )

    dirty = ctx.workdir / "dirty.csv"
    dirty.write_text(
        'id,price,note\n1,9.99,"multi\nline note"\n2,oops,fine\n3,1.50,too,many\n4,2.00,ok\n'
    )
    schema = pa.schema([("id", pa.int64()), ("price", pa.float64()), ("note", pa.string())])
    for exc, kwargs in ((CorruptFileError, {}), (SchemaError, {"schema": schema})):
        try:
            mc.read_csv(dirty, **kwargs)  # type: ignore[arg-type]
        except exc as e:
            console.print(f"  dirty file -> {type(e).__name__}: {e}")
            dirty.write_text(dirty.read_text().replace("3,1.50,too,many", "3,1.50,ok"))
    t = mc.read_csv(dirty, schema=schema, on_bad_lines="skip")
    console.print(
        f"  on_bad_lines='skip': {t.num_rows} rows kept, {mc.skipped_rows(t)} skipped, "
        f"on line(s) {mc.skipped_lines(t)} (mc.skipped_rows / mc.skipped_lines)"
    )

    late = ctx.workdir / "late.csv"
    late.write_text("n\n" + "".join(f"{i}\n" for i in range(100)) + "2.5\n")
    t = mc.read_csv(late, infer_rows=10)
    console.print(
        f"  a float after the 10-row inference window: read_csv widens int64 -> "
        f"{t.schema.field('n').type} (last value {t.column('n')[-1]})"
    )


#: this engine's chapters of ``minide demo``, in order
CHAPTERS: tuple[tuple[str, Chapter], ...] = (("CSV: streaming reader with type inference", _csv),)
