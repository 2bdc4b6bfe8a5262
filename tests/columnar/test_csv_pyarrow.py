"""read_csv against pyarrow.csv as the oracle, on the benchmark dataset and on random tables;
and the dataset generator itself (deterministic, sized, same rows as generate_table)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minide.columnar import datagen
from minide.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datagen.CsvInfo]:
    p = tmp_path_factory.mktemp("gen") / "tiny.csv"
    return p, datagen.generate_csv(p, 300_000, seed=7)


def test_generated_file_reads_back_as_generate_table(tiny: tuple[Path, datagen.CsvInfo]) -> None:
    p, info = tiny
    assert info.bytes == p.stat().st_size >= 300_000
    t = mc.read_csv(p)
    assert t.num_rows == info.rows
    assert t.schema == datagen.schema()
    assert t.equals(datagen.generate_table(info.rows, seed=7))
    # the free text has quoted commas, quotes and newlines: the quoted path is exercised
    comments = t.column("comment").to_pylist()
    assert any("," in c for c in comments) and any('"' in c for c in comments)


def test_same_types_and_values_as_pyarrow(tiny: tuple[Path, datagen.CsvInfo]) -> None:
    p, _ = tiny
    ours = mc.read_csv(p, threads=2)
    theirs = pacsv.read_csv(p)
    assert ours.column_names == theirs.column_names
    for name in ours.column_names:
        a, b = ours.column(name), theirs.column(name)
        if pa.types.is_timestamp(b.type):
            # Deliberate difference: minide infers timestamp[us], pyarrow timestamp[ns]/[s].
            assert a.type == pa.timestamp("us")
            b = b.cast(pa.timestamp("us"))
        assert a.type == b.type, name
        assert a.equals(b), name


def test_generator_is_deterministic_and_sized(tmp_path: Path) -> None:
    a = datagen.generate_csv(tmp_path / "a.csv", 50_000, seed=1)
    b = datagen.generate_csv(tmp_path / "b.csv", 50_000, seed=1)
    c = datagen.generate_csv(tmp_path / "c.csv", 50_000, seed=2)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    assert 50_000 <= a.bytes < 50_000 + 1_000 and a.rows == b.rows
    assert c.bytes >= 50_000
    t = datagen.generate_table(100_000, seed=3)
    assert t.num_rows == 100_000 and t.schema == datagen.schema()
    assert t.slice(0, 10).equals(datagen.generate_table(10, seed=3))
    assert datagen.generate_table(0).num_rows == 0
    with pytest.raises(InvalidArgumentError):
        datagen.generate_csv(tmp_path / "x.csv", "huge")


# pyarrow's default null words, which minide reads as text unless listed in null_values.
PYARROW_NULL_WORDS = [v for v in pacsv.ConvertOptions().null_values if v]


columns = st.sampled_from(
    [
        ("i", pa.int64(), st.integers(-(2**63), 2**63 - 1)),
        ("i16", pa.int16(), st.integers(-(2**15), 2**15 - 1)),
        ("u32", pa.uint32(), st.integers(0, 2**32 - 1)),
        ("f", pa.float64(), st.floats(allow_nan=False)),
        ("f32", pa.float32(), st.floats(allow_nan=False, width=32)),
        ("b", pa.bool_(), st.booleans()),
        (
            "s",
            pa.string(),
            st.text(min_size=1, max_size=10) | st.sampled_from(PYARROW_NULL_WORDS),
        ),
        ("d", pa.date32(), st.dates(dt.date(1000, 1, 1), dt.date(9999, 1, 1))),
        ("ts", pa.timestamp("s"), st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 1, 1))),
        (
            "tsms",
            pa.timestamp("ms"),
            st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 1, 1)).map(
                lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
            ),
        ),
        (
            "tsu",
            pa.timestamp("us", tz="UTC"),
            st.datetimes(
                dt.datetime(1000, 1, 1), dt.datetime(9999, 1, 1), timezones=st.just(dt.UTC)
            ),
        ),
    ]
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(columns, min_size=1, max_size=6), st.integers(0, 20), st.data())
def test_pyarrow_written_tables_read_back(
    tmp_path: Path,
    cols: list[tuple[str, pa.DataType, st.SearchStrategy]],
    n: int,
    data: st.DataObject,
) -> None:
    arrays = {}
    for i, (name, typ, strat) in enumerate(cols):
        # a one-column row of null is a blank line, which CSV readers skip (pyarrow too)
        maybe_null = strat if len(cols) == 1 else st.none() | strat
        values = data.draw(st.lists(maybe_null, min_size=n, max_size=n))
        arrays[f"{name}_{i}"] = pa.array(values, type=typ)
    table = pa.table(arrays)
    p = tmp_path / "t.csv"
    pacsv.write_csv(table, p)
    got = mc.read_csv(p, schema=table.schema)
    assert got.equals(table)
    # and pyarrow reads the same values with the same explicit types
    assert got.equals(pacsv.read_csv(p, convert_options=_like_minide(table.schema)))


def _like_minide(schema: pa.Schema) -> pacsv.ConvertOptions:
    """pyarrow told minide's default null handling: only "" is null, in every column.

    pyarrow reads "" in string columns as "" unless ``strings_can_be_null``; and its default
    ``null_values`` also hold words ("null", "NaN", "NA", ...) that with ``strings_can_be_null``
    would turn such strings (quoted by its writer or not) into nulls, where minide keeps them.
    """
    return pacsv.ConvertOptions(column_types=schema, null_values=[""], strings_can_be_null=True)


def test_null_words_in_string_columns_stay_text(tmp_path: Path) -> None:
    # Found by the Hypothesis test above: the string "NaN" in a string column, among nulls.
    table = pa.table(
        {
            "i_0": pa.array([None] * 17, pa.int64()),
            "s_1": pa.array([None] * 16 + ["NaN"], pa.string()),
        }
    )
    words = pa.table(
        {
            "i": pa.array(range(len(PYARROW_NULL_WORDS)), pa.int64()),
            "s": pa.array(PYARROW_NULL_WORDS, pa.string()),
        }
    )
    assert {"null", "NaN", "NA", "NULL"} <= set(PYARROW_NULL_WORDS)
    for t in (table, words):
        p = tmp_path / "t.csv"
        pacsv.write_csv(t, p)  # strings quoted: "NaN"
        got = mc.read_csv(p, schema=t.schema)
        assert got.equals(t)
        assert got.equals(pacsv.read_csv(p, convert_options=_like_minide(t.schema)))
    # pyarrow with its defaults agrees where there are no nulls (its string columns never are)
    p = tmp_path / "w.csv"
    pacsv.write_csv(words, p)
    plain = pacsv.ConvertOptions(column_types=words.schema)
    assert mc.read_csv(p, schema=words.schema).equals(pacsv.read_csv(p, convert_options=plain))
    # unquoted too, and with inferred types (a column of words only is a string column)
    p = tmp_path / "u.csv"
    p.write_text("s\n" + "\n".join(PYARROW_NULL_WORDS) + "\n")
    got = mc.read_csv(p)
    assert got.column("s").type == pa.string()
    assert got.column("s").to_pylist() == PYARROW_NULL_WORDS


def test_null_words_are_nulls_in_string_columns_when_listed(tmp_path: Path) -> None:
    words = pa.table({"s": pa.array([*PYARROW_NULL_WORDS, "x"], pa.string())})
    p = tmp_path / "t.csv"
    pacsv.write_csv(words, p)
    listed = ["", *PYARROW_NULL_WORDS]
    got = mc.read_csv(p, schema=words.schema, null_values=listed)
    assert got.column("s").to_pylist() == [None] * len(PYARROW_NULL_WORDS) + ["x"]
    opts = pacsv.ConvertOptions(
        column_types=words.schema, null_values=listed, strings_can_be_null=True
    )
    assert got.equals(pacsv.read_csv(p, convert_options=opts))


# Field texts where type inference is interesting: numbers, words, dates, near misses.
tricky = st.sampled_from(
    [
        "0", "-7", "+3", "12345678901234567890", "1.5", "-0.25", "1e5", "2E-3", ".5", "5.",
        "inf", "-inf", "nan", "NaN", "true", "False", "TRUE", "t", "yes", "2024-02-29",
        "2023-02-29", "2024-01-01 10:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00.123",
        "2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02:00", "x", "1,5", "",
    ]
)  # fmt: skip


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(tricky, min_size=1, max_size=6), min_size=1, max_size=4))
def test_inference_agrees_with_pyarrow(tmp_path: Path, columns: list[list[str]]) -> None:
    n = max(len(c) for c in columns)
    cols = [c + [c[-1]] * (n - len(c)) for c in columns]
    names = [f"c{i}" for i in range(len(cols))]
    import csv as pycsv

    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = pycsv.writer(f, lineterminator="\n")
        w.writerow(names)
        w.writerows(zip(*cols, strict=True))
    p = tmp_path / "t.csv"
    ours = mc.read_csv(p)
    theirs = pacsv.read_csv(
        p, convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True)
    )
    for name in names:
        a, b = ours.column(name), theirs.column(name)
        if pa.types.is_null(b.type):
            assert a.type == pa.string() and a.null_count == len(a)  # documented difference
            continue
        if pa.types.is_timestamp(b.type):
            assert a.type == pa.timestamp("us", tz=b.type.tz), (name, a.type, b.type)
            b = b.cast(a.type)
        assert a.type == b.type, (name, a.to_pylist())
        x, y = a.to_pylist(), b.to_pylist()
        assert all(u == v or (u != u and v != v) for u, v in zip(x, y, strict=True)), name
