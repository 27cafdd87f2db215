//! Incident CSVs: police.uk street-level files and any CSV whose columns the
//! config names. Headers are matched by name, so an extra unnamed leading
//! index column, CRLF line endings and a BOM all just work.

use csv::ByteRecord;

use super::reject::{Reject, RejectReason};
use super::rows::IncidentRows;
use super::IngestError;
use crate::config::{CsvColumns, IncidentKind};
use crate::crs::Crs;
use crate::dataset::manifest::LineCount;

/// Which column holds what. Optional columns may be absent from the file.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub crime_id: Option<String>,
    /// A `YYYY-MM` column, or an ISO date column (the month is its first 7 chars).
    pub month: String,
    pub x: String,
    pub y: String,
    pub crs: Crs,
    pub crime_type: Option<String>,
    pub default_category: Option<String>,
    /// Check categories against the police.uk list (crime sources only).
    pub police_categories: bool,
    pub location: Option<String>,
    pub lsoa_code: Option<String>,
    pub falls_within: Option<String>,
    pub outcome: Option<String>,
}

impl ColumnMap {
    /// The data.police.uk street-level CSV columns.
    pub fn police_uk() -> ColumnMap {
        ColumnMap {
            crime_id: Some("Crime ID".into()),
            month: "Month".into(),
            x: "Longitude".into(),
            y: "Latitude".into(),
            crs: Crs::Wgs84,
            crime_type: Some("Crime type".into()),
            default_category: None,
            police_categories: true,
            location: Some("Location".into()),
            lsoa_code: Some("LSOA code".into()),
            falls_within: Some("Falls within".into()),
            outcome: Some("Last outcome category".into()),
        }
    }

    /// A mapping from the config's `[incidents.columns]`.
    pub fn from_config(c: &CsvColumns, kind: IncidentKind) -> ColumnMap {
        ColumnMap {
            crime_id: c.id.clone(),
            month: c.month.clone().or_else(|| c.date.clone()).unwrap_or_default(),
            x: c.x.clone(),
            y: c.y.clone(),
            crs: Crs::parse(&c.crs).unwrap_or(Crs::Wgs84),
            crime_type: c.category.clone(),
            default_category: c.default_category.clone(),
            police_categories: kind == IncidentKind::Crime && c.category.is_some(),
            location: c.location.clone(),
            lsoa_code: None,
            falls_within: None,
            outcome: None,
        }
    }
}

struct Resolved {
    crime_id: Option<usize>,
    month: usize,
    x: usize,
    y: usize,
    crime_type: Option<usize>,
    location: Option<usize>,
    lsoa_code: Option<usize>,
    falls_within: Option<usize>,
    outcome: Option<usize>,
}

fn resolve(header: &ByteRecord, map: &ColumnMap, file: &str) -> Result<Resolved, IngestError> {
    let names: Vec<String> = header
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let find = |name: &str| names.iter().position(|h| h.eq_ignore_ascii_case(name.trim()));
    let required = |name: &str| {
        find(name).ok_or_else(|| IngestError::Format {
            file: file.to_string(),
            line: 1,
            field: name.to_string(),
            message: format!(
                "column missing from the header (found: {})",
                super::reject::excerpt(&names.join(", "), 200)
            ),
        })
    };
    let optional = |name: &Option<String>| name.as_deref().and_then(find);
    Ok(Resolved {
        crime_id: optional(&map.crime_id),
        month: required(&map.month)?,
        x: required(&map.x)?,
        y: required(&map.y)?,
        crime_type: match &map.crime_type {
            Some(c) => Some(required(c)?),
            None => None,
        },
        location: optional(&map.location),
        lsoa_code: optional(&map.lsoa_code),
        falls_within: optional(&map.falls_within),
        outcome: optional(&map.outcome),
    })
}

/// What one file yielded.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: IncidentRows,
    pub rejects: Vec<Reject>,
    /// Data rows read (header excluded): always accepted + rejected.
    pub rows_read: u64,
    /// The file's physical lines, counted apart from the parser: header,
    /// blank, and the extra lines of records with a quoted line break, so
    /// `lines.read` always equals `lines.header + lines.blank + rows_read +
    /// lines.continuation` (and `wc -l`, plus one for a last line without
    /// a line ending).
    pub lines: LineCount,
    /// Said of a file that yielded no rows (empty, or a header alone).
    pub warning: Option<String>,
}

