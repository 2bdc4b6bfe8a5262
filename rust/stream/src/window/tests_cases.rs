//! Window operator cases: boundaries, emission on the watermark, sessions across batches,
//! i64 extremes, key types, NaN order, overflow and refused configurations. The property test
//! against a model is in `tests.rs`, whose helpers these share.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};

use super::tests::{MS, batch, config, rows_of, spec};
use super::*;

#[test]
fn tumbling_boundaries_and_emission_on_the_watermark() {
    let cfg = config(WindowKind::Tumbling { size_ns: 10 * MS }, 0);
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    // 9 is in [0,10), 10 starts [10,20); -1 is in [-10,0).
    let out = op
        .process(&batch(&[
            (Some(1), Some(9), Some(1)),
            (Some(1), Some(-1), Some(2)),
        ]))
        .unwrap();
    assert_eq!(out.num_rows(), 0); // -1 is late (watermark 9): counted, not aggregated
    assert_eq!(op.stats().late_rows, 1);
    let out = op.process(&batch(&[(Some(1), Some(10), Some(5))])).unwrap();
    // watermark 10 == end of [0,10): emitted now, exactly once
    assert_eq!(
        rows_of(&out),
        vec![(Some(1), 0, 10, 1, 1, Some(1), Some(1), Some(1), Some(1.0))]
    );
    let out = op.process(&batch(&[(Some(1), Some(19), None)])).unwrap();
    assert_eq!(out.num_rows(), 0);
    let rest = rows_of(&op.flush().unwrap().unwrap());
    assert_eq!(
        rest,
        vec![(Some(1), 10, 20, 2, 1, Some(5), Some(5), Some(5), Some(5.0))]
    );
}

#[test]
fn negative_times_floor_to_their_window() {
    let cfg = config(WindowKind::Tumbling { size_ns: 10 * MS }, 100);
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    op.process(&batch(&[
        (Some(1), Some(-1), Some(1)),
        (Some(1), Some(-10), Some(1)),
        (Some(1), Some(-11), Some(1)),
    ]))
    .unwrap();
    let got: Vec<(i64, i64, i64)> = rows_of(&op.flush().unwrap().unwrap())
        .iter()
        .map(|r| (r.1, r.2, r.3))
        .collect();
    assert_eq!(got, vec![(-20, -10, 1), (-10, 0, 2)]);
}

#[test]
fn sessions_merge_across_batches() {
    let cfg = config(WindowKind::Session { gap_ns: 4 * MS }, 100);
    let mut op = WindowOperator::new(cfg.clone(), 2).unwrap();
    op.process(&batch(&[
        (Some(1), Some(0), Some(1)),
        (Some(1), Some(10), Some(2)),
    ]))
    .unwrap();
    assert_eq!(op.stats().open_windows, 2);
    // A row at 5 bridges [0,4) and [10,14)? [5,9) touches neither: three sessions.
    op.process(&batch(&[(Some(1), Some(5), Some(3))])).unwrap();
    assert_eq!(op.stats().open_windows, 3);
    // Checkpoint mid-stream, then 3 and 8 bridge all three into [0, 14).
    let mut op = WindowOperator::restore(&op.checkpoint(), 3).unwrap();
    op.process(&batch(&[(Some(1), Some(3), Some(4))])).unwrap();
    op.process(&batch(&[
        (Some(1), Some(8), Some(5)),
        (Some(2), Some(8), None),
    ]))
    .unwrap();
    assert_eq!(op.stats().open_windows, 2);
    let got = rows_of(&op.flush().unwrap().unwrap());
    assert_eq!(
        got,
        vec![
            (Some(1), 0, 14, 5, 5, Some(15), Some(1), Some(5), Some(3.0)),
            (Some(2), 8, 12, 1, 0, None, None, None, None),
        ]
    );
    assert_eq!(op.stats().keys, 0);
    assert_eq!(op.stats().open_windows, 0);
}

