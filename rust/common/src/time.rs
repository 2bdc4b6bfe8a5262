//! Calendar and time conversions: ISO 8601 dates and timestamps, days since the epoch, time units.
//!
//! One home for what the CSV reader, the stream message decoders (ISO 8601 strings in timestamp
//! fields) and the SQL date functions need: proleptic Gregorian day numbers after Howard
//! Hinnant's `days_from_civil` / `civil_from_days`, and `YYYY-MM-DD[(T| )HH:MM[:SS[.f]]][Z|±HH[:MM]]`.

use arrow_schema::TimeUnit;

/// Nanoseconds per unit of a `TimeUnit` (1 s = 1_000_000_000).
pub fn unit_nanos(unit: TimeUnit) -> u32 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// (year, month 1-12, day 1-31) of a day number (days since 1970-01-01).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` of a day number.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn digits2(b: &[u8], i: usize) -> Option<u32> {
    let hi = b.get(i)?.wrapping_sub(b'0');
    let lo = b.get(i + 1)?.wrapping_sub(b'0');
    if hi > 9 || lo > 9 {
        return None;
    }
    Some(hi as u32 * 10 + lo as u32)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` at the start of `b` -> days since the epoch.
#[inline]
fn date_prefix(b: &[u8]) -> Option<i64> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits2(b, 0)? as i64 * 100 + digits2(b, 2)? as i64;
    let m = digits2(b, 5)?;
    let d = digits2(b, 8)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `YYYY-MM-DD` -> days since 1970-01-01.
#[inline]
pub fn parse_date(b: &[u8]) -> Option<i32> {
    if b.len() != 10 {
        return None;
    }
    i32::try_from(date_prefix(b)?).ok()
}

/// What kind of text a timestamp field was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsKind {
    /// `YYYY-MM-DD` alone (midnight).
    DateOnly,
    /// Date and time without a zone.
    Naive,
    /// With `Z` or a `±HH:MM` offset (the value is already converted to UTC).
    Zoned,
}

/// A parsed ISO 8601 timestamp: UTC (or naive) seconds since the epoch plus nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ts {
    pub secs: i64,
    pub nanos: u32,
    pub kind: TsKind,
}

impl Ts {
    /// The value in `unit_nanos` units (1 = ns, 1_000 = us, ...), `None` if it would drop
    /// non-zero digits or overflow.
    #[inline]
    pub fn in_units(&self, unit_nanos: u32) -> Option<i64> {
        if !self.nanos.is_multiple_of(unit_nanos) {
            return None;
        }
        let per_sec = (1_000_000_000 / unit_nanos) as i64;
        self.secs
            .checked_mul(per_sec)?
            .checked_add((self.nanos / unit_nanos) as i64)
    }
}

/// ISO 8601: `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM[:SS[.fffffffff]]`,
/// optionally `Z` or `±HH[:MM]`.
pub fn parse_timestamp(b: &[u8]) -> Option<Ts> {
    let days = date_prefix(b)?;
    if b.len() == 10 {
        return Some(Ts {
            secs: days * 86_400,
            nanos: 0,
            kind: TsKind::DateOnly,
        });
    }
    if !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let h = digits2(b, 11)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let mi = digits2(b, 14)?;
    let mut i = 16;
    let mut s = 0;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b':') {
        s = digits2(b, i + 1)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = 100_000_000u32;
            while let Some(&c) = b.get(i) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                if i - start >= 9 {
                    return None;
                }
                nanos += d as u32 * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut secs = days * 86_400 + (h * 3600 + mi * 60 + s) as i64;
    let kind = match b.get(i) {
        None => TsKind::Naive,
        Some(b'Z' | b'z') if i + 1 == b.len() => TsKind::Zoned,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits2(b, i + 1)?;
            let om = match b.len() - (i + 3) {
                0 => 0,
                2 => digits2(b, i + 3)?,
                3 if b[i + 3] == b':' => digits2(b, i + 4)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = (oh * 3600 + om * 60) as i64;
            secs += if sign == b'+' { -off } else { off };
            TsKind::Zoned
        }
        _ => return None,
    };
    Some(Ts { secs, nanos, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip_and_format() {
        for z in [-719_468i64, -1, 0, 1, 10_957, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(19_723), "2024-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(unit_nanos(TimeUnit::Millisecond), 1_000_000);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_date(b"2000-03-01"), Some(11_017));
        assert_eq!(parse_date(b"1969-12-31"), Some(-1));
        assert_eq!(parse_date(b"2023-02-29"), None);
        assert_eq!(parse_date(b"2024-02-29"), Some(19_782));
        assert_eq!(parse_date(b"2024-13-01"), None);
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp(b"2024-01-02T03:04:05.123456").unwrap();
        assert_eq!(t.kind, TsKind::Naive);
        assert_eq!(t.in_units(1000), Some(1_704_164_645_123_456));
        let z = parse_timestamp(b"2024-01-02 05:04:05.123456+02:00").unwrap();
        assert_eq!(z.kind, TsKind::Zoned);
        assert_eq!(z.in_units(1000), t.in_units(1000));
        assert_eq!(
            parse_timestamp(b"2024-01-02T03:04:05Z").unwrap().secs,
            1_704_164_645
        );
        assert_eq!(parse_timestamp(b"2024-01-02T03:04").unwrap().secs % 60, 0);
        assert_eq!(
            parse_timestamp(b"2024-01-02").unwrap().kind,
            TsKind::DateOnly
        );
        let ns = parse_timestamp(b"2024-01-02T03:04:05.123456789").unwrap();
        assert_eq!(ns.in_units(1000), None);
        assert!(ns.in_units(1).is_some());
        for bad in [
            &b"2024-01-02T"[..],
            b"2024-01-02T24:00:00",
            b"2024-01-02T03:04:05.",
            b"2024-01-02T03:04:05+2",
            b"2024-01-02x03:04",
            b"2024-01-02T03:04:05.1234567890",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