impl Parsed {
    /// Sets the warning for a file that yielded no rows.
    fn warn_if_empty(&mut self, bytes: usize) {
        if self.rows_read == 0 {
            self.warning = Some(if bytes == 0 {
                "empty file (0 bytes): no header and no rows".to_string()
            } else if self.lines.header == 0 {
                "no header and no rows (only blank lines)".to_string()
            } else {
                "a header and no rows".to_string()
            });
        }
    }
}

/// Validates one record's fields and appends it to the rows or the rejects.
struct RowBuilder<'m> {
    map: &'m ColumnMap,
    cols: Resolved,
    width: usize,
    file_id: u32,
    default_category: &'m str,
    /// Rows whose field count is not the header's.
    wrong_width: u64,
    /// The most common wrong field count, for the file-level error.
    widths: std::collections::BTreeMap<usize, u64>,
    out: Parsed,
}

impl RowBuilder<'_> {
    /// `fields` are the record's fields (untrimmed); `raw` its text without
    /// the line ending, starting at byte `start` of the file.
    fn push(&mut self, fields: &[&str], line: u32, start: usize, raw: &str) {
        let out = &mut self.out;
        let map = self.map;
        let cols = &self.cols;
        out.rows_read += 1;
        let file_id = self.file_id;
        let mut reject = |reason: RejectReason, detail: String| {
            out.rejects.push(Reject {
                file: file_id,
                line,
                reason,
                detail,
                raw: raw.trim_end_matches(['\r', '\n']).to_string(),
            })
        };
        if fields.len() != self.width {
            self.wrong_width += 1;
            *self.widths.entry(fields.len()).or_default() += 1;
            let detail = format!("{} fields, the header has {}", fields.len(), self.width);
            reject(RejectReason::MalformedRow, detail);
            return;
        }
        let field = |i: usize| fields[i].trim();
        let opt = |i: Option<usize>| i.map(field).unwrap_or("");
        // Month.
        let month_raw = field(cols.month);
        let Some(month) = crate::month::parse(month_raw) else {
            reject(RejectReason::MalformedMonth, format!("{}: {month_raw:?}", map.month));
            return;
        };
        // Crime type.
        let crime_type = match cols.crime_type {
            Some(i) => {
                let raw = field(i);
                if map.police_categories {
                    match crate::crime_types::canonical(raw) {
                        Some(c) => c,
                        None => {
                            let detail = format!("{}: {raw:?}", map.crime_type.as_deref().unwrap_or(""));
                            reject(RejectReason::UnknownCrimeType, detail);
                            return;
                        }
                    }
                } else if raw.is_empty() {
                    self.default_category
                } else {
                    raw
                }
            }
            None => self.default_category,
        };
        if crime_type.is_empty() {
            reject(RejectReason::UnknownCrimeType, "blank category".into());
            return;
        }
        // Coordinates.
        let (xs, ys) = (field(cols.x), field(cols.y));
        if xs.is_empty() || ys.is_empty() {
            reject(RejectReason::MissingCoordinates, format!("{}/{}: blank", map.x, map.y));
            return;
        }
        let (Ok(x), Ok(y)) = (xs.parse::<f64>(), ys.parse::<f64>()) else {
            let detail = format!("{}/{}: {xs:?}, {ys:?}", map.x, map.y);
            reject(RejectReason::MalformedCoordinates, detail);
            return;
        };
        let possible = match map.crs {
            Crs::Wgs84 => crate::crs::valid_lonlat(x, y),
            Crs::Bng => {
                x.is_finite() && y.is_finite() && (0.0..=800_000.0).contains(&x) && (0.0..=1_400_000.0).contains(&y)
            }
        };
        if !possible {
            let detail = format!("{}/{}: ({x}, {y}) out of range for {}", map.x, map.y, map.crs.epsg());
            reject(RejectReason::ImpossibleCoordinates, detail);
            return;
        }
        let rows = &mut out.rows;
        rows.file.push(file_id);
        rows.line.push(line);
        rows.raw_start.push(start as u32);
        rows.raw_len.push(raw.len() as u32);
        rows.crime_id.push(opt(cols.crime_id));
        rows.month.push(month);
        rows.crime_type.push(crime_type);
        rows.x.push(x);
        rows.y.push(y);
        rows.location.push(opt(cols.location));
        rows.lsoa_code.push(opt(cols.lsoa_code));
        rows.falls_within.push(opt(cols.falls_within));
        rows.outcome.push(opt(cols.outcome));
    }
}

