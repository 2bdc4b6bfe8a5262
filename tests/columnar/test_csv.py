"""minide.columnar.read_csv / open_csv: RFC 4180 cases, inference, schemas, errors, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import minide.columnar as mc
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from minide.errors import (
    CorruptFileError,
    InvalidArgumentError,
    MinideIOError,
    SchemaError,
    UnsupportedError,
)


def write(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_rfc4180_quoting_crlf_and_embedded_newlines(tmp_path: Path) -> None:
    text = (
        'id,text,n\r\n1,"a, b",10\r\n2,"he said ""hi""",\r\n3,"multi\r\nline\nfield",30\r\n'
        '4,"",40\r\n5,plain,50'  # no final newline
    )
    t = mc.read_csv(write(tmp_path, text))
    assert t.schema == pa.schema([("id", pa.int64()), ("text", pa.string()), ("n", pa.int64())])
    assert t.column("text").to_pylist() == [
        "a, b",
        'he said "hi"',
        "multi\r\nline\nfield",
        None,
        "plain",
    ]
    assert t.column("n").to_pylist() == [10, None, 30, 40, 50]
    # Python's csv module reads the same text the same way
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert [r[1] for r in rows] == [v or "" for v in t.column("text").to_pylist()]


def test_bom_blank_lines_and_custom_delimiter(tmp_path: Path) -> None:
    p = write(tmp_path, b"\xef\xbb\xbfa;b\n\n1;'x;y'\n\n2;'it''s'\n")
    t = mc.read_csv(p, delimiter=";", quote="'")
    assert t.column_names == ["a", "b"]
    assert t.to_pylist() == [{"a": 1, "b": "x;y"}, {"a": 2, "b": "it's"}]


def test_inference_types_and_values(tmp_path: Path) -> None:
    text = (
        "i,f,b,d,ts,tz,s,empty\n"
        "1,1.5,true,2024-01-31,2024-01-31 10:00:00,2024-01-31T10:00:00Z,x,\n"
        "-2,1e3,False,2024-02-29,2024-02-29T23:59:59.123456,2024-01-31T12:00:00+02:00,1,\n"
        ",,,,,,,\n"
    )
    t = mc.read_csv(write(tmp_path, text))
    assert t.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us")),
            ("tz", pa.timestamp("us", tz="UTC")),
            ("s", pa.string()),
            ("empty", pa.string()),
        ]
    )
    utc = dt.UTC
    assert t.to_pylist()[1] == {
        "i": -2,
        "f": 1000.0,
        "b": False,
        "d": dt.date(2024, 2, 29),
        "ts": dt.datetime(2024, 2, 29, 23, 59, 59, 123456),
        "tz": dt.datetime(2024, 1, 31, 10, 0, tzinfo=utc),
        "s": "1",
        "empty": None,
    }
    assert t.to_pylist()[2] == dict.fromkeys(t.column_names)


def test_null_values_and_no_header(tmp_path: Path) -> None:
    p = write(tmp_path, "1,NA\nNULL,x\n3,\n")
    t = mc.read_csv(p, header=False, null_values=("NA", "NULL"))
    assert t.column_names == ["f0", "f1"]
    assert t.column("f0").to_pylist() == [1, None, 3]
    assert t.column("f1").to_pylist() == [None, "x", ""]


def test_explicit_schema_by_name_subset_and_types(tmp_path: Path) -> None:
    p = write(tmp_path, "a,b,c\n1,2024-01-01 00:00:01,1\n2,,0\n")
    schema = pa.schema([("c", pa.bool_()), ("b", pa.timestamp("ms")), ("a", pa.int8())])
    t = mc.read_csv(p, schema=schema)
    assert t.schema == schema
    assert t.to_pylist() == [
        {"c": True, "b": dt.datetime(2024, 1, 1, 0, 0, 1), "a": 1},
        {"c": False, "b": None, "a": 2},
    ]
    with pytest.raises(SchemaError, match="'zz'"):
        mc.read_csv(p, schema=pa.schema([("zz", pa.int64())]))
    with pytest.raises(UnsupportedError, match="'a'"):
        mc.read_csv(p, schema=pa.schema([("a", pa.list_(pa.int64()))]))


