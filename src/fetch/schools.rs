//! DfE Get Information About Schools (GIAS): the daily all-establishments
//! CSV is named for its publication date and encoded in Windows-1252.

/// Windows-1252 characters for bytes 0x80..=0x9F (the rest of the code
/// page is Latin-1). Undefined bytes map to U+FFFD.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž', '\u{FFFD}', '\u{FFFD}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}', 'ž', 'Ÿ',
];

/// The bytes as UTF-8: unchanged when they already are, else decoded as
/// Windows-1252 (what GIAS publishes).
pub fn to_utf8(bytes: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(bytes) {
        Ok(s) => s.into_bytes(),
        Err(e) => e
            .into_bytes()
            .iter()
            .map(|&b| match b {
                0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
                _ => b as char,
            })
            .collect::<String>()
            .into_bytes(),
    }
}

/// `YYYYMMDD` of the day `days_ago` days before the Unix time `now_unix` (UTC).
pub fn date_stamp(now_unix: u64, days_ago: u64) -> String {
    let days = (now_unix / 86_400).saturating_sub(days_ago) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
}

/// Proleptic Gregorian date of a count of days since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1252_is_decoded_and_utf8_left_alone() {
        // "St Mary’s École" in Windows-1252.
        let cp = b"St Mary\x92s \xC9cole".to_vec();
        assert_eq!(String::from_utf8(to_utf8(cp)).unwrap(), "St Mary’s École");
        let utf8 = "St Mary’s École".as_bytes().to_vec();
        assert_eq!(to_utf8(utf8.clone()), utf8);
    }

    #[test]
    fn dates_from_unix_time() {
        assert_eq!(date_stamp(0, 0), "19700101");
        // 2024-02-29T12:00:00Z
        assert_eq!(date_stamp(1_709_208_000, 0), "20240229");
        assert_eq!(date_stamp(1_709_208_000, 1), "20240228");
        assert_eq!(date_stamp(1_709_208_000, 60), "20231231");
    }
}