/// Parses one decompressed CSV. `file_id` is the file's index in the ingest's
/// file table; `file` names it in errors.
///
/// Files without a double quote anywhere (every police.uk file seen so far)
/// take a fast path that splits lines and commas directly; any other file
/// goes through the `csv` crate's full RFC 4180 reader. Both give the same
/// rows, lines and rejects.
pub fn parse(bytes: &[u8], file_id: u32, file: &str, map: &ColumnMap) -> Result<Parsed, IngestError> {
    let len = bytes.len();
    let bytes = super::sources::strip_bom(bytes);
    let mut parsed = match std::str::from_utf8(bytes) {
        Ok(text) if memchr::memchr(b'"', bytes).is_none() => parse_unquoted(text, file_id, file, map),
        _ => parse_quoted(bytes, file_id, file, map),
    }?;
    parsed.warn_if_empty(len);
    Ok(parsed)
}

fn header_error(file: &str, message: String) -> IngestError {
    IngestError::Format {
        file: file.to_string(),
        line: 1,
        field: "header".into(),
        message,
    }
}

/// The fast path: no quoting, so a record is a line and fields are the text
/// between commas. Blank lines are skipped, as the `csv` reader does.
fn parse_unquoted(text: &str, file_id: u32, file: &str, map: &ColumnMap) -> Result<Parsed, IngestError> {
    let bytes = text.as_bytes();
    let mut builder: Option<RowBuilder> = None;
    let mut header_text = "";
    let mut lines = LineCount::default();
    let mut fields: Vec<&str> = Vec::with_capacity(32);
    let mut line = 0u32;
    let mut start = 0usize;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for end in ends {
        if start >= bytes.len() {
            break;
        }
        line += 1;
        lines.read += 1;
        let raw = text[start..end].trim_end_matches('\r');
        let row_start = start;
        start = end + 1;
        if raw.is_empty() {
            lines.blank += 1;
            continue;
        }
        fields.clear();
        // memchr's vectorised search: `str::split(',')` searched each field
        // separately (~4% of an ingest).
        let mut field_start = 0;
        for comma in memchr::memchr_iter(b',', raw.as_bytes()) {
            fields.push(&raw[field_start..comma]);
            field_start = comma + 1;
        }
        fields.push(&raw[field_start..]);
        match &mut builder {
            Some(b) => b.push(&fields, line, row_start, raw),
            None => {
                lines.header = 1;
                header_text = raw;
                let header = csv::ByteRecord::from(fields.clone());
                let cols = resolve(&header, map, file)?;
                let mut b = new_builder(map, cols, fields.len(), file_id);
                // One row per remaining line: reserve once instead of growing.
                let lines = memchr::memchr_iter(b'\n', &bytes[start.min(bytes.len())..]).count() + 1;
                b.out.rows.reserve(lines);
                builder = Some(b);
            }
        }
    }
    let mut parsed = match builder {
        Some(b) => b.finish(file, header_text)?,
        None => Parsed::default(),
    };
    parsed.lines = lines;
    Ok(parsed)
}

fn new_builder(map: &ColumnMap, cols: Resolved, width: usize, file_id: u32) -> RowBuilder<'_> {
    let mut out = Parsed::default();
    out.rows.bng = map.crs == Crs::Bng;
    RowBuilder {
        map,
        cols,
        width,
        file_id,
        default_category: map.default_category.as_deref().unwrap_or(""),
        wrong_width: 0,
        widths: Default::default(),
        out,
    }
}