def test_explicit_schema_error_names_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, 'a,b\n1,"x\ny"\n2,z\nthree,w\n')
    with pytest.raises(SchemaError, match=r"line 5, column 'a' \(#1\): cannot parse \"three\""):
        mc.read_csv(p, schema=pa.schema([("a", pa.int64()), ("b", pa.string())]))
    t = mc.read_csv(
        p, schema=pa.schema([("a", pa.int64()), ("b", pa.string())]), on_bad_lines="skip"
    )
    assert t.column("a").to_pylist() == [1, 2]
    assert mc.skipped_rows(t) == 1
    assert mc.skipped_lines(t) == [5]


def test_wrong_field_count_names_physical_line(tmp_path: Path) -> None:
    p = write(tmp_path, 'a,b\n1,"two\nlines"\n\n2,x,extra\n3,y\n4\n')
    with pytest.raises(CorruptFileError, match="line 5: expected 2 fields, found 3"):
        mc.read_csv(p)
    t = mc.read_csv(p, on_bad_lines="skip")
    assert t.column("a").to_pylist() == [1, 3]
    assert mc.skipped_rows(t) == 2
    assert mc.skipped_lines(t) == [5, 7]
    with mc.open_csv(p, on_bad_lines="skip", batch_size=1) as r:
        assert sum(b.num_rows for b in r) == 2
        assert r.skipped == 2
        assert r.skipped_lines == [5, 7]


def test_unterminated_quote_at_end(tmp_path: Path) -> None:
    p = write(tmp_path, 'a,b\n1,x\n2,"never\nclosed\n')
    with pytest.raises(CorruptFileError, match="line 3: a quoted field is never closed"):
        mc.read_csv(p)
    t = mc.read_csv(p, on_bad_lines="skip")
    assert t.num_rows == 1 and mc.skipped_rows(t) == 1 and mc.skipped_lines(t) == [3]


def test_nul_in_header_is_a_clear_error(tmp_path: Path) -> None:
    # Arrow's C data interface cannot carry a NUL in a field name
    with pytest.raises(CorruptFileError, match="line 1: the name of column #2"):
        mc.read_csv(write(tmp_path, b"a,b\x00c\n1,2\n"))
    assert mc.read_csv(write(tmp_path, b"a\nx\x00y\n")).column("a").to_pylist() == ["x\x00y"]


