//! Window operator property test: a row-by-row model over random batch splits (the fixed
//! cases are in `tests_cases.rs`, checkpoints in `tests_ckpt.rs`), and the shared helpers.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use proptest::prelude::*;

use super::*;

pub(super) fn spec(output: &str, column: Option<&str>, func: AggFn) -> AggSpec {
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
pub(super) type Row = (
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

pub(super) fn rows_of(b: &RecordBatch) -> Vec<Row> {
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
