//! Window operator tests: assignment edge cases through the operator, sessions across batches,
//! i64 extremes, a row-by-row model over random splits and checkpoints, corrupt bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;

use super::*;

fn spec(output: &str, column: Option<&str>, func: AggFn) -> AggSpec {
    AggSpec {
        output: output.into(),
        column: column.map(Into::into),
        func,
    }
}

fn all_aggs() -> Vec<AggSpec> {
    vec![
        spec("n", None, AggFn::Count),
        spec("nv", Some("v"), AggFn::Count),
        spec("total", Some("v"), AggFn::Sum),
        spec("lo", Some("v"), AggFn::Min),
        spec("hi", Some("v"), AggFn::Max),
        spec("avg", Some("v"), AggFn::Mean),
    ]
}

/// Durations in the tests are milliseconds (int64 time columns are ms).
pub(super) fn config(kind: WindowKind, lateness_ms: i64) -> WindowConfig {
    WindowConfig {
        kind,
        key_columns: vec!["k".into()],
        time_column: "t".into(),
        allowed_lateness_ns: lateness_ms * 1_000_000,
        aggs: all_aggs(),
    }
}

pub(super) const MS: i64 = 1_000_000;

pub(super) fn batch(rows: &[(Option<i64>, Option<i64>, Option<i64>)]) -> RecordBatch {
    let k: ArrayRef = Arc::new(Int64Array::from(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
    ));
    let t: ArrayRef = Arc::new(Int64Array::from(
        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
    ));
    let v: ArrayRef = Arc::new(Int64Array::from(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    ));
    RecordBatch::try_from_iter([("k", k), ("t", t), ("v", v)]).unwrap()
}

/// One output row: key, start, end, count, count(v), sum, min, max, mean.
type Row = (
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
);

