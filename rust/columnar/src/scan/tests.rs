//! Scan core tests over files written by minide's writer.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use super::*;
use crate::parquet::reader::ParquetFile;
use crate::parquet::writer::{WriteOptions, write_file};

fn write(path: &Path, rows: i64, opts: WriteOptions) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("s", DataType::Utf8, true),
    ]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows));
    let s: ArrayRef = Arc::new(StringArray::from_iter(
        (0..rows).map(|i| (i % 7 != 0).then(|| format!("k{:02}", (i % 25) * 2))),
    ));
    let b = RecordBatch::try_new(schema.clone(), vec![ids, s]).unwrap();
    write_file(path, schema, std::iter::once(Ok(b)), opts).unwrap();
}

fn ids(scan: Scan) -> (Vec<i64>, ScanCounters) {
    let (batches, c) = scan.collect_all().unwrap();
    let mut out = Vec::new();
    for b in batches {
        out.extend(
            b.column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
    }
    (out, c)
}

#[test]
fn statistics_bloom_dictionary_and_pages_prune() {
    let dir = std::env::temp_dir().join(format!("minide-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.parquet");
    write(
        &path,
        10_000,
        WriteOptions {
            row_group_size: 1_000,
            ..WriteOptions::default()
        },
    );
    let plain = dir.join("b.parquet");
    write(
        &plain,
        10_000,
        WriteOptions {
            row_group_size: 1_000,
            data_page_size: 512,
            dictionary: false,
            ..WriteOptions::default()
        },
    );
    // Statistics: id >= 9899.5 keeps one row group of ten; the page index narrows it further.
    let spec = ScanSpec {
        columns: Some(vec!["id".into()]),
        predicate: Some(Predicate::cmp("id", CmpOp::Ge, Literal::Float(9_899.5))),
        ..ScanSpec::default()
    };
    let (got, c) = ids(scan_path(&plain, spec).unwrap());
    assert_eq!(got, (9_900..10_000).collect::<Vec<_>>());
    assert_eq!(c.row_groups_pruned_stats, 9);
    assert!(c.pages_pruned > 0, "{c:?}");
    assert!(c.rows_decoded < 1_000, "{c:?}");
    let pf = Arc::new(ParquetFile::open(&path).unwrap());
    // Dictionary: without a Bloom filter, the dictionaries of s rule out a value inside the
    // min/max range of every row group.
    let spec = ScanSpec {
        predicate: Some(Predicate::cmp("s", CmpOp::Eq, Literal::Str("k03".into()))),
        ..ScanSpec::default()
    };
    let (got, c) = ids(scan_file(pf.clone(), spec).unwrap());
    assert!(got.is_empty());
    assert_eq!(c.row_groups_pruned_stats, 0, "{c:?}");
    assert_eq!(c.row_groups_pruned_dict, 10, "{c:?}");
    let with_bloom = dir.join("c.parquet");
    write(
        &with_bloom,
        10_000,
        WriteOptions {
            row_group_size: 1_000,
            bloom_filter_columns: vec!["s".into()],
            ..WriteOptions::default()
        },
    );
    // Bloom filters come before dictionaries.
    let spec = ScanSpec {
        predicate: Some(Predicate::In {
            column: "s".into(),
            values: vec![Literal::Str("k03".into()), Literal::Str("k05".into())],
            negated: false,
        }),
        ..ScanSpec::default()
    };
    let (got, c) = ids(scan_path(&with_bloom, spec).unwrap());
    assert!(got.is_empty());
    assert_eq!(c.row_groups_pruned(), 10, "{c:?}");
    assert!(c.row_groups_pruned_bloom > 0, "{c:?}");
    // NOT with nulls: three-valued (rows with a null s are not kept).
    let spec = ScanSpec {
        predicate: Some(Predicate::negate(Predicate::cmp(
            "s",
            CmpOp::Eq,
            Literal::Str("k02".into()),
        ))),
        ..ScanSpec::default()
    };
    let (got, _) = ids(scan_file(pf.clone(), spec).unwrap());
    let want: Vec<i64> = (0..10_000).filter(|i| i % 7 != 0 && i % 25 != 1).collect();
    assert_eq!(got, want);
    // Limit and batch size.
    let spec = ScanSpec {
        limit: Some(2_500),
        batch_size: Some(300),
        threads: 2,
        ..ScanSpec::default()
    };
    let (got, _) = ids(scan_file(pf, spec).unwrap());
    assert_eq!(got, (0..2_500).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}
