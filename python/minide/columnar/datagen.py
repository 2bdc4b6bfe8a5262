"""A seeded generator of realistic CSV data (the columnar benchmarks' dataset).

Columns: sequential ``id``, ``ts`` (timestamps with milliseconds), ``day`` (dates),
low-cardinality ``category`` and ``country``, medium-cardinality ``product`` and ``email``,
``price`` (two decimals), ``quantity``, nullable ``discount_pct``, ``is_member`` (bool) and free
text ``comment`` (with commas, quotes and the odd embedded newline, so CSV quoting is exercised).

- :func:`generate_table` returns the rows as a typed ``pyarrow.Table`` (in memory).
- :func:`generate_csv` streams a CSV file of about a requested size in bytes: rows are made and
  written chunk by chunk (numpy + Arrow compute, no Python loop per row), so memory stays bounded
  whatever the size. Its rows are exactly ``generate_table(n, seed)``'s.

Everything is deterministic for a seed: chunk ``k`` draws from ``numpy.random.default_rng([seed,
k])``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minide.errors import InvalidArgumentError

__all__ = ["SIZES", "CsvInfo", "generate_csv", "generate_table", "schema"]

#: Named sizes in bytes used by the benchmarks.
SIZES = {"tiny": 1_000_000, "small": 100_000_000, "large": 1_000_000_000}

CHUNK_ROWS = 65_536

_CATEGORIES = np.array(
    [
        "electronics",
        "books",
        "clothing",
        "home",
        "garden",
        "toys",
        "sports",
        "beauty",
        "grocery",
        "automotive",
        "music",
        "office",
    ]
)
_COUNTRIES = np.array(
    [
        "DE",
        "FR",
        "US",
        "GB",
        "IT",
        "ES",
        "NL",
        "PL",
        "SE",
        "BE",
        "AT",
        "CH",
        "DK",
        "NO",
        "FI",
        "IE",
        "PT",
        "CZ",
        "JP",
        "CA",
        "AU",
        "BR",
        "MX",
        "IN",
    ]
)
_ADJ = [
    "red",
    "blue",
    "green",
    "smart",
    "tiny",
    "giant",
    "classic",
    "modern",
    "eco",
    "pro",
    "ultra",
    "basic",
    "deluxe",
]
_NOUN = [
    "lamp",
    "chair",
    "phone",
    "cable",
    "mug",
    "shirt",
    "book",
    "drill",
    "kettle",
    "watch",
    "bag",
    "tent",
    "ball",
    "desk",
]
_WORDS = [
    "the",
    "a",
    "great",
    "fast",
    "slow",
    "item",
    "order",
    "arrived",
    "late",
    "early",
    "quality",
    "price",
    "value",
    "box",
    "packaging",
    "works",
    "broke",
    "again",
    "would",
    "buy",
    "recommend",
    "not",
    "bad",
    "good",
    "excellent",
    "poor",
    "size",
    "color",
    "fits",
    "perfect",
    "return",
    "refund",
    "support",
    "helpful",
    "answer",
    "delivery",
    "courier",
    "driver",
    "store",
    "online",
    "app",
    "update",
    "thanks",
    "love",
    "hate",
    "okay",
    "fine",
    "product",
    "seller",
    "rating",
    "stars",
]
# Rare "words" that make fields need quoting: commas, quotes, embedded newlines.
_SPECIAL = ["however,", "also,", '"really"', 'said "wow"', "line\nbreak"]
_SPECIAL_P = [0.02, 0.02, 0.004, 0.002, 0.0005]


def schema() -> pa.Schema:
    """The column types of :func:`generate_table` (what a CSV reader should infer)."""
    return pa.schema(
        [
            ("id", pa.int64()),
            ("ts", pa.timestamp("us")),
            ("day", pa.date32()),
            ("category", pa.string()),
            ("country", pa.string()),
            ("product", pa.string()),
            ("email", pa.string()),
            ("price", pa.float64()),
            ("quantity", pa.int64()),
            ("discount_pct", pa.int64()),
            ("is_member", pa.bool_()),
            ("comment", pa.string()),
        ]
    )


def _vocab() -> tuple[pa.Array, np.ndarray]:
    words = _WORDS + _SPECIAL
    p = np.full(len(words), (1.0 - sum(_SPECIAL_P)) / len(_WORDS))
    p[len(_WORDS) :] = _SPECIAL_P
    return pa.array(words), p / p.sum()


_WORD_ARRAY, _WORD_P = _vocab()
_PRODUCTS = pa.array([f"{a}-{n}-{i:03d}" for a in _ADJ for n in _NOUN for i in range(100)])


def _chunk(seed: int, k: int) -> pa.Table:
    """Rows ``[k * CHUNK_ROWS, (k + 1) * CHUNK_ROWS)`` of the dataset for ``seed``."""
    n = CHUNK_ROWS
    rng = np.random.default_rng([seed, k])
    start = k * CHUNK_ROWS
    ids = np.arange(start, start + n, dtype=np.int64)
    # ~1 row every 2 s from 2024-01-01, jittered: mostly increasing, like an event log.
    base_ms = 1_704_067_200_000 + ids * 2_000
    ts_ms = base_ms + rng.integers(0, 2_000, n)
    day = rng.integers(18_262, 20_089, n).astype(np.int32)  # 2020-01-01 .. 2024-12-31
    cat = rng.integers(0, len(_CATEGORIES), n)
    country = np.minimum(rng.geometric(0.25, n) - 1, len(_COUNTRIES) - 1)
    product = rng.zipf(1.3, n) % len(_PRODUCTS)
    email = rng.integers(0, 200_000, n)
    cents = np.round(rng.lognormal(7.5, 1.2, n)).astype(np.int64) + 1
    quantity = rng.integers(1, 21, n)
    discount = rng.integers(0, 51, n)
    discount_null = rng.random(n) < 0.3
    member = rng.random(n) < 0.4
    nwords = rng.integers(3, 16, n)
    words = rng.choice(len(_WORD_ARRAY), int(nwords.sum()), p=_WORD_P)
    offsets = np.concatenate([[0], np.cumsum(nwords)]).astype(np.int32)
    comment = pc.binary_join(
        pa.ListArray.from_arrays(pa.array(offsets), _WORD_ARRAY.take(pa.array(words))), " "
    )
    email_text = pc.binary_join_element_wise(
        "user", pc.cast(pa.array(email), pa.string()), "@example.org", ""
    )
    return pa.table(
        {
            "id": pa.array(ids),
            "ts": pa.array(ts_ms * 1000, pa.timestamp("us")),
            "day": pa.array(day, pa.date32()),
            "category": pa.array(_CATEGORIES[cat]),
            "country": pa.array(_COUNTRIES[country]),
            "product": _PRODUCTS.take(pa.array(product)),
            "email": email_text,
            "price": pa.array(cents / 100.0),
            "quantity": pa.array(quantity),
            "discount_pct": pa.array(discount, mask=discount_null),
            "is_member": pa.array(member),
            "comment": comment,
        },
        schema=schema(),
    )


def generate_table(rows: int, seed: int = 42) -> pa.Table:
    """``rows`` rows of the dataset for ``seed`` as a typed table (see :func:`schema`)."""
    if rows < 0:
        raise InvalidArgumentError(f"rows must be >= 0, got {rows}")
    # Whole chunks are drawn and the last one cut, so the rows do not depend on `rows`.
    chunks = [_chunk(seed, k) for k in range((rows + CHUNK_ROWS - 1) // CHUNK_ROWS)]
    if not chunks:
        return schema().empty_table()
    return pa.concat_tables(chunks).slice(0, rows)


def _quote_if_needed(text: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(text, '[,"\n\r]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _format_lines(t: pa.Table) -> pa.StringArray:
    """One CSV line per row (with its ``\\n``), quoting only where needed."""
    cents = pc.cast(pc.round(pc.multiply(t["price"], 100)), pa.int64())
    whole = pc.divide(cents, 100)  # integer division on int64
    frac = pc.subtract(cents, pc.multiply(whole, 100))
    price = pc.binary_join_element_wise(
        pc.cast(whole, pa.string()), pc.utf8_lpad(pc.cast(frac, pa.string()), 2, "0"), "."
    )
    ts = pc.strftime(pc.cast(t["ts"], pa.timestamp("ms")), "%Y-%m-%dT%H:%M:%S")
    cols = [
        pc.cast(t["id"], pa.string()),
        ts,
        pc.cast(t["day"], pa.string()),
        t["category"],
        t["country"],
        t["product"],
        t["email"],
        price,
        pc.cast(t["quantity"], pa.string()),
        pc.fill_null(pc.cast(t["discount_pct"], pa.string()), ""),
        pc.if_else(t["is_member"], "true", "false"),
        _quote_if_needed(pc.fill_null(t["comment"], "")),
    ]
    lines = pc.binary_join_element_wise(*cols, ",")
    joined = pc.binary_join_element_wise(lines, "", "\n")
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    return joined


def _offsets(lines: pa.StringArray) -> np.ndarray:
    raw = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    return raw[lines.offset : lines.offset + len(lines) + 1]


def _text(lines: pa.StringArray, nrows: int) -> bytes:
    offs = _offsets(lines)
    data = lines.buffers()[2]
    return data.to_pybytes()[int(offs[0]) : int(offs[nrows])] if nrows else b""


@dataclass(frozen=True)
class CsvInfo:
    path: str
    rows: int
    bytes: int


def generate_csv(path: str | os.PathLike[str], size: int | str = "tiny", seed: int = 42) -> CsvInfo:
    """Write about ``size`` bytes (or a name of :data:`SIZES`) of the dataset as CSV to ``path``.

    The file is a header plus whole rows, ``\\n`` line ends; it stops at the first row end at
    or past ``size``. Memory use is one chunk of ``CHUNK_ROWS`` rows whatever the size. The rows
    are ``generate_table(info.rows, seed)``.
    """
    if isinstance(size, str):
        if size not in SIZES:
            raise InvalidArgumentError(
                f"size must be bytes or one of {sorted(SIZES)}, got {size!r}"
            )
        size = SIZES[size]
    if size < 0:
        raise InvalidArgumentError(f"size must be >= 0 bytes, got {size}")
    header = (",".join(schema().names) + "\n").encode()
    written = 0
    rows = 0
    with open(path, "wb") as f:
        f.write(header)
        written += len(header)
        k = 0
        while written < size:
            lines = _format_lines(_chunk(seed, k))
            offs = _offsets(lines)
            room = size - written
            n = len(lines)
            if int(offs[-1] - offs[0]) > room:
                n = min(n, int(np.searchsorted(offs[1:] - offs[0], room)) + 1)
            text = _text(lines, n)
            f.write(text)
            written += len(text)
            rows += n
            k += 1
    return CsvInfo(path=os.fspath(path), rows=rows, bytes=written)


def main(argv: list[str] | None = None) -> int:
    """``python -m minide.columnar.datagen OUT.csv [--size small|BYTES] [--seed N]``."""
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m minide.columnar.datagen", description=__doc__)
    ap.add_argument("out", help="CSV file to write")
    ap.add_argument("--size", default="tiny", help=f"bytes or one of {', '.join(SIZES)}")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    size: int | str = int(args.size) if args.size.isdigit() else args.size
    t0 = time.perf_counter()
    info = generate_csv(args.out, size, seed=args.seed)
    dt = time.perf_counter() - t0
    print(f"{info.path}: {info.rows:,} rows, {info.bytes:,} bytes in {dt:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
