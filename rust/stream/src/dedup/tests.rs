//! Deduplicator against a naive model, over arbitrary batch splits and checkpoint/restore.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;

use super::*;

fn batch(keys: &[Option<i64>], times: &[i64], strings: bool) -> RecordBatch {
    let k: ArrayRef = if strings {
        Arc::new(StringArray::from(
            keys.iter()
                .map(|k| k.map(|v| format!("key-{v:08}")))
                .collect::<Vec<_>>(),
        ))
    } else {
        Arc::new(Int64Array::from(keys.to_vec()))
    };
    let t: ArrayRef = Arc::new(Int64Array::from(times.to_vec()));
    RecordBatch::try_from_iter([("k", k), ("t", t)]).unwrap()
}

fn config(mode: Mode) -> DedupConfig {
    DedupConfig {
        key_columns: vec!["k".into()],
        time_column: "t".into(),
        window_ns: 10_000_000,          // 10 ms (int64 = ms)
        allowed_lateness_ns: 3_000_000, // 3 ms
        mode,
    }
}

/// The documented rule, row by row, with a dict.
fn model(keys: &[Option<i64>], times: &[i64]) -> (Vec<u32>, Vec<u32>) {
    let (window, lateness) = (10i64, 3i64);
    let mut max_seen: Option<i64> = None;
    let mut seen: HashMap<Option<i64>, i64> = HashMap::new();
    let (mut keep, mut late) = (vec![], vec![]);
    for (i, (&k, &t)) in keys.iter().zip(times).enumerate() {
        if max_seen.is_some_and(|m| t < m - lateness) {
            late.push(i as u32);
            continue;
        }
        max_seen = Some(max_seen.map_or(t, |m| m.max(t)));
        match seen.get(&k) {
            Some(&s) if t < s + window => {}
            _ => {
                seen.insert(k, t);
                keep.push(i as u32);
            }
        }
    }
    (keep, late)
}

fn run_split(
    d: &mut Deduplicator,
    keys: &[Option<i64>],
    times: &[i64],
    cuts: &[usize],
    strings: bool,
) -> (Vec<u32>, Vec<u32>) {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (keys.len() + 1)).collect();
    bounds.push(0);
    bounds.push(keys.len());
    bounds.sort_unstable();
    let (mut keep, mut late) = (vec![], vec![]);
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let out = d
            .process(&batch(&keys[a..b], &times[a..b], strings))
            .unwrap();
        keep.extend(out.keep.iter().map(|i| i + a as u32));
        late.extend(out.late.iter().map(|i| i + a as u32));
    }
    (keep, late)
}

/// Event times as a walk from 1000 by the given steps (negative steps: out-of-order rows).
fn walk(steps: Vec<i64>) -> Vec<i64> {
    steps
        .into_iter()
        .scan(1000, |t, s| {
            *t += s;
            Some(*t)
        })
        .collect()
}

fn stream() -> impl Strategy<Value = (Vec<Option<i64>>, Vec<i64>, Vec<usize>)> {
    (1usize..300).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::option::weighted(0.95, 0i64..40), n),
            proptest::collection::vec(-4i64..8, n).prop_map(walk),
            proptest::collection::vec(0usize..400, 0..6),
        )
    })
}

