//! Months as integers: `year * 12 + (month - 1)`, so consecutive months are
//! consecutive numbers and month arithmetic is subtraction.

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
