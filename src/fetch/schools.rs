//! DfE Get Information About Schools (GIAS): the daily all-establishments
//! CSV is named for its publication date and encoded in Windows-1252. It
//! lists every establishment in England, open or closed; the data root gets
//! the open ones in London (the raw file stays in `downloads/`).

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

/// The region column and the value that keeps a row.
pub const REGION_COLUMN: &str = "GOR (name)";
pub const REGION: &str = "London";
/// The status column; kept: "Open" and "Open, but proposed to close".
pub const STATUS_COLUMN: &str = "EstablishmentStatus (name)";

/// Rows kept and dropped by [`open_in_london`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filtered {
    pub kept: usize,
    pub dropped: usize,
}

/// Keeps the header and the rows of open establishments in London. A file
/// without the region or status column is kept whole (with a warning): it is
/// not the GIAS layout this filter knows.
pub fn open_in_london(utf8: &[u8]) -> Result<(Vec<u8>, Filtered), csv::Error> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(utf8);
    let header = reader.byte_headers()?.clone();
    let find = |name: &str| header.iter().position(|h| h == name.as_bytes());
    let (Some(region), Some(status)) = (find(REGION_COLUMN), find(STATUS_COLUMN)) else {
        tracing::warn!("the GIAS file has no {REGION_COLUMN:?} or {STATUS_COLUMN:?} column: kept whole");
        let rows = reader.byte_records().count();
        return Ok((utf8.to_vec(), Filtered { kept: rows, dropped: 0 }));
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_byte_record(&header)?;
    let mut counts = Filtered { kept: 0, dropped: 0 };
    for record in reader.byte_records() {
        let record = record?;
        let keep =
            record.get(region) == Some(REGION.as_bytes()) && record.get(status).is_some_and(|s| s.starts_with(b"Open"));
        if keep {
            writer.write_byte_record(&record)?;
            counts.kept += 1;
        } else {
            counts.dropped += 1;
        }
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((bytes, counts))
}

/// `YYYYMMDD` of the day `days_ago` days before the Unix time `now_unix` (UTC).
pub fn date_stamp(now_unix: u64, days_ago: u64) -> String {
    let days = (now_unix / 86_400).saturating_sub(days_ago) as i64;
    let (y, m, d) = crate::month::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
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
    fn only_open_establishments_in_london_are_kept() {
        let csv = "URN,EstablishmentName,EstablishmentStatus (name),GOR (name),Easting,Northing\n\
                   1,\"A, School\",Open,London,530000,180000\n\
                   2,B,Closed,London,530000,180000\n\
                   3,C,Open,South East,480000,170000\n\
                   4,D,\"Open, but proposed to close\",London,531000,181000\n";
        let (out, n) = open_in_london(csv.as_bytes()).unwrap();
        assert_eq!(n, Filtered { kept: 2, dropped: 2 });
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("URN,EstablishmentName,"));
        assert!(text.contains("\"A, School\"") && text.contains(",D,"), "{text}");
        assert!(!text.contains(",B,") && !text.contains(",C,"), "{text}");
        // Another layout is kept whole.
        let other = b"URN,Name\n1,A\n";
        assert_eq!(
            open_in_london(other).unwrap(),
            (other.to_vec(), Filtered { kept: 1, dropped: 0 })
        );
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
