//! Hybrid logical clock: commit timestamps that follow the wall clock but never go backwards.
//!
//! A timestamp is `wall_millis << 16 | logical`. Each new timestamp is
//! `max(now_wall << 16, last + 1)`, so it is strictly increasing even when the wall clock steps
//! back or many commits land in the same millisecond. On open, the clock starts above the
//! persisted high-water mark (the largest timestamp in the manifest and the replayed WAL), so a
//! restart never hands out a timestamp that was already used.

use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Bits of the logical counter under the physical milliseconds.
pub const LOGICAL_BITS: u32 = 16;

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The largest timestamp that a commit at or before `millis` (wall time) can carry.
pub fn ts_at_millis(millis: u64) -> u64 {
    (millis << LOGICAL_BITS) | ((1 << LOGICAL_BITS) - 1)
}

/// The wall-clock millisecond a timestamp was issued in.
pub fn millis_of(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

#[derive(Debug)]
pub struct Hlc {
    last: Mutex<u64>,
    clock: fn() -> u64,
}

impl Hlc {
    /// A clock whose first timestamp is above `high_water`.
    pub fn new(high_water: u64) -> Self {
        Self::with_clock(high_water, wall_millis)
    }

    /// For tests: a clock reading milliseconds from `clock`.
    pub fn with_clock(high_water: u64, clock: fn() -> u64) -> Self {
        Hlc {
            last: Mutex::new(high_water),
            clock,
        }
    }

    /// A new timestamp, strictly greater than every one handed out before.
    pub fn next(&self) -> u64 {
        let physical = (self.clock)() << LOGICAL_BITS;
        let mut last = self.last.lock();
        *last = physical.max(last.saturating_add(1));
        *last
    }

    /// The last timestamp handed out (or the high-water mark it started from).
    pub fn last(&self) -> u64 {
        *self.last.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static FAKE: AtomicU64 = AtomicU64::new(1_000);
    fn fake() -> u64 {
        FAKE.load(Ordering::SeqCst)
    }

    #[test]
    fn monotonic_when_wall_clock_steps_back() {
        let c = Hlc::with_clock(0, fake);
        let a = c.next();
        FAKE.store(500, Ordering::SeqCst); // the wall clock jumps back
        let b = c.next();
        let d = c.next();
        assert!(a < b && b < d);
        assert_eq!(millis_of(a), 1_000);
        FAKE.store(2_000, Ordering::SeqCst);
        let e = c.next();
        assert_eq!(e, 2_000 << LOGICAL_BITS);
    }

    #[test]
    fn starts_above_high_water_mark() {
        let hw = (wall_millis() + 60_000) << LOGICAL_BITS;
        let c = Hlc::new(hw);
        assert!(c.next() > hw);
    }
}
