//! Months as integers: `year * 12 + (month - 1)`, so consecutive months are
//! consecutive numbers and month arithmetic is subtraction; and the civil
//! calendar for timestamps (Unix seconds to dates, RFC 3339).

/// Parses `YYYY-MM` (also the first 7 characters of an ISO date such as
/// `2017-01-01T00:00:00+00:00`). Years 1900..=2200 only.
pub fn parse(s: &str) -> Option<u32> {
    let b = s.trim().as_bytes();
    if b.len() < 7 || b[4] != b'-' {
        return None;
    }
    let digits = |r: &[u8]| -> Option<u32> {
        r.iter()
            .try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32))
    };
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    if b.len() > 7 && b[7].is_ascii_digit() {
        return None;
    }
    if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    Some(year * 12 + month - 1)
}

/// Formats a month number as `YYYY-MM`.
pub fn format(m: u32) -> String {
    format!("{:04}-{:02}", m / 12, m % 12 + 1)
}

/// Proleptic Gregorian (year, month, day) of a count of days since
/// 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix seconds as RFC 3339 UTC (`2024-02-29T12:34:56Z`).
pub fn rfc3339(unix: u64) -> String {
    let (y, m, d) = civil_from_days((unix / 86_400) as i64);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        assert_eq!(format(parse("2013-12").unwrap()), "2013-12");
        assert_eq!(parse("2014-01").unwrap() - parse("2013-12").unwrap(), 1);
        assert_eq!(format(parse("2017-01-01T00:00:00+00:00").unwrap()), "2017-01");
        for bad in ["2024-13", "2024-00", "24-01", "2024/01", "", "abcd-ef", "2024-011"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
