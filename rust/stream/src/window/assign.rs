//! Window assignment: which windows an event time belongs to.
//!
//! Times are ticks of the time column's unit (see [`crate::watermark::Unit`]).
//!
//! ```text
//!  tumbling  size 10            |--- k=0 ---|--- k=1 ---|--- k=2 ---|      slide = size
//!  hopping   size 10, slide 5   |--- k=0 ---|
//!                                     |--- k=1 ---|
//!                                           |--- k=2 ---|                  size/slide per row
//!  session   gap 4              x  x   x          x x                       one key's rows
//!                               [---------- )     [----)                   [first, last + gap)
//! ```
//!
//! Fixed windows (tumbling and hopping) are numbered: window `k` is `[k*slide, k*slide + size)`,
//! and a time `t` belongs to every `k` with `k*slide <= t < k*slide + size`, i.e.
//! `floor((t - size) / slide) < k <= floor(t / slide)`; floor division, so negative times work
//! like positive ones (`-1` is in `[-10, 0)`). Bounds are computed in `i128`: a window that
//! reaches past the `i64` range keeps its exact end inside the state (emission compares the
//! exact end with the watermark) and is clamped to `i64::MIN..=i64::MAX` only in the output.
//! Window numbers below `i64::MIN` do not exist (with `slide = 1` tick, a row within `size` ticks
//! of `i64::MIN` belongs to fewer hopping windows).
//!
//! A session of one key is `[start, end)` with `end = last time + gap`. A new row at `t` is the
//! interval `[t, t + gap)`; it joins every open session it overlaps (`start < t + gap` and
//! `t < end`), merging them into one. Sessions of a key never overlap, so they stay sorted by
//! start and by end at once ([`session_overlaps`] finds the overlapping run by binary search).

/// How rows are assigned to windows, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigner {
    /// Tumbling (`slide == size`) and hopping windows.
    Fixed { size: i64, slide: i64 },
    /// Session windows closed by `gap` ticks of inactivity.
    Session { gap: i64 },
}

/// The window numbers `lo..=hi` containing `t` (never empty: `hi >= lo` for `slide <= size`).
#[inline]
pub fn fixed_range(size: i64, slide: i64, t: i64) -> (i64, i64) {
    let hi = t.div_euclid(slide);
    if size == slide {
        return (hi, hi);
    }
    let lo = (i128::from(t) - i128::from(size)).div_euclid(i128::from(slide)) + 1;
    (lo.max(i128::from(i64::MIN)) as i64, hi)
}

/// Exact start of fixed window `k`.
#[inline]
pub fn fixed_start(slide: i64, k: i64) -> i128 {
    i128::from(k) * i128::from(slide)
}

/// Exact end (exclusive) of fixed window `k`.
#[inline]
pub fn fixed_end(size: i64, slide: i64, k: i64) -> i128 {
    fixed_start(slide, k) + i128::from(size)
}

/// Exact end of the interval a row at `t` opens in a session window.
#[inline]
pub fn session_end(gap: i64, t: i64) -> i128 {
    i128::from(t) + i128::from(gap)
}

