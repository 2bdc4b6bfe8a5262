//! Bitemporal rules: which version a read sees, when a version stops being visible (`system_to`),
//! and which versions compaction may drop under a retention policy.
//!
//! A version has a system interval (its commit ts onwards) and a valid interval
//! `[valid_from, valid_to)` (open-ended when `None`). A read `(as_of, valid_at)` sees the newest
//! version with commit ts <= as_of whose valid interval contains valid_at; `valid_at = None` means
//! "no valid-time filter": the newest version with commit ts <= as_of.
//!
//! `system_to` of a version is the commit ts from which no read at any valid time sees it any
//! more: the first later commit at which newer versions together cover its whole valid interval.
//! With open valid intervals (the common case) that is simply the next version's commit ts.

use crate::mvcc::{Meta, VersionRecord};

/// Half-open interval on an extended line: `i128::MIN` / `i128::MAX` stand for -inf / +inf.
type Iv = (i128, i128);

fn interval(m: &Meta) -> Iv {
    (
        m.valid_from.map_or(i128::MIN, i128::from),
        m.valid_to.map_or(i128::MAX, i128::from),
    )
}

/// A union of disjoint, sorted half-open intervals.
#[derive(Debug, Default)]
struct Cover(Vec<Iv>);

impl Cover {
    fn add(&mut self, (lo, hi): Iv) {
        if lo >= hi {
            return;
        }
        let mut merged = (lo, hi);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if b < merged.0 || a > merged.1 {
                out.push((a, b));
            } else {
                merged = (merged.0.min(a), merged.1.max(b));
            }
        }
        out.push(merged);
        out.sort_unstable();
        self.0 = out;
    }

    /// Does the union contain all of `iv`? (An empty interval is always covered.)
    fn covers(&self, (lo, hi): Iv) -> bool {
        lo >= hi || self.0.iter().any(|&(a, b)| a <= lo && hi <= b)
    }

    fn is_everything(&self) -> bool {
        self.covers((i128::MIN, i128::MAX))
    }
}

/// `system_to` for each version of one key, given in commit order (ts, seq ascending).
pub fn system_to(versions: &[VersionRecord]) -> Vec<Option<u64>> {
    (0..versions.len())
        .map(|i| {
            let mine = interval(&versions[i].meta);
            let mut cover = Cover::default();
            versions[i + 1..].iter().find_map(|later| {
                cover.add(interval(&later.meta));
                cover.covers(mine).then_some(later.ts)
            })
        })
        .collect()
}

/// How long versions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Keep every version (the default).
    All,
    /// Reads with as_of within this many milliseconds of now stay exact.
    MaxAgeMillis(u64),
    /// Reads with as_of at or after the key's N-th newest version stay exact.
    Versions(u32),
}

/// Which versions of one key to keep. `versions` is newest first (ts, seq descending), as
/// compaction meets them. `now_horizon` is the as-of horizon of a `MaxAgeMillis` retention;
/// `snapshots` are the timestamps of live snapshots and scans.
///
/// A version is dropped only if no read at the horizon or at a live snapshot, at any valid time
/// or with no valid time, can see it: reads above the horizon see a subset of what a read at the
/// horizon sees among versions at or below it.
///
/// With `bottom` (no older data below the compaction's output), tombstones older than the horizon
/// that would be the oldest kept versions are dropped too: with nothing older left, a read that
/// saw such a tombstone returns "absent" without it, at every read point.
pub fn retain(
    versions: &[(u64, Meta)],
    retention: Retention,
    now_horizon: u64,
    snapshots: &[u64],
    bottom: bool,
) -> Vec<bool> {
    let horizon = match retention {
        Retention::All => return vec![true; versions.len()],
        Retention::MaxAgeMillis(_) => now_horizon,
        Retention::Versions(n) => match versions.get(n.max(1) as usize - 1) {
            Some(&(ts, _)) if versions.len() > n as usize => ts,
            _ => return vec![true; versions.len()],
        },
    };
    let mut keep: Vec<bool> = versions.iter().map(|&(ts, _)| ts > horizon).collect();
    let points = snapshots
        .iter()
        .copied()
        .filter(|&s| s < horizon)
        .chain(std::iter::once(horizon));
    for p in points {
        let mut cover = Cover::default();
        let mut first = true;
        for (i, (ts, meta)) in versions.iter().enumerate() {
            if *ts > p {
                continue;
            }
            let iv = interval(meta);
            if first || !cover.covers(iv) {
                keep[i] = true;
            }
            first = false;
            cover.add(iv);
            if cover.is_everything() {
                break;
            }
        }
    }
    if bottom {
        for (i, (ts, meta)) in versions.iter().enumerate().rev() {
            if !keep[i] {
                continue;
            }
            if !meta.tombstone || *ts >= horizon {
                break;
            }
            keep[i] = false;
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(ts: u64, from: Option<i64>, to: Option<i64>) -> VersionRecord {
        VersionRecord {
            ts,
            seq: 0,
            meta: Meta {
                tombstone: false,
                valid_from: from,
                valid_to: to,
            },
            value: Vec::new(),
        }
    }

    #[test]
    fn system_to_with_open_intervals_is_next_commit() {
        let h = [v(1, None, None), v(2, None, None), v(3, None, None)];
        assert_eq!(system_to(&h), vec![Some(2), Some(3), None]);
    }

    #[test]
    fn system_to_waits_for_full_cover() {
        // [0,100) at ts 1; [0,50) at ts 2 covers half; [50,200) at ts 3 covers the rest.
        let h = [
            v(1, Some(0), Some(100)),
            v(2, Some(0), Some(50)),
            v(3, Some(50), Some(200)),
        ];
        assert_eq!(system_to(&h), vec![Some(3), None, None]);
    }

    #[test]
    fn retain_by_versions_keeps_what_the_horizon_sees() {
        let m = |f: Option<i64>, t: Option<i64>| Meta {
            tombstone: false,
            valid_from: f,
            valid_to: t,
        };
        // newest first: ts 5 open, ts 4 open, ts 3 [10,20), ts 2 open
        let vs = [
            (5, m(None, None)),
            (4, m(None, None)),
            (3, m(Some(10), Some(20))),
            (2, m(None, None)),
        ];
        assert_eq!(
            retain(&vs, Retention::Versions(2), 0, &[], false),
            vec![true, true, false, false]
        );
        // A snapshot at ts 3 still sees ts 3 (at valid time 10..20) and ts 2 (elsewhere).
        assert_eq!(
            retain(&vs, Retention::Versions(2), 0, &[3], false),
            vec![true, true, true, true]
        );
        assert_eq!(retain(&vs, Retention::All, 0, &[], true), vec![true; 4]);
        // Horizon ts 3 by age: ts 3 is newest <= 3, ts 2 is visible outside [10,20).
        assert_eq!(
            retain(&vs, Retention::MaxAgeMillis(1), 3, &[], false),
            vec![true; 4]
        );
    }
}