impl RowBuilder<'_> {
    /// The file's rows, or a file-level error when most rows do not have
    /// the header's field count: then the header, not the rows, is wrong
    /// (a column name deleted or added), and thousands of rejects would
    /// hide that.
    fn finish(self, file: &str, header: &str) -> Result<Parsed, IngestError> {
        let read = self.out.rows_read;
        if read > 0 && self.wrong_width * 2 > read {
            let (common, _) = self.widths.iter().max_by_key(|(_, n)| **n).unwrap_or((&0, &0));
            return Err(header_error(
                file,
                format!(
                    "the header has {} columns but {} of {} rows do not (most have {}): the header does not match the rows (header: {})",
                    self.width,
                    self.wrong_width,
                    read,
                    common,
                    super::reject::excerpt(header, 200)
                ),
            ));
        }
        Ok(self.out)
    }
}

/// The most physical lines one record may span (a quoted field with line
/// breaks in it), and its most bytes: a quote that is never closed must
/// not swallow the rest of the file.
const MAX_RECORD_LINES: usize = 32;
const MAX_RECORD_BYTES: usize = 64 << 10;

/// Splits one record's bytes into fields, RFC 4180 style: a field that
/// starts with `"` is quoted (`""` inside is one `"`, and commas and line
/// breaks are text) up to its closing quote; anything after the closing
/// quote up to the next comma is kept as text, and a `"` that does not
/// start a field is text, as the `csv` crate reads them. When a quoted
/// field is still open at the end, `Err` holds its field number (from 1).
fn split_record(rec: &str) -> Result<Vec<std::borrow::Cow<'_, str>>, usize> {
    use std::borrow::Cow;
    let b = rec.as_bytes();
    let mut fields = Vec::with_capacity(16);
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut text = String::new();
            let mut j = i + 1;
            loop {
                let Some(q) = memchr::memchr(b'"', &b[j..]).map(|q| j + q) else {
                    return Err(fields.len() + 1);
                };
                text.push_str(&rec[j..q]);
                if b.get(q + 1) == Some(&b'"') {
                    text.push('"');
                    j = q + 2;
                } else {
                    j = q + 1;
                    break;
                }
            }
            let end = memchr::memchr(b',', &b[j..]).map_or(b.len(), |c| j + c);
            text.push_str(&rec[j..end]);
            fields.push(Cow::Owned(text));
            if end == b.len() {
                return Ok(fields);
            }
            i = end + 1;
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |c| i + c);
            fields.push(Cow::Borrowed(&rec[i..end]));
            if end == b.len() {
                return Ok(fields);
            }
            i = end + 1;
        }
    }
}

