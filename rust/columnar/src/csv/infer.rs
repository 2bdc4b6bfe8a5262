//! Type inference: each column keeps the set of types every non-null value so far fits; the
//! result is the first type of the priority list still in the set.
//!
//! ```text
//!  value text            fits                     priority (first still possible wins)
//!  "42"                  INT FLOAT                1 INT    -> int64
//!  "4.2" "1e3" "nan"     FLOAT                    2 FLOAT  -> float64
//!  "true" "False"        BOOL                     3 BOOL   -> bool
//!  "1" "0"               INT FLOAT BOOL
//!  "2024-01-31"          DATE TS                  4 DATE   -> date32
//!  "2024-01-31 10:00"    TS                       5 TS     -> timestamp[us]
//!  "2024-01-31T10:00Z"   TSTZ                     6 TSTZ   -> timestamp[us, tz=UTC]
//!  anything else         (nothing)                          -> string
//! ```
//! A column with no non-null value is `string`. Widening (used by `read_csv` when a value after
//! the inference window does not fit) is the same intersection continued over more rows.

use arrow_schema::{DataType, TimeUnit};

use super::convert::NullMatcher;
use super::parse::{TsKind, parse_bool, parse_f64, parse_i64, parse_timestamp};

pub const INT: u8 = 1;
pub const FLOAT: u8 = 2;
pub const BOOL: u8 = 4;
pub const DATE: u8 = 8;
pub const TS: u8 = 16;
pub const TSTZ: u8 = 32;
pub const ALL: u8 = INT | FLOAT | BOOL | DATE | TS | TSTZ;

/// The inference state of one column.
#[derive(Clone, Copy, Debug)]
pub struct ColumnGuess {
    pub fits: u8,
    pub seen_value: bool,
}

impl Default for ColumnGuess {
    fn default() -> Self {
        ColumnGuess {
            fits: ALL,
            seen_value: false,
        }
    }
}

impl ColumnGuess {
    /// The state that accepts exactly what `t` accepted (to continue a previous inference).
    pub fn from_type(t: &DataType) -> Self {
        let fits = match t {
            DataType::Int64 => INT | FLOAT,
            DataType::Float64 => FLOAT,
            DataType::Boolean => BOOL,
            DataType::Date32 => DATE | TS,
            DataType::Timestamp(_, None) => TS,
            DataType::Timestamp(_, Some(_)) => TSTZ,
            _ => 0,
        };
        ColumnGuess {
            fits,
            seen_value: true,
        }
    }

    /// Narrow the set by one non-null value.
    #[inline]
    pub fn observe(&mut self, v: &[u8]) {
        self.seen_value = true;
        let alive = self.fits;
        if alive == 0 {
            return;
        }
        let mut m = 0u8;
        if alive & (INT | FLOAT) != 0 {
            if alive & INT != 0 && parse_i64(v).is_some() {
                m |= INT | FLOAT;
            } else if parse_f64(v).is_some() {
                m |= FLOAT;
            }
        }
        // "1"/"0" fit bool too (as in pyarrow): a column of only them is int64 by priority,
        // mixed with true/false words it is bool.
        if alive & BOOL != 0 && parse_bool(v).is_some() {
            m |= BOOL;
        }
        if alive & (DATE | TS | TSTZ) != 0
            && let Some(t) = parse_timestamp(v)
        {
            m |= match t.kind {
                // A date is midnight, but of no zone (as pyarrow): not a fit for TSTZ.
                TsKind::DateOnly => DATE | TS,
                // Sub-microsecond digits would be lost in timestamp[us]: not a fit.
                TsKind::Naive if t.nanos.is_multiple_of(1000) => TS,
                TsKind::Zoned if t.nanos.is_multiple_of(1000) => TSTZ,
                _ => 0,
            };
        }
        self.fits = alive & m;
    }

    pub fn data_type(&self) -> DataType {
        let f = self.fits;
        if !self.seen_value {
            DataType::Utf8
        } else if f & INT != 0 {
            DataType::Int64
        } else if f & FLOAT != 0 {
            DataType::Float64
        } else if f & BOOL != 0 {
            DataType::Boolean
        } else if f & DATE != 0 {
            DataType::Date32
        } else if f & TS != 0 {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else if f & TSTZ != 0 {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        } else {
            DataType::Utf8
        }
    }
}

/// Observe the non-null values of column `c` in rows `[0, nrows)` of tokenized fields.
pub fn observe_column(
    guess: &mut ColumnGuess,
    data: &[u8],
    spans: &[u32],
    ncols: usize,
    c: usize,
    nrows: usize,
    nulls: &NullMatcher,
) {
    for r in 0..nrows {
        if guess.fits == 0 && guess.seen_value {
            return;
        }
        let k = 2 * (r * ncols + c);
        let v = &data[spans[k] as usize..spans[k + 1] as usize];
        if !nulls.is_null(v) {
            guess.observe(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> DataType {
        let mut g = ColumnGuess::default();
        for v in values {
            g.observe(v.as_bytes());
        }
        g.data_type()
    }

    #[test]
    fn priority() {
        assert_eq!(infer(&["1", "-2"]), DataType::Int64);
        assert_eq!(infer(&["1", "2.5"]), DataType::Float64);
        assert_eq!(infer(&["true", "False"]), DataType::Boolean);
        assert_eq!(infer(&["1", "true"]), DataType::Boolean);
        assert_eq!(infer(&["1", "0"]), DataType::Int64);
        assert_eq!(infer(&["2", "true"]), DataType::Utf8);
        assert_eq!(infer(&["2024-01-01"]), DataType::Date32);
        assert_eq!(
            infer(&["2024-01-01", "2024-01-01 10:00:00"]),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            infer(&["2024-01-01T10:00:00Z", "2024-01-01T10:00:00+01:00"]),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            infer(&["2024-01-01T10:00:00Z", "2024-01-01"]),
            DataType::Utf8
        );
        assert_eq!(
            infer(&["2024-01-01T10:00:00Z", "2024-01-01 10:00"]),
            DataType::Utf8
        );
        assert_eq!(infer(&[]), DataType::Utf8);
        assert_eq!(infer(&["x", "1"]), DataType::Utf8);
    }

    #[test]
    fn widening_continues_from_a_type() {
        let mut g = ColumnGuess::from_type(&DataType::Int64);
        g.observe(b"2.5");
        assert_eq!(g.data_type(), DataType::Float64);
        let mut g = ColumnGuess::from_type(&DataType::Date32);
        g.observe(b"2024-01-01 10:00");
        assert_eq!(
            g.data_type(),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        let mut g = ColumnGuess::from_type(&DataType::Boolean);
        g.observe(b"2");
        assert_eq!(g.data_type(), DataType::Utf8);
    }
}