/// Approximate mode's promise: late rows as the model, and no key emitted twice within the
/// window (a duplicate inside the window is never emitted).
fn check_approx(
    keys: &[Option<i64>],
    times: &[i64],
    got: &(Vec<u32>, Vec<u32>),
) -> Result<(), TestCaseError> {
    let (_, model_late) = model(keys, times);
    prop_assert_eq!(&got.1, &model_late);
    let mut last: HashMap<Option<i64>, i64> = HashMap::new();
    for &i in &got.0 {
        let (k, t) = (keys[i as usize], times[i as usize]);
        if let Some(&s) = last.get(&k) {
            prop_assert!(
                t >= s + 10,
                "key {:?} emitted at {} and again at {}",
                k,
                s,
                t
            );
        }
        last.insert(k, t);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn approx_is_split_invariant_and_never_emits_a_duplicate((keys, times, cuts) in stream(), strings in any::<bool>()) {
        let mode = Mode::Approx { false_positive_rate: 0.01 };
        let mut one = Deduplicator::new(config(mode)).unwrap();
        let whole = run_split(&mut one, &keys, &times, &[], strings);
        let mut d = Deduplicator::new(config(mode)).unwrap();
        let split = run_split(&mut d, &keys, &times, &cuts, strings);
        prop_assert_eq!(&split, &whole);
        check_approx(&keys, &times, &split)?;
        prop_assert_eq!(one.checkpoint(), d.checkpoint());
    }

    #[test]
    fn exact_matches_model_over_any_split((keys, times, cuts) in stream(), strings in any::<bool>()) {
        let want = model(&keys, &times);
        let mut d = Deduplicator::new(config(Mode::Exact)).unwrap();
        prop_assert_eq!(run_split(&mut d, &keys, &times, &cuts, strings), want);
    }

    #[test]
    fn restore_behaves_like_the_original((keys, times, cuts) in stream(), at in 0usize..300, approx in any::<bool>()) {
        let mode = if approx { Mode::Approx { false_positive_rate: 0.01 } } else { Mode::Exact };
        let at = at % (keys.len() + 1);
        let mut a = Deduplicator::new(config(mode)).unwrap();
        run_split(&mut a, &keys[..at], &times[..at], &cuts, false);
        let mut b = Deduplicator::restore(&a.checkpoint()).unwrap();
        prop_assert_eq!(a.checkpoint(), b.checkpoint());
        let ra = run_split(&mut a, &keys[at..], &times[at..], &cuts, false);
        let rb = run_split(&mut b, &keys[at..], &times[at..], &[], false);
        prop_assert_eq!(ra, rb);
        let (sa, sb) = (a.stats(), b.stats());
        prop_assert_eq!((sa.rows_in, sa.rows_out, sa.duplicates, sa.late, sa.live_keys), (sb.rows_in, sb.rows_out, sb.duplicates, sb.late, sb.live_keys));
    }
}

#[test]
fn corrupt_checkpoints_are_refused() {
    let mut d = Deduplicator::new(config(Mode::Exact)).unwrap();
    d.process(&batch(&[Some(1), Some(2)], &[5, 6], false))
        .unwrap();
    let cp = d.checkpoint();
    for i in (0..cp.len()).step_by(3) {
        let mut b = cp.clone();
        b[i] ^= 1;
        assert!(Deduplicator::restore(&b).is_err());
    }
}

#[test]
fn old_bloom_checkpoints_are_refused_with_a_clear_error() {
    let mode = Mode::Approx {
        false_positive_rate: 0.001,
    };
    let mut d = Deduplicator::new(config(mode)).unwrap();
    d.process(&batch(&[Some(1), Some(2)], &[5, 6], false))
        .unwrap();
    let cp = d.checkpoint();
    let mut payload = checkpoint::open(&cp, Kind::Dedup).unwrap().to_vec();
    let Some(Bound {
        store: Store::Approx(s),
        ..
    }) = &d.bound
    else {
        panic!("approx store expected")
    };
    let mut w = Writer::default();
    s.write(&mut w);
    let at = payload.len() - w.buf.len() - 1;
    assert_eq!(payload[at], APPROX_STORE_KIND);
    for old in [3u8, 4, 5] {
        payload[at] = old;
        let e = Deduplicator::restore(&checkpoint::seal(Kind::Dedup, &payload))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("older minide") && e.contains(&format!("kind {old}")),
            "{e}"
        );
    }
    // A bucket whose rank is out of range (>= 3876) is refused, not decoded: corrupt the last
    // table of the last shard that has one (the shards after it are written after its words).
    payload[at] = APPROX_STORE_KIND;
    let last = s
        .shards
        .iter()
        .rposition(|sh| !sh.tables.is_empty())
        .expect("a shard with a table");
    let mut after = Writer::default();
    for sh in &s.shards[last + 1..] {
        sh.write(&mut after);
    }
    let words = s.shards[last].tables.last().map_or(0, |t| t.words.len());
    let words_at = payload.len() - after.buf.len() - 8 * words;
    payload[words_at] = 0xff;
    payload[words_at + 1] |= 0x0f;
    let e = Deduplicator::restore(&checkpoint::seal(Kind::Dedup, &payload))
        .unwrap_err()
        .to_string();
    assert!(e.contains("semi-sorted"), "{e}");
}

#[test]
fn missing_columns_and_unit_changes_are_schema_errors() {
    let mut d = Deduplicator::new(config(Mode::Exact)).unwrap();
    let b = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
        .unwrap();
    let e = d.process(&b).unwrap_err().to_string();
    assert!(e.contains("\"t\""), "{e}");
}

/// Long streams over thousands of keys: enough for the exact store's tables to fill, go stale
/// through expiry, rebuild and recycle chunk numbers many times over.
fn long_stream() -> impl Strategy<Value = (Vec<Option<i64>>, Vec<i64>, Vec<usize>)> {
    (2_000usize..20_000, 50i64..6_000).prop_flat_map(|(n, keyspace)| {
        (
            proptest::collection::vec(proptest::option::weighted(0.999, 0i64..keyspace), n),
            proptest::collection::vec(-2i64..4, n).prop_map(walk),
            proptest::collection::vec(0usize..20_000, 0..8),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn exact_matches_model_on_long_streams((keys, times, cuts) in long_stream(), strings in any::<bool>(), at in 0usize..20_000) {
        let want = model(&keys, &times);
        let at = at % keys.len();
        let mut d = Deduplicator::new(config(Mode::Exact)).unwrap();
        let (mut keep, mut late) = run_split(&mut d, &keys[..at], &times[..at], &cuts, strings);
        // Continue from a restored checkpoint: the rebuilt table must answer the same.
        let mut r = Deduplicator::restore(&d.checkpoint()).unwrap();
        prop_assert_eq!(r.stats().live_keys, d.stats().live_keys);
        let (k2, l2) = run_split(&mut r, &keys[at..], &times[at..], &cuts, strings);
        keep.extend(k2.iter().map(|i| i + at as u32));
        late.extend(l2.iter().map(|i| i + at as u32));
        prop_assert_eq!((keep, late), want);
    }
}

#[test]
fn stale_state_is_dropped_when_no_new_keys_arrive() {
    let mut d = Deduplicator::new(config(Mode::Exact)).unwrap();
    let n = 60_000i64;
    let keys: Vec<Option<i64>> = (0..n).map(Some).collect();
    d.process(&batch(&keys, &vec![1000; n as usize], true))
        .unwrap();
    let full = d.stats();
    assert_eq!(full.live_keys, n as u64);
    // Time moves past window + lateness with a single repeated key: every old key expires,
    // and the table shrinks although almost nothing is inserted.
    d.process(&batch(&[Some(0); 10], &[1100; 10], true))
        .unwrap();
    let after = d.stats();
    assert_eq!(after.live_keys, 1);
    assert!(
        after.state_bytes * 20 < full.state_bytes,
        "{after:?} vs {full:?}"
    );
}