/// The general path, for files with double quotes or bytes that are not
/// UTF-8: line by line, so that damage stays on the line it is on.
///
/// A record is one line, unless a quoted field holds a line break: then it
/// runs on to the line where the quote closes, provided that is within
/// [`MAX_RECORD_LINES`] lines and [`MAX_RECORD_BYTES`], that no line on
/// the way is a complete row by itself, and that the record has the
/// header's field count. Otherwise the quote is a stray: that one line is
/// rejected as `malformed_row` and reading goes on with the next line. A
/// line that is not UTF-8 is rejected alone too.
fn parse_quoted(bytes: &[u8], file_id: u32, file: &str, map: &ColumnMap) -> Result<Parsed, IngestError> {
    // Every physical line: (start, end without the line ending).
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len())) {
        if start >= bytes.len() {
            break;
        }
        let mut end = nl;
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        lines.push((start, end));
        start = nl + 1;
    }
    let mut count = LineCount {
        read: lines.len() as u64,
        ..LineCount::default()
    };
    let text_of = |(s, e): (usize, usize)| std::str::from_utf8(&bytes[s..e]);
    // The header: the first line that is not blank.
    let Some(h) = lines.iter().position(|&(s, e)| s < e) else {
        count.blank = count.read;
        return Ok(Parsed {
            lines: count,
            ..Parsed::default()
        });
    };
    count.blank += h as u64;
    count.header = 1;
    let header_text = text_of(lines[h])
        .map_err(|_| header_error(file, "the header is not UTF-8 text: is this a CSV file?".into()))?;
    let header_fields = split_record(header_text).map_err(|_| {
        header_error(
            file,
            format!(
                "a double quote in the header is never closed: {}",
                super::reject::excerpt(header_text, 200)
            ),
        )
    })?;
    let header = ByteRecord::from(header_fields.iter().map(|f| f.as_ref()).collect::<Vec<&str>>());
    let cols = resolve(&header, map, file)?;
    let width = header.len();
    let mut b = new_builder(map, cols, width, file_id);
    // A line that is a complete row by itself: closes every quote and has
    // the header's field count.
    let whole_row = |l: (usize, usize)| {
        text_of(l)
            .ok()
            .and_then(|t| split_record(t).ok())
            .is_some_and(|f| f.len() == width)
    };
    let mut i = h + 1;
    while i < lines.len() {
        let (s, e) = lines[i];
        let line = (i + 1) as u32;
        i += 1;
        if s == e {
            count.blank += 1;
            continue;
        }
        let reject = |b: &mut RowBuilder, detail: String| {
            b.out.rows_read += 1;
            b.out.rejects.push(Reject {
                file: file_id,
                line,
                reason: RejectReason::MalformedRow,
                detail,
                raw: String::from_utf8_lossy(&bytes[s..e]).into_owned(),
            });
        };
        let Ok(text) = text_of((s, e)) else {
            reject(&mut b, "not valid UTF-8".into());
            continue;
        };
        let open_field = match split_record(text) {
            Ok(fields) => {
                let fields: Vec<&str> = fields.iter().map(|f| f.as_ref()).collect();
                b.push(&fields, line, s, text);
                continue;
            }
            Err(k) => k,
        };
        // A quoted field is open at the end of the line: a line break in a
        // quoted field, or a stray quote.
        let mut taken = None;
        let mut j = i;
        while j < lines.len() && j + 1 - (i - 1) <= MAX_RECORD_LINES && lines[j].1 - s <= MAX_RECORD_BYTES {
            if whole_row(lines[j]) {
                break;
            }
            let Ok(rec) = std::str::from_utf8(&bytes[s..lines[j].1]) else {
                break;
            };
            if let Ok(fields) = split_record(rec) {
                if fields.len() == width {
                    taken = Some((j, rec, fields));
                }
                break;
            }
            j += 1;
        }
        match taken {
            Some((last, rec, fields)) => {
                count.continuation += (last + 1 - i) as u64;
                i = last + 1;
                let fields: Vec<&str> = fields.iter().map(|f| f.as_ref()).collect();
                b.push(&fields, line, s, rec);
            }
            None => reject(
                &mut b,
                format!(
                    "the double quote that opens field {open_field} is never closed (only this line is rejected): {}",
                    super::reject::excerpt(text, 120)
                ),
            ),
        }
    }
    let mut parsed = b.finish(file, header_text)?;
    parsed.lines = count;
    Ok(parsed)
}

/// The raw text of a row, without line endings.
pub fn raw_text(bytes: &[u8], start: usize, end: usize) -> String {
    let end = end.min(bytes.len());
    let start = start.min(end);
    String::from_utf8_lossy(&bytes[start..end])
        .trim_matches(['\r', '\n'])
        .to_string()
}

/// Turns the csv reader's byte positions into record starts and 1-based
/// line numbers. (With CRLF the reader leaves the `\n` of a record's ending
/// to the next record, so its own line counter lags; we count ourselves.)
#[derive(Debug)]
pub struct LineCounter {
    pos: usize,
    line: u32,
}

impl Default for LineCounter {
    fn default() -> Self {
        LineCounter { pos: 0, line: 1 }
    }
}

