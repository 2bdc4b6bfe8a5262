//! The ARROW:schema hint applied by the crate: a file written by pyarrow 26
//! (`tests/data/pyarrow_hint.parquet`) reads with the types pyarrow reads it with.

use std::path::Path;
use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{DataType, TimeUnit};
use minide_columnar::scan::{ScanSpec, scan_path};

#[test]
fn pyarrow_hint_gives_pyarrows_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyarrow_hint.parquet");
    let scan = scan_path(&path, ScanSpec::default()).unwrap();
    let schema = scan.schema();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::LargeUtf8,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("Europe/Paris"))),
            DataType::Duration(TimeUnit::Microsecond),
            DataType::Date32, // pyarrow reads a date64 hint as date32 too
            DataType::UInt8,
        ]
    );
    let (batches, counters) = scan.collect_all().unwrap();
    assert_eq!(counters.rows_matched, 3);
    let b = &batches[0];
    let ls = b.column(0).as_string::<i64>();
    assert_eq!((ls.value(0), ls.is_null(1), ls.value(2)), ("a", true, "b"));
    let dict = b.column(1).as_dictionary::<arrow_array::types::Int32Type>();
    let values = dict.values().as_string::<i32>();
    let words: Vec<&str> = dict
        .keys()
        .values()
        .iter()
        .map(|&k| values.value(k as usize))
        .collect();
    assert_eq!(words, ["x", "y", "x"]);
}
