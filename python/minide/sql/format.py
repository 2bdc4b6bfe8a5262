"""Aligned text tables for the CLI and ``repr(relation)``."""

from __future__ import annotations

import pyarrow as pa


def _cell(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e15 else repr(v)
    return str(v)


def format_table(t: pa.Table, max_rows: int = 40) -> str:
    names = t.column_names
    rows = t.slice(0, max_rows).to_pylist()
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    numeric = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        for f in t.schema
    ]

    def line(vals: list[str]) -> str:
        return (
            "│ "
            + " │ ".join(
                v.rjust(w) if num else v.ljust(w)
                for v, w, num in zip(vals, widths, numeric, strict=True)
            )
            + " │"
        )

    sep = "├─" + "─┼─".join("─" * w for w in widths) + "─┤"
    out = ["┌─" + "─┬─".join("─" * w for w in widths) + "─┐", line(names), sep]
    out += [line(r) for r in cells]
    out.append("└─" + "─┴─".join("─" * w for w in widths) + "─┘")
    more = t.num_rows - len(rows)
    out.append(
        f"{t.num_rows} row{'s' if t.num_rows != 1 else ''}"
        + (f" ({more} not shown)" if more > 0 else "")
    )
    return "\n".join(out)