/// A window bound in the output: clamped to the `i64` range.
#[inline]
pub fn clamp(x: i128) -> i64 {
    x.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Given one key's sessions sorted by start (pairwise disjoint, so also sorted by end), the
/// index range of those a row at `t` overlaps. `start_end(i)` reads session `i`'s bounds.
pub fn session_overlaps(
    n: usize,
    start_end: impl Fn(usize) -> (i64, i128),
    t: i64,
    gap: i64,
) -> std::ops::Range<usize> {
    let hi = session_end(gap, t);
    // First session ending after t (ends are sorted): binary search.
    let (mut a, mut b) = (0, n);
    while a < b {
        let m = (a + b) / 2;
        if start_end(m).1 <= i128::from(t) {
            a = m + 1;
        } else {
            b = m;
        }
    }
    let mut end = a;
    while end < n && i128::from(start_end(end).0) < hi {
        end += 1;
    }
    a..end
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: every k whose window contains t, scanning around t / slide.
    fn brute(size: i64, slide: i64, t: i64) -> Vec<i64> {
        let c = t.div_euclid(slide);
        (c - size / slide - 2..=c + 2)
            .filter(|&k| {
                fixed_start(slide, k) <= i128::from(t) && i128::from(t) < fixed_end(size, slide, k)
            })
            .collect()
    }

    #[test]
    fn fixed_windows_match_brute_force_around_zero() {
        for (size, slide) in [(10, 10), (10, 5), (10, 2), (6, 3), (1, 1), (7, 1)] {
            for t in -40..40 {
                let (lo, hi) = fixed_range(size, slide, t);
                assert_eq!(
                    (lo..=hi).collect::<Vec<_>>(),
                    brute(size, slide, t),
                    "{size}/{slide} t={t}"
                );
            }
        }
    }

    #[test]
    fn negative_times_floor() {
        assert_eq!(fixed_range(10, 10, -1), (-1, -1));
        assert_eq!(fixed_start(10, -1), -10);
        assert_eq!(fixed_range(10, 10, -10), (-1, -1));
        assert_eq!(fixed_range(10, 10, -11), (-2, -2));
        assert_eq!(fixed_range(10, 10, 0), (0, 0));
        // boundary: the end is exclusive
        assert_eq!(fixed_range(10, 10, 9), (0, 0));
        assert_eq!(fixed_range(10, 10, 10), (1, 1));
        assert_eq!(fixed_range(10, 5, 10), (1, 2));
        assert_eq!(fixed_range(10, 5, -5), (-2, -1));
    }

    #[test]
    fn i64_extremes_do_not_overflow() {
        for (size, slide) in [
            (10, 10),
            (10, 5),
            (3, 1),
            (i64::MAX, i64::MAX),
            (i64::MAX, 1),
        ] {
            for t in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
                let (lo, hi) = fixed_range(size, slide, t);
                assert!(lo <= hi);
                assert!(fixed_start(slide, hi) <= i128::from(t));
                assert!(i128::from(t) < fixed_end(size, slide, hi));
                if lo > i64::MIN {
                    assert!(i128::from(t) < fixed_end(size, slide, lo));
                    assert!(i128::from(t) >= fixed_end(size, slide, lo - 1));
                }
            }
        }
        // The window holding i64::MIN starts below it: clamped in the output only.
        let (k, _) = fixed_range(10, 10, i64::MIN);
        assert!(fixed_start(10, k) < i128::from(i64::MIN));
        assert_eq!(clamp(fixed_start(10, k)), i64::MIN);
        let (k, _) = fixed_range(10, 10, i64::MAX);
        assert!(fixed_end(10, 10, k) > i128::from(i64::MAX));
        assert_eq!(clamp(fixed_end(10, 10, k)), i64::MAX);
        assert_eq!(session_end(5, i64::MAX), i128::from(i64::MAX) + 5);
    }

    #[test]
    fn session_overlap_ranges() {
        // sessions [0,4) [10,14) [20,24)
        let s = [(0i64, 4i128), (10, 14), (20, 24)];
        let f = |i: usize| s[i];
        assert_eq!(session_overlaps(3, f, 4, 4), 1..1); // [4,8): touches [0,4) only at its end
        assert_eq!(session_overlaps(3, f, 3, 4), 0..1);
        assert_eq!(session_overlaps(3, f, 6, 4), 1..1); // [6,10): touches 10, no overlap
        assert_eq!(session_overlaps(3, f, 7, 4), 1..2);
        assert_eq!(session_overlaps(3, f, 13, 8), 1..3); // [13,21) bridges two sessions
        assert_eq!(session_overlaps(3, f, -4, 4), 0..0);
        assert_eq!(session_overlaps(3, f, 30, 4), 3..3);
        assert_eq!(session_overlaps(0, f, 30, 4), 0..0);
    }
}