#[test]
fn i64_extremes_clamp_bounds_and_never_overflow() {
    for kind in [
        WindowKind::Tumbling { size_ns: 10 * MS },
        WindowKind::Hopping {
            size_ns: 10 * MS,
            slide_ns: 5 * MS,
        },
        WindowKind::Session { gap_ns: 4 * MS },
    ] {
        let cfg = config(kind, i64::MAX / MS);
        let mut op = WindowOperator::new(cfg, 1).unwrap();
        let rows = [
            (Some(1), Some(i64::MIN), Some(1)),
            (Some(1), Some(i64::MIN + 1), Some(1)),
            (Some(1), Some(i64::MAX), Some(1)),
            (Some(1), Some(i64::MAX - 1), Some(1)),
        ];
        // The windows at i64::MIN close at once; those at i64::MAX end beyond the watermark.
        let mut got = rows_of(&op.process(&batch(&rows)).unwrap());
        let bytes = op.checkpoint();
        let mut op = WindowOperator::restore(&bytes, 2).unwrap();
        got.extend(rows_of(&op.flush().unwrap().unwrap()));
        assert!(!got.is_empty());
        let total: i64 = got.iter().map(|r| r.3).sum();
        let per_row = match kind {
            WindowKind::Hopping { .. } => 2,
            _ => 1,
        };
        if let WindowKind::Session { .. } = kind {
            assert_eq!(got.len(), 2, "{got:?}");
            assert_eq!(got[0].1, i64::MIN);
            assert_eq!(got[1].2, i64::MAX); // MAX - 1 + 4 clamped
        } else {
            assert_eq!(total, 4 * per_row, "{kind:?}: {got:?}");
            assert_eq!(got[0].1, i64::MIN); // starts below i64::MIN, clamped
            assert_eq!(got.last().unwrap().2, i64::MAX);
        }
    }
}

#[test]
fn a_watermark_at_i64_max_closes_only_what_ended() {
    let cfg = config(WindowKind::Tumbling { size_ns: 10 * MS }, 0);
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    let out = op
        .process(&batch(&[
            (Some(1), Some(0), Some(1)),
            (Some(1), Some(i64::MAX), Some(1)),
        ]))
        .unwrap();
    assert_eq!(out.num_rows(), 1); // [0,10) closed; the window holding MAX ends past it
    let out = op
        .process(&batch(&[(Some(1), Some(i64::MAX), Some(1))]))
        .unwrap();
    assert_eq!(out.num_rows(), 0);
    let last = rows_of(&op.flush().unwrap().unwrap());
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].3, 2,
        "both rows at i64::MAX land in one window, emitted once"
    );
}

/// (string key, int key, count, mean)
type KeyedMean = (Option<String>, Option<i64>, i64, Option<f64>);

#[test]
fn string_and_multi_column_keys_come_back_as_values() {
    let cfg = WindowConfig {
        kind: WindowKind::Tumbling { size_ns: 10 * MS },
        key_columns: vec!["s".into(), "k".into()],
        time_column: "t".into(),
        allowed_lateness_ns: 0,
        aggs: vec![
            spec("n", None, AggFn::Count),
            spec("avg", Some("x"), AggFn::Mean),
        ],
    };
    let mk = |s: Vec<Option<&str>>, k: Vec<Option<i64>>, t: Vec<i64>, x: Vec<Option<f64>>| {
        RecordBatch::try_from_iter([
            ("s", Arc::new(StringArray::from(s)) as ArrayRef),
            ("k", Arc::new(Int64Array::from(k)) as ArrayRef),
            ("t", Arc::new(Int64Array::from(t)) as ArrayRef),
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ])
        .unwrap()
    };
    for threads in [1, 3] {
        let mut op = WindowOperator::new(cfg.clone(), threads).unwrap();
        op.process(&mk(
            vec![Some("a"), None, Some("a"), Some("a")],
            vec![Some(1), Some(1), None, Some(1)],
            vec![0, 1, 2, 3],
            vec![Some(1.0), Some(2.0), None, Some(4.0)],
        ))
        .unwrap();
        let bytes = op.checkpoint();
        let mut op = WindowOperator::restore(&bytes, 1).unwrap();
        let out = op.flush().unwrap().unwrap();
        let s = out.column(0).as_string::<i32>();
        let k = out.column(1).as_primitive::<Int64Type>();
        let n = out.column(4).as_primitive::<Int64Type>();
        let avg = out.column(5).as_primitive::<Float64Type>();
        let mut got: Vec<KeyedMean> = (0..out.num_rows())
            .map(|i| {
                (
                    s.is_valid(i).then(|| s.value(i).to_string()),
                    k.is_valid(i).then(|| k.value(i)),
                    n.value(i),
                    avg.is_valid(i).then(|| avg.value(i)),
                )
            })
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            got,
            vec![
                (None, Some(1), 1, Some(2.0)),
                (Some("a".into()), None, 1, None),
                (Some("a".into()), Some(1), 2, Some(2.5)),
            ]
        );
    }
}

