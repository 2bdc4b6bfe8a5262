use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, BinaryArray};
use arrow_schema::{DataType, Field, Schema};

use super::msgpack::decode;

/// A hand-built msgpack map of (key, encoded value) pairs.
fn map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0x80 | pairs.len() as u8];
    for (k, v) in pairs {
        out.push(0xa0 | k.len() as u8);
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v);
    }
    out
}

fn s(x: &str) -> Vec<u8> {
    let mut v = vec![0xd9, x.len() as u8];
    v.extend_from_slice(x.as_bytes());
    v
}

#[test]
fn decodes_by_schema_and_reports_bad_rows() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
        Field::new("small", DataType::Int32, true),
    ]));
    let big = {
        let mut v = vec![0xcf];
        v.extend_from_slice(&(1u64 << 40).to_be_bytes());
        v
    };
    let rows: Vec<Option<Vec<u8>>> = vec![
        Some(map(&[
            ("id", vec![0x05]),
            ("user", s("ann")),
            ("x", vec![0xff]),
        ])),
        Some(map(&[("user", s("bob"))])), // id missing
        Some(map(&[
            ("id", big.clone()),
            ("extra", vec![0x92, 0x01, 0x02]),
            ("x", {
                let mut v = vec![0xcb];
                v.extend_from_slice(&1.5f64.to_be_bytes());
                v
            }),
        ])),
        Some(vec![0x93, 0x01, 0x02, 0x03]), // not a map
        Some(map(&[("id", vec![0x01]), ("small", big)])), // out of range for int32
        Some(map(&[("id", vec![0x01]), ("user", vec![0x07])])), // int for a string
        None,
        Some(vec![0x81, 0xa2, b'i']), // truncated
        Some(map(&[
            ("id", vec![0xd0, 0x80]),
            ("small", vec![0xd1, 0x01, 0x00]),
        ])),
    ];
    let payloads: BinaryArray = rows.iter().map(|r| r.as_deref()).collect();
    let d = decode(&payloads, &schema).unwrap();
    let bad: Vec<u32> = d.bad.iter().map(|(i, _)| *i).collect();
    assert_eq!(bad, vec![1, 3, 4, 5, 6, 7]);
    assert!(
        d.bad[0].1.contains("missing required field 'id'"),
        "{:?}",
        d.bad
    );
    let b = d.batch;
    assert_eq!(b.num_rows(), 3);
    let id = b.column(0).as_primitive::<Int64Type>();
    assert_eq!(id.values().to_vec(), vec![5, 1 << 40, -128]);
    let user = b.column(1).as_string::<i32>();
    assert_eq!(user.value(0), "ann");
    assert!(user.is_null(1) && user.is_null(2));
    let x = b.column(2).as_primitive::<Float64Type>();
    assert_eq!((x.value(0), x.value(1)), (-1.0, 1.5));
    assert!(x.is_null(2));
    let small = b.column(3).as_primitive::<Int32Type>();
    assert_eq!(small.value(2), 256);
    assert_eq!(small.null_count(), 2);
}

#[test]
fn json_objects_by_schema() {
    use super::json;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user", DataType::Utf8, true),
    ]));
    let rows: Vec<&[u8]> = vec![
        br#"{"id": 7, "user": "a\u00e9\"", "skip": [1, {"x": null}]}"#,
        br#"{"id": 1.5}"#,
        br#"{"id": 1} x"#,
        br#"{"id": NaN}"#,
        br#"{"user": "\ud800"}"#,
        br#"[1]"#,
        br#"{"id": -9223372036854775808, "user": null}"#,
    ];
    let payloads: BinaryArray = rows.iter().map(|r| Some(*r)).collect();
    let d = json::decode(&payloads, &schema).unwrap();
    let bad: Vec<u32> = d.bad.iter().map(|(i, _)| *i).collect();
    assert_eq!(bad, vec![1, 2, 3, 4, 5]);
    let id = d.batch.column(0).as_primitive::<Int64Type>();
    assert_eq!(id.values().to_vec(), vec![7, i64::MIN]);
    let user = d.batch.column(1).as_string::<i32>();
    assert_eq!(user.value(0), "a\u{e9}\"");
    assert!(user.is_null(1));
}

#[test]
fn iso_timestamps_nan_large_types_and_reasons() {
    use super::json;
    use arrow_array::types::TimestampMillisecondType;
    use arrow_schema::TimeUnit;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::LargeUtf8, true),
        Field::new("b", DataType::LargeBinary, true),
    ]));
    let rows: Vec<&[u8]> = vec![
        br#"{"at": "2024-01-02T03:04:05.123", "x": NaN, "s": "a", "b": "z"}"#,
        br#"{"at": "2024-01-02T05:04:05.123+02:00", "x": -Infinity}"#,
        br#"{"at": 1700000000000, "x": Infinity}"#,
        br#"{"at": "2024-01-02"}"#,
        br#"{"at": "yesterday"}"#,
        br#"{"at": "2024-01-02T03:04:05.1234"}"#,
        br#"{"id": "7"}"#,
        br#"{"x": -Inf}"#,
        b"garbage",
        b"[1, 2]",
    ];
    let payloads: BinaryArray = rows.iter().map(|r| Some(*r)).collect();
    let d = json::decode(&payloads, &schema).unwrap();
    let bad: Vec<(u32, &str)> = d.bad.iter().map(|(i, r)| (*i, r.as_str())).collect();
    assert_eq!(bad.len(), 6, "{bad:?}");
    assert!(bad[4].1.starts_with("not valid json"), "{}", bad[4].1);
    assert_eq!(bad[5].1, "expected an object");
    assert_eq!(
        bad[0],
        (
            4,
            "field 'at': str \"yesterday\" does not fit timestamp[ms]: not an ISO 8601 timestamp"
        )
    );
    assert_eq!(bad[1].0, 5);
    assert!(
        bad[1].1.contains("finer than the field's unit"),
        "{}",
        bad[1].1
    );
    assert_eq!(bad[2], (6, "field 'id': str \"7\" does not fit int64"));
    assert_eq!(bad[3].0, 7);
    assert!(bad[3].1.starts_with("not valid json"), "{}", bad[3].1);
    let b = d.batch;
    let at = b.column(1).as_primitive::<TimestampMillisecondType>();
    let t = 1_704_164_645_123;
    assert_eq!(
        at.values().to_vec(),
        vec![t, t, 1_700_000_000_000, 1_704_153_600_000]
    );
    let x = b.column(2).as_primitive::<Float64Type>();
    assert!(x.value(0).is_nan());
    assert_eq!((x.value(1), x.value(2)), (f64::NEG_INFINITY, f64::INFINITY));
    assert_eq!(b.column(3).as_string::<i64>().value(0), "a");
    assert_eq!(b.column(4).as_binary::<i64>().value(0), b"z");
    assert!(b.column(4).is_null(1));
}
