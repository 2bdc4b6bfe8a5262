//! Event time, watermarks and lateness.
//!
//! Event time is the time written in the row (`time_column`), processing time is when minide sees
//! it. Streams arrive out of order, so "how far has event time progressed?" is answered by the
//! watermark:
//!
//! ```text
//!   watermark = (max event time seen so far) - allowed_lateness        (never decreases)
//!
//!   row is LATE  ⇔  its event time < watermark at the moment it arrives
//! ```
//!
//! The watermark advances row by row in input order, so processing a stream in one batch or in
//! any split gives the same answer for every row. Late rows go to a side output; they are never
//! silently dropped and never touch the dedup state.
//!
//! Times are kept in the time column's own unit (seconds … nanoseconds; int64 columns are
//! milliseconds). Durations given in nanoseconds are converted to that unit, rounding up.

use arrow_array::{Array, RecordBatch};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};
use minide_common::{Error, Result};

use crate::keyhash::column_list;

/// The unit of a time column, as nanoseconds per tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub nanos_per_tick: i64,
}

impl Unit {
    pub const MILLIS: Unit = Unit {
        nanos_per_tick: 1_000_000,
    };

    /// Convert a non-negative duration in nanoseconds into ticks of this unit, rounding up so a
    /// window is never shorter than asked.
    pub fn ticks(self, nanos: i64) -> i64 {
        let t = self.nanos_per_tick.max(1);
        nanos / t + i64::from(nanos % t != 0)
    }

    fn of(dt: &DataType) -> Option<Unit> {
        let nanos_per_tick = match dt {
            DataType::Int64 => 1_000_000,
            DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
            DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
            DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
            _ => return None,
        };
        Some(Unit { nanos_per_tick })
    }
}

/// Event times of one batch in the column's unit, plus the rows whose time is null.
pub struct Times {
    pub unit: Unit,
    /// Zero-copy view of the column's value buffer.
    pub values: ScalarBuffer<i64>,
    pub nulls: Option<NullBuffer>,
}

/// Read the time column: a timestamp of any unit (time zone ignored: instants compare the same)
/// or int64 milliseconds.
pub fn read_times(batch: &RecordBatch, name: &str) -> Result<Times> {
    let col = batch.column_by_name(name).ok_or_else(|| {
        Error::schema(format!(
            "time column {name:?} is not in the batch (columns: {})",
            column_list(batch)
        ))
    })?;
    let unit = Unit::of(col.data_type()).ok_or_else(|| {
        Error::schema(format!(
            "time column {name:?} has type {}; use a timestamp (any unit) or int64 milliseconds",
            col.data_type()
        ))
    })?;
    // Every accepted type stores i64 values: view the buffer in place, no cast kernel, no copy.
    let data = col.to_data();
    let buf = data
        .buffers()
        .first()
        .ok_or_else(|| Error::invalid("time column without a value buffer"))?;
    if buf.len() < (data.offset() + data.len()) * 8 {
        return Err(Error::invalid("time column buffer shorter than the array"));
    }
    let values = ScalarBuffer::<i64>::new(buf.clone(), data.offset(), data.len());
    Ok(Times {
        unit,
        values,
        nulls: col.logical_nulls(),
    })
}

/// Watermark state: the maximum event time seen and the allowed lateness (in ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub max_seen: Option<i64>,
    pub lateness: i64,
}

impl Watermark {
    pub fn new(lateness: i64) -> Self {
        Watermark {
            max_seen: None,
            lateness,
        }
    }

    /// Current watermark; `None` before the first row (nothing is late yet).
    #[inline]
    pub fn current(&self) -> Option<i64> {
        self.max_seen.map(|m| m.saturating_sub(self.lateness))
    }

    /// Classify one row (in input order) and advance. Returns true if the row is late.
    #[inline]
    pub fn observe(&mut self, t: i64) -> bool {
        match self.max_seen {
            None => {
                self.max_seen = Some(t);
                false
            }
            Some(m) => {
                if t < m.saturating_sub(self.lateness) {
                    true
                } else {
                    if t > m {
                        self.max_seen = Some(t);
                    }
                    false
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_relative_to_max_seen() {
        let mut w = Watermark::new(5);
        assert!(!w.observe(100));
        assert_eq!(w.current(), Some(95));
        assert!(!w.observe(95)); // exactly at the watermark: on time
        assert!(w.observe(94)); // before it: late
        assert!(!w.observe(200));
        assert!(w.observe(100));
        assert_eq!(w.current(), Some(195));
    }

    #[test]
    fn ticks_round_up() {
        let s = Unit {
            nanos_per_tick: 1_000_000_000,
        };
        assert_eq!(s.ticks(200_000_000), 1);
        assert_eq!(s.ticks(3_000_000_000), 3);
        assert_eq!(Unit::MILLIS.ticks(1), 1);
        assert_eq!(Unit::MILLIS.ticks(0), 0);
    }
}