#[test]
fn float_min_max_put_nan_above_every_number() {
    let cfg = WindowConfig {
        kind: WindowKind::Tumbling { size_ns: 10 * MS },
        key_columns: vec![],
        time_column: "t".into(),
        allowed_lateness_ns: 1_000 * MS,
        aggs: vec![
            spec("lo", Some("x"), AggFn::Min),
            spec("hi", Some("x"), AggFn::Max),
        ],
    };
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    let b = RecordBatch::try_from_iter([
        (
            "t",
            Arc::new(Int64Array::from(vec![0, 1, 2, 10, 11])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![
                f64::NAN,
                2.0,
                -1.0,
                f64::NAN,
                f64::NAN,
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    op.process(&b).unwrap();
    let out = op.flush().unwrap().unwrap();
    let lo = out
        .column_by_name("lo")
        .unwrap()
        .as_primitive::<Float64Type>();
    let hi = out
        .column_by_name("hi")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(lo.value(0), -1.0);
    assert!(hi.value(0).is_nan());
    assert!(lo.value(1).is_nan() && hi.value(1).is_nan());
}

#[test]
fn an_int64_sum_overflow_is_an_error_and_loses_no_window() {
    let cfg = config(WindowKind::Tumbling { size_ns: 10 * MS }, 0);
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    op.process(&batch(&[
        (Some(1), Some(0), Some(i64::MAX)),
        (Some(1), Some(1), Some(1)),
    ]))
    .unwrap();
    let err = op.flush().unwrap_err().to_string();
    assert!(err.contains("does not fit in int64"), "{err}");
    assert_eq!(op.stats().open_windows, 1);
    assert!(op.flush().is_err());
}

#[test]
fn schema_changes_are_refused() {
    let cfg = config(WindowKind::Tumbling { size_ns: 10 * MS }, 0);
    let mut op = WindowOperator::new(cfg, 1).unwrap();
    op.process(&batch(&[(Some(1), Some(0), Some(1))])).unwrap();
    let strings = RecordBatch::try_from_iter([
        ("k", Arc::new(StringArray::from(vec!["a"])) as ArrayRef),
        ("t", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("v", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
    ])
    .unwrap();
    assert!(op.process(&strings).is_err());
    let floats = RecordBatch::try_from_iter([
        ("k", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("t", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("v", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
    ])
    .unwrap();
    assert!(op.process(&floats).is_err());
    let no_time =
        RecordBatch::try_from_iter([("k", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    assert!(op.process(&no_time).is_err());
    assert_eq!(op.stats().rows_in, 1);
}

#[test]
fn bad_configurations_are_refused() {
    let bad = [
        WindowKind::Tumbling { size_ns: 0 },
        WindowKind::Hopping {
            size_ns: 10,
            slide_ns: 3,
        },
        WindowKind::Hopping {
            size_ns: 10,
            slide_ns: 0,
        },
        WindowKind::Session { gap_ns: -1 },
    ];
    for kind in bad {
        assert!(WindowOperator::new(config(kind, 0), 1).is_err(), "{kind:?}");
    }
    let mut c = config(WindowKind::Tumbling { size_ns: 10 }, 0);
    c.aggs.push(spec("window_end", None, AggFn::Count));
    assert!(WindowOperator::new(c, 1).is_err());
    let mut c = config(WindowKind::Tumbling { size_ns: 10 }, 0);
    c.aggs = vec![spec("s", None, AggFn::Sum)];
    assert!(WindowOperator::new(c, 1).is_err());
    assert!(WindowOperator::new(config(WindowKind::Tumbling { size_ns: 10 }, -1), 1).is_err());
}