fn rows_of(b: &RecordBatch) -> Vec<Row> {
    let i64s = |name: &str| -> Vec<Option<i64>> {
        let c = b.column_by_name(name).unwrap();
        let c = c.as_primitive::<Int64Type>();
        (0..c.len())
            .map(|i| c.is_valid(i).then(|| c.value(i)))
            .collect()
    };
    let (k, s, e, n, nv, tot, lo, hi) = (
        i64s("k"),
        i64s("window_start"),
        i64s("window_end"),
        i64s("n"),
        i64s("nv"),
        i64s("total"),
        i64s("lo"),
        i64s("hi"),
    );
    let avg = b
        .column_by_name("avg")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    (0..b.num_rows())
        .map(|i| {
            (
                k[i],
                s[i].unwrap(),
                e[i].unwrap(),
                n[i].unwrap(),
                nv[i].unwrap(),
                tot[i],
                lo[i],
                hi[i],
                avg.is_valid(i).then(|| avg.value(i)),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    n: i64,
    nv: i64,
    sum: i64,
    lo: Option<i64>,
    hi: Option<i64>,
}

impl Agg {
    fn add(&mut self, v: Option<i64>) {
        self.n += 1;
        if let Some(v) = v {
            self.nv += 1;
            self.sum += v;
            self.lo = Some(self.lo.map_or(v, |x| x.min(v)));
            self.hi = Some(self.hi.map_or(v, |x| x.max(v)));
        }
    }
    fn merge(&mut self, o: &Agg) {
        self.n += o.n;
        self.nv += o.nv;
        self.sum += o.sum;
        self.lo = match (self.lo, o.lo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.hi = match (self.hi, o.hi) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    fn row(&self, k: Option<i64>, s: i64, e: i64) -> Row {
        let some = self.nv > 0;
        (
            k,
            s,
            e,
            self.n,
            self.nv,
            some.then_some(self.sum),
            self.lo,
            self.hi,
            some.then(|| self.sum as f64 / self.nv as f64),
        )
    }
}

/// The documented rules, row by row, on small times (no clamping needed).
fn model(
    kind: WindowKind,
    lateness: i64,
    rows: &[(Option<i64>, Option<i64>, Option<i64>)],
) -> (Vec<Row>, u64) {
    let mut max_seen: Option<i64> = None;
    let mut late = 0;
    let mut open: BTreeMap<(Option<i64>, i64), (i64, Agg)> = BTreeMap::new();
    for &(k, t, v) in rows {
        let Some(t) = t else {
            late += 1;
            continue;
        };
        if max_seen.is_some_and(|m| t < m - lateness) {
            late += 1;
            continue;
        }
        max_seen = Some(max_seen.map_or(t, |m| m.max(t)));
        match kind {
            WindowKind::Tumbling { size_ns } | WindowKind::Hopping { size_ns, .. } => {
                let size = size_ns / MS;
                let slide = match kind {
                    WindowKind::Hopping { slide_ns, .. } => slide_ns / MS,
                    _ => size,
                };
                let mut s = t - t.rem_euclid(slide);
                while s > t - size {
                    open.entry((k, s))
                        .or_insert((s + size, Agg::default()))
                        .1
                        .add(v);
                    s -= slide;
                }
            }
            WindowKind::Session { gap_ns } => {
                let gap = gap_ns / MS;
                let (mut start, mut end) = (t, t + gap);
                let mut agg = Agg::default();
                agg.add(v);
                let hits: Vec<i64> = open
                    .iter()
                    .filter(|((kk, s), (e, _))| *kk == k && *s < t + gap && t < *e)
                    .map(|((_, s), _)| *s)
                    .collect();
                for s in hits {
                    let (e, a) = open.remove(&(k, s)).unwrap();
                    agg.merge(&a);
                    start = start.min(s);
                    end = end.max(e);
                }
                open.insert((k, start), (end, agg));
            }
        }
    }
    let mut out: Vec<Row> = open
        .iter()
        .map(|((k, s), (e, a))| a.row(*k, *s, *e))
        .collect();
    out.sort_by(|a, b| (a.1, a.2, a.0).partial_cmp(&(b.1, b.2, b.0)).unwrap());
    (out, late)
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (a.1, a.2, a.0).partial_cmp(&(b.1, b.2, b.0)).unwrap());
    rows
}

/// Run `rows` cut at `cuts`, checkpointing and restoring (on `threads2` threads) at `ck`.
fn run(
    cfg: &WindowConfig,
    rows: &[(Option<i64>, Option<i64>, Option<i64>)],
    cuts: &[usize],
    ck: Option<usize>,
    threads: (usize, usize),
) -> (Vec<Row>, u64) {
    let mut op = WindowOperator::new(cfg.clone(), threads.0).unwrap();
    let mut out = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(rows.len())).collect();
    bounds.push(rows.len());
    bounds.sort_unstable();
    let mut prev = 0;
    for (i, &b) in bounds.iter().enumerate() {
        let emitted = op.process(&batch(&rows[prev..b])).unwrap();
        let wm = op.watermark();
        for r in rows_of(&emitted) {
            assert!(
                wm.is_some_and(|w| r.2 <= w),
                "emitted an open window {r:?} at {wm:?}"
            );
            out.push(r);
        }
        prev = b;
        if ck == Some(i) {
            let bytes = op.checkpoint();
            op = WindowOperator::restore(&bytes, threads.1).unwrap();
        }
    }
    if let Some(b) = op.flush().unwrap() {
        out.extend(rows_of(&b));
    }
    (sorted(out), op.stats().late_rows)
}

pub(super) fn kinds() -> Vec<WindowKind> {
    vec![
        WindowKind::Tumbling { size_ns: 10 * MS },
        WindowKind::Hopping {
            size_ns: 10 * MS,
            slide_ns: 5 * MS,
        },
        WindowKind::Session { gap_ns: 4 * MS },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_the_model_whatever_the_split(
        steps in prop::collection::vec((prop::option::weighted(0.9, 0i64..4), -6i64..8,
                                        prop::option::weighted(0.85, -5i64..6),
                                        0u8..40), 1..120),
        cuts in prop::collection::vec(0usize..120, 0..5),
        ck in prop::option::of(0usize..6),
        lateness in 0i64..6,
        kind in 0usize..3,
        threads in (1usize..5, 1usize..5),
    ) {
        // A random walk of times around -20 (negative times included); 1 in 40 null.
        let mut t = -20i64;
        let rows: Vec<_> = steps
            .iter()
            .map(|&(k, d, v, nul)| {
                t += d;
                (k, (nul != 0).then_some(t), v)
            })
            .collect();
        let kind = kinds()[kind];
        let cfg = config(kind, lateness);
        let want = model(kind, lateness, &rows);
        let got = run(&cfg, &rows, &cuts, ck, threads);
        prop_assert_eq!(got, want);
    }
}

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