impl LineCounter {
    /// The start of the record at or after `pos` (skipping a leftover line
    /// ending) and its line number. Positions must not go backwards.
    pub fn record_start(&mut self, bytes: &[u8], pos: usize) -> (usize, u32) {
        let mut start = pos.min(bytes.len());
        while start < bytes.len() && (bytes[start] == b'\n' || bytes[start] == b'\r') {
            start += 1;
        }
        if start >= self.pos {
            self.line += memchr::memchr_iter(b'\n', &bytes[self.pos..start]).count() as u32;
            self.pos = start;
        }
        (start, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICE: &str = ",Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r\n\
        13,abc,2013-12,Met,Met,0.13586,51.588442,On or near Hazel Grove,E01000027,B 001A,Burglary,Under investigation,\r\n\
        14,def,2013-12,Met,Met,,,No Location,,,Burglary,Under investigation,\r\n\
        15,ghi,2013-13,Met,Met,0.1,51.5,On or near X,E01,B,Burglary,,\r\n\
        16,jkl,2013-12,Met,Met,0.1,51.5,On or near X,E01,B,Burglery,,\r\n\
        17,mno,2013-12,Met,Met,abc,51.5,On or near X,E01,B,Burglary,,\r\n\
        18,pqr,2013-12,Met,Met,0.1,51.5\r\n";

    #[test]
    fn police_csv_with_index_column_crlf_and_bom() {
        let text = format!("\u{feff}{POLICE}");
        let p = parse(text.as_bytes(), 7, "t.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!(p.rows_read, 6);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows.crime_id.key(0).unwrap().to_string(), "abc");
        assert_eq!(p.rows.x[0], 0.13586);
        assert_eq!(p.rows.line[0], 2);
        assert_eq!(p.rows.file[0], 7);
        let reasons: Vec<_> = p.rejects.iter().map(|r| (r.line, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (3, RejectReason::MissingCoordinates),
                (4, RejectReason::MalformedMonth),
                (5, RejectReason::UnknownCrimeType),
                (6, RejectReason::MalformedCoordinates),
                (7, RejectReason::MalformedRow),
            ]
        );
        assert_eq!(
            p.rejects[0].raw,
            "14,def,2013-12,Met,Met,,,No Location,,,Burglary,Under investigation,"
        );
        // The raw range of an accepted row points at its text.
        let (s, l) = (p.rows.raw_start[0] as usize, p.rows.raw_len[0] as usize);
        assert!(raw_text(text.as_bytes(), s + 3, s + 3 + l).starts_with("13,abc"));
    }

    #[test]
    fn missing_column_names_file_line_and_field() {
        let err = parse(b"Crime ID,Month,Latitude\n", 0, "x.csv", &ColumnMap::police_uk())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.csv") && err.contains("line 1") && err.contains("Longitude"),
            "{err}"
        );
    }

    #[test]
    fn fast_and_general_paths_agree() {
        let text = format!("\u{feff}{POLICE}\r\n\r\n19,stu,2014-01,Met,Met,-0.1,51.5,On or near Y,E02,C,Robbery,,");
        let bytes = sources_strip(text.as_bytes());
        let fast = parse_unquoted(std::str::from_utf8(bytes).unwrap(), 3, "t.csv", &ColumnMap::police_uk()).unwrap();
        let general = parse_quoted(bytes, 3, "t.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!(fast.rows_read, general.rows_read);
        assert_eq!(fast.rows_read, 7);
        assert_eq!(fast.rejects, general.rejects);
        let (f, g) = (&fast.rows, &general.rows);
        assert_eq!((f.line.clone(), g.line.clone()), (vec![2, 10], vec![2, 10]));
        assert_eq!(f.raw_start, g.raw_start);
        assert_eq!(f.raw_len, g.raw_len);
        assert_eq!(f.x, g.x);
        for r in 0..f.len() {
            assert_eq!(f.crime_id.key(r), g.crime_id.key(r));
            assert_eq!(f.crime_type.get(r), g.crime_type.get(r));
            assert_eq!(f.location.get(r), g.location.get(r));
            assert_eq!(f.outcome.get(r), g.outcome.get(r));
        }
    }

    #[test]
    fn quoted_fields_take_the_general_path() {
        let text = "Crime ID,Month,Longitude,Latitude,Location,Crime type\n\
            a,2024-01,-0.1,51.5,\"On or near High St, Flat 2\",Burglary\n";
        let p = parse(text.as_bytes(), 0, "q.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows.location.get(0), "On or near High St, Flat 2");
    }

    /// A police.uk-style file of `n` good rows, CRLF.
    fn rows(n: usize) -> String {
        let mut t = String::from("Crime ID,Month,Longitude,Latitude,Location,Crime type\r\n");
        for i in 0..n {
            t.push_str(&format!("id{i},2024-01,-0.1,51.5,On or near Street {i},Burglary\r\n"));
        }
        t
    }

    #[test]
    fn a_stray_quote_costs_one_line_wherever_it_is() {
        let n = 50;
        let good = rows(n);
        for line in [2usize, 26, n + 1] {
            let text: String = good
                .split_inclusive('\n')
                .enumerate()
                .map(|(i, l)| {
                    if i + 1 == line {
                        l.replacen("On or near", "\"On or near", 1)
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            let p = parse(text.as_bytes(), 0, "q.csv", &ColumnMap::police_uk()).unwrap();
            assert_eq!(p.rows_read, n as u64, "quote on line {line}");
            assert_eq!(p.rows.len(), n - 1);
            assert_eq!(p.rejects.len(), 1);
            let r = &p.rejects[0];
            assert_eq!((r.line, r.reason), (line as u32, RejectReason::MalformedRow));
            assert!(
                r.raw.starts_with(&format!("id{}", line - 2)) && !r.raw.contains('\n'),
                "{}",
                r.raw
            );
            assert!(r.detail.contains("field 5"), "{}", r.detail);
            assert_eq!(p.lines.read, n as u64 + 1);
            assert_eq!(
                p.lines.read,
                p.lines.header + p.lines.blank + p.lines.continuation + p.rows_read
            );
        }
    }

    #[test]
    fn a_quoted_line_break_makes_one_record_of_two_lines() {
        let text = "Crime ID,Month,Longitude,Latitude,Location,Crime type\n\
            a,2024-01,-0.1,51.5,\"Flat 2\nHigh St\",Burglary\n\
            \n\
            b,2024-01,-0.1,51.5,\"say \"\"hi\"\"\",Burglary\n";
        let p = parse(text.as_bytes(), 0, "m.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!(p.rows.len(), 2, "{:?}", p.rejects);
        assert_eq!(p.rows.location.get(0), "Flat 2\nHigh St");
        assert_eq!(p.rows.location.get(1), "say \"hi\"");
        assert_eq!(p.rows.line, vec![2, 5]);
        let l = p.lines;
        assert_eq!((l.read, l.header, l.blank, l.continuation), (5, 1, 1, 1));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_rejected_alone() {
        let mut text = rows(3).into_bytes();
        let second = text.iter().position(|b| *b == b'\n').unwrap() + 5;
        text.insert(second, 0xFF);
        let p = parse(&text, 0, "u.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!((p.rows_read, p.rows.len()), (3, 2));
        assert_eq!(p.rejects[0].detail, "not valid UTF-8");
        assert_eq!(p.rejects[0].line, 2);
    }

    #[test]
    fn a_header_that_fits_no_row_is_a_file_error() {
        let text = rows(10).replacen(",Location", "", 1);
        let err = parse(text.as_bytes(), 0, "h.csv", &ColumnMap::police_uk())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("h.csv, line 1") && err.contains("header has 5 columns") && err.contains("most have 6"),
            "{err}"
        );
    }

    #[test]
    fn empty_files_yield_no_rows_and_a_warning() {
        let p = parse(b"", 0, "e.csv", &ColumnMap::police_uk()).unwrap();
        assert_eq!((p.rows_read, p.lines.read), (0, 0));
        assert!(p.warning.unwrap().contains("0 bytes"));
        let p = parse(
            b"Crime ID,Month,Longitude,Latitude,Crime type\n\n",
            0,
            "h.csv",
            &ColumnMap::police_uk(),
        )
        .unwrap();
        assert_eq!((p.lines.read, p.lines.header, p.lines.blank), (2, 1, 1));
        assert_eq!(p.warning.as_deref(), Some("a header and no rows"));
    }

    fn sources_strip(b: &[u8]) -> &[u8] {
        super::super::sources::strip_bom(b)
    }
}