def test_not_utf8_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, b"a,b\n1,ok\n2,caf\xe9\n")
    with pytest.raises(CorruptFileError, match=r"line 3: not UTF-8"):
        mc.read_csv(p)


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(MinideIOError, match=r"nope\.csv"):
        mc.read_csv(tmp_path / "nope.csv")
    with pytest.raises(MinideIOError):
        mc.open_csv(tmp_path / "nope.csv")
    p = write(tmp_path, "a\n1\n")
    for kwargs in (
        {"delimiter": ";;"},
        {"delimiter": '"'},
        {"quote": "\n"},
        {"on_bad_lines": "warn"},
        {"null_values": "NA"},
        {"threads": 0},
    ):
        with pytest.raises(InvalidArgumentError):
            mc.read_csv(p, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        mc.open_csv(p, batch_size=0)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    t = mc.read_csv(write(tmp_path, ""))
    assert t.num_rows == 0 and t.num_columns == 0
    t = mc.read_csv(write(tmp_path, "a,b\r\n"))
    assert t.schema == pa.schema([("a", pa.string()), ("b", pa.string())])
    assert t.num_rows == 0
    schema = pa.schema([("a", pa.int64()), ("b", pa.float64())])
    assert mc.read_csv(write(tmp_path, "a,b\n"), schema=schema).schema == schema
    assert list(mc.open_csv(write(tmp_path, "a,b\n"))) == []


def test_read_csv_widens_types_past_the_inference_window(tmp_path: Path) -> None:
    rows = ["n,d,s"] + [f"{i},2024-01-0{1 + i % 9},{i}" for i in range(20)]
    rows += ["2.5,2024-01-01 10:00:00,x", "7,2024-01-02,y"]
    p = write(tmp_path, "\n".join(rows) + "\n")
    t = mc.read_csv(p, infer_rows=5)
    assert t.schema == pa.schema(
        [("n", pa.float64()), ("d", pa.timestamp("us")), ("s", pa.string())]
    )
    assert t.column("n").to_pylist()[-2:] == [2.5, 7.0]
    assert t.column("s").to_pylist()[:2] == ["0", "1"]  # the original text, not "0.0"
    assert t.equals(mc.read_csv(p))  # same as inferring over every row

    # open_csv cannot change batches already handed out: a clear error, or skip and count
    with pytest.raises(SchemaError, match=r"line 22, column 'n'.*infer_rows"):
        list(mc.open_csv(p, infer_rows=5))
    r = mc.open_csv(p, infer_rows=5, on_bad_lines="skip")
    assert sum(b.num_rows for b in r) == 20 and r.skipped == 2  # "x" and "y" are not int64
    assert r.skipped_lines == [22, 23]


def test_open_csv_batches_schema_and_arrow_stream(tmp_path: Path) -> None:
    lines = ["k,v"] + [f"{i},{'x' * (i % 7)}" for i in range(1000)]
    p = write(tmp_path, "\n".join(lines))
    r = mc.open_csv(p, batch_size=128)
    assert r.schema == pa.schema([("k", pa.int64()), ("v", pa.string())])
    sizes = [b.num_rows for b in r]
    assert sizes == [128] * 7 + [104]
    assert r.bytes_read == p.stat().st_size
    whole = mc.read_csv(p)
    assert pa.table(mc.open_csv(p, batch_size=100)).equals(whole)
    assert mc.open_csv(p, batch_size=333, threads=2).read_all().equals(whole)


def test_lone_cr_is_data_and_crlf_is_a_line_end(tmp_path: Path) -> None:
    # Documented choice: only \n and \r\n end records (as RFC 4180); a lone \r is text.
    t = mc.read_csv(write(tmp_path, b"a,b\r\nx\ry,1\r\n"))
    assert t.to_pylist() == [{"a": "x\ry", "b": 1}]


def test_lenient_quotes_like_pyarrow(tmp_path: Path) -> None:
    text = 'a,b\n"ab"cd,5\'10"\n'
    p = write(tmp_path, text)
    got = mc.read_csv(p).to_pylist()
    want = pacsv.read_csv(p).to_pylist()
    assert got == want == [{"a": "abcd", "b": "5'10\""}]


def test_chunk_boundaries_inside_quoted_fields(tmp_path: Path) -> None:
    # Reads are 1 MiB: long quoted fields of quotes and newlines straddle every read boundary.
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["i", "text"])
    expected = []
    for i in range(40):
        text = ('"' * (i * 997 % 4000)) + ("\n" * (i % 3)) + ("q," * (i * 12_345 % 60_000))
        w.writerow([i, text])
        expected.append(text or None)
    p = write(tmp_path, buf.getvalue())
    assert p.stat().st_size > 2 << 20
    for threads in (1, 2):
        t = mc.read_csv(p, threads=threads)
        assert t.column("text").to_pylist() == expected
        assert t.column("i").to_pylist() == list(range(40))
    batches = list(mc.open_csv(p, batch_size=3))
    assert pa.Table.from_batches(batches).equals(mc.read_csv(p))


@pytest.mark.parametrize("threads", [1, 2])
def test_widening_across_many_blocks(tmp_path: Path, threads: int) -> None:
    # > 4 blocks of 65,536 records: the late values fall in a later parallel window
    n = 300_000
    lines = ["a,b"] + [f"{i},{i % 7}" for i in range(n)]
    lines[1 + 150_000] = "150000,x"
    lines[1 + 280_000] = "1.5,3"
    p = write(tmp_path, "\n".join(lines) + "\n")
    t = mc.read_csv(p, threads=threads)
    assert t.schema == pa.schema([("a", pa.float64()), ("b", pa.string())])
    a = t.column("a").to_pylist()
    assert a[280_000] == 1.5 and a[279_999] == 279_999.0 and len(a) == n
    b = t.column("b").to_pylist()
    assert b[150_000] == "x" and b[6] == "6"
