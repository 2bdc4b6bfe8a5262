//! Calendar arithmetic on days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant's
//! `civil_from_days` / `days_from_civil` algorithms.

pub use minide_common::time::{civil_from_days, days_from_civil, days_in_month};

/// `date + n months`, clamping the day to the month's length (Jan 31 + 1 month = Feb 28/29).
pub fn add_months(days: i64, n: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m) - 1 + n;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    days_from_civil(ny, nm, d.min(days_in_month(ny, nm)))
}

/// Parse `YYYY-MM-DD` (a leading time part is ignored).
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.split([' ', 'T']).next()?;
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for z in -800_000..800_000i64 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_date("1998-12-01"), Some(10561));
        assert_eq!(format_date(10561), "1998-12-01");
        assert_eq!(
            add_months(parse_date("1994-01-31").unwrap_or(0), 1),
            parse_date("1994-02-28").unwrap_or(1)
        );
    }
}
