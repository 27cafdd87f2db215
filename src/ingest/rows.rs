//! Column-oriented buffers for parsed rows: one allocation per column, not
//! one per row, and repetitive text (crime type, location, LSOA, outcome)
//! stored once per distinct value, so 750k incidents cost tens of megabytes.

use hashbrown::HashTable;

/// A column of optional strings stored in one buffer (empty = absent).
#[derive(Debug, Default, Clone)]
pub struct StrCol {
    data: String,
    ends: Vec<u32>,
}

impl StrCol {
    pub fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.ends.push(self.data.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The i-th value ("" when absent).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The i-th value, `None` when empty.
    #[inline]
    pub fn get_opt(&self, i: usize) -> Option<&str> {
        Some(self.get(i)).filter(|s| !s.is_empty())
    }
}

/// A crime id, borrowed from an [`IdCol`]: police.uk's 64-hex-digit ids
/// packed in 32 bytes, any other id as text. Equal ids have equal keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKey<'a> {
    Hex(&'a [u8; 32]),
    Text(&'a str),
}

impl std::fmt::Display for IdKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdKey::Hex(b) => {
                let mut buf = [0u8; 64];
                f.write_str(hex_digits(b, &mut buf))
            }
            IdKey::Text(s) => f.write_str(s),
        }
    }
}

/// Lowercase hex digits of `bytes`, written into `buf`.
fn hex_digits<'b>(bytes: &[u8; 32], buf: &'b mut [u8; 64]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    std::str::from_utf8(buf).expect("hex digits are ASCII")
}

/// Crime ids: the 64 lowercase hex digits of police.uk ids packed into 32
/// bytes (half the memory of the text), other ids kept as text, blank ids
/// (ASB, BTP) as absent.
#[derive(Debug, Default, Clone)]
pub struct IdCol {
    /// Per row: an index into `hex`, or [`TEXT`] plus an index into `text`,
    /// or [`BLANK`].
    slot: Vec<u32>,
    hex: Vec<[u8; 32]>,
    text: StrCol,
}

const TEXT: u32 = 1 << 31;
const BLANK: u32 = u32::MAX;

/// Hex digit values of lowercase hex digits; 0xFF for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn pack_hex(s: &str) -> Option<[u8; 32]> {
    let b: &[u8; 64] = s.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (i, o) in out.iter_mut().enumerate() {
        let (hi, lo) = (HEX_VALUE[b[2 * i] as usize], HEX_VALUE[b[2 * i + 1] as usize]);
        // Valid digits are < 16, so any 0xFF sets the high bit.
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 15);
    }
    (bad < 16).then_some(out)
}

impl IdCol {
    pub fn push(&mut self, s: &str) {
        let slot = if s.is_empty() {
            BLANK
        } else if let Some(h) = pack_hex(s) {
            self.hex.push(h);
            self.hex.len() as u32 - 1
        } else {
            self.text.push(s);
            TEXT | (self.text.len() as u32 - 1)
        };
        self.slot.push(slot);
    }

    pub fn reserve(&mut self, rows: usize) {
        self.slot.reserve(rows);
        self.hex.reserve(rows);
    }

    /// Frees the per-row slots' spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.slot.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.slot.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    /// The i-th id, `None` when blank.
    #[inline]
    pub fn key(&self, i: usize) -> Option<IdKey<'_>> {
        match self.slot[i] {
            BLANK => None,
            s if s & TEXT != 0 => Some(IdKey::Text(self.text.get((s & !TEXT) as usize))),
            s => Some(IdKey::Hex(&self.hex[s as usize])),
        }
    }

    /// The i-th id as text (hex digits written into `buf`), `None` when blank.
    #[inline]
    pub fn text<'s>(&'s self, i: usize, buf: &'s mut [u8; 64]) -> Option<&'s str> {
        match self.key(i)? {
            IdKey::Hex(h) => Some(hex_digits(h, buf)),
            IdKey::Text(t) => Some(t),
        }
    }

    /// Keeps the ids where `keep` is true, in order. (The dropped rows'
    /// packed or text ids stay in the buffers, unreferenced: few rows are
    /// ever dropped.)
    pub fn retain(&mut self, keep: &[bool]) {
        retain_by(&mut self.slot, keep);
    }
}

/// Keeps the items of `v` where `keep` is true, in order (`v` of another
/// length, e.g. an empty `api_id`, is left as it is).
fn retain_by<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
    if v.len() == keep.len() {
        let mut k = keep.iter();
        v.retain(|_| *k.next().unwrap_or(&false));
    }
}

/// A string column stored as codes into its distinct values (dictionary
/// encoding). Code 0 is always the empty string (absent).
#[derive(Debug, Clone)]
pub struct CodedCol {
    values: StrCol,
    lookup: HashTable<u32>,
    pub codes: Vec<u32>,
}

impl Default for CodedCol {
    fn default() -> Self {
        let mut c = CodedCol {
            values: StrCol::default(),
            lookup: HashTable::new(),
            codes: Vec::new(),
        };
        c.intern("");
        c
    }
}

#[inline]
fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl CodedCol {
    /// The code of `s`, adding it to the distinct values if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if self.lookup.len() < self.values.len() {
            self.rebuild_lookup();
        }
        let h = hash_str(s);
        let values = &self.values;
        if let Some(&code) = self.lookup.find(h, |&c| values.get(c as usize) == s) {
            return code;
        }
        let code = self.values.len() as u32;
        self.values.push(s);
        let values = &self.values;
        self.lookup
            .insert_unique(h, code, |&c| hash_str(values.get(c as usize)));
        code
    }

    /// Frees the lookup table that [`CodedCol::intern`] uses (a parsed
    /// file's columns are read, not added to, from then on; an intern after
    /// this rebuilds it) and the codes' spare capacity.
    pub fn compact(&mut self) {
        self.lookup = HashTable::new();
        self.codes.shrink_to_fit();
    }

    fn rebuild_lookup(&mut self) {
        let values = &self.values;
        let mut lookup = HashTable::with_capacity(values.len());
        for code in 0..values.len() as u32 {
            lookup.insert_unique(hash_str(values.get(code as usize)), code, |&c| {
                hash_str(values.get(c as usize))
            });
        }
        self.lookup = lookup;
    }

    pub fn push(&mut self, s: &str) {
        // police.uk files are sorted by LSOA: a value often repeats the last.
        let code = match self.codes.last() {
            Some(&last) if self.values.get(last as usize) == s => last,
            _ => self.intern(s),
        };
        self.codes.push(code);
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The i-th value ("" when absent).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        self.values.get(self.codes[i] as usize)
    }

    /// The i-th value, `None` when empty.
    #[inline]
    pub fn get_opt(&self, i: usize) -> Option<&str> {
        Some(self.get(i)).filter(|s| !s.is_empty())
    }

    /// The distinct values, by code.
    pub fn values(&self) -> &StrCol {
        &self.values
    }
}

/// Incident rows from one source file.
///
/// Parsers fill the raw fields: `x`/`y` are longitude/latitude (WGS84
/// degrees) or, when `bng` is set, easting/northing (BNG metres).
/// [`super::locate`] then sets `point`, the row's distinct located map
/// point (projected coordinates, ward, nearest school and station), and
/// drops `x`/`y`. `month` is a month number, see [`crate::month`].
#[derive(Debug, Default, Clone)]
pub struct IncidentRows {
    /// Whether `x`/`y` are BNG metres (else WGS84 degrees).
    pub bng: bool,
    /// Member of the source file (0 for a plain file; the JSON file's
    /// position in an archive); the pipeline maps it to the file table.
    pub file: Vec<u32>,
    /// 1-based line in the file (CSV) or record number in the member (JSON).
    pub line: Vec<u32>,
    /// Byte range of the raw row in the decompressed file or member (after a
    /// BOM), so a row rejected later (a cross-file duplicate) is kept verbatim.
    pub raw_start: Vec<u32>,
    pub raw_len: Vec<u32>,
    /// police.uk Crime ID (the API's `persistent_id`); blank for ASB and BTP.
    pub crime_id: IdCol,
    /// The API's numeric id (-1 for none); empty for CSV sources.
    pub api_id: Vec<i64>,
    pub month: Vec<u32>,
    pub crime_type: CodedCol,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub location: CodedCol,
    pub lsoa_code: CodedCol,
    pub falls_within: CodedCol,
    pub outcome: CodedCol,
    /// Filled by [`super::locate`]: the located point's id in the locator.
    pub point: Vec<u32>,
}

impl IncidentRows {
    /// The dictionary-encoded text columns.
    fn coded_mut(&mut self) -> [&mut CodedCol; 5] {
        [
            &mut self.crime_type,
            &mut self.location,
            &mut self.lsoa_code,
            &mut self.falls_within,
            &mut self.outcome,
        ]
    }

    /// Reserves room for `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.file.reserve(rows);
        self.line.reserve(rows);
        self.raw_start.reserve(rows);
        self.raw_len.reserve(rows);
        self.crime_id.reserve(rows);
        self.month.reserve(rows);
        self.x.reserve(rows);
        self.y.reserve(rows);
        for c in self.coded_mut() {
            c.codes.reserve(rows);
        }
    }

    pub fn len(&self) -> usize {
        self.line.len()
    }

    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// The API's id of row `r`, if any.
    pub fn api_id(&self, r: usize) -> Option<i64> {
        self.api_id.get(r).copied().filter(|v| *v >= 0)
    }

    /// Frees what only parsing needs (the coded columns' lookup tables) and
    /// the spare capacity of the columns kept until the dataset is written.
    /// (The byte ranges are not shrunk: [`IncidentRows::drop_raw_ranges`]
    /// frees them soon after.)
    pub fn compact(&mut self) {
        for v in [&mut self.file, &mut self.line, &mut self.month, &mut self.point] {
            v.shrink_to_fit();
        }
        self.crime_id.shrink_to_fit();
        self.api_id.shrink_to_fit();
        for c in self.coded_mut() {
            c.compact();
        }
    }

    /// Frees the rows' byte ranges in their file, once no row can be rejected
    /// any more (they give a late reject its raw row).
    pub fn drop_raw_ranges(&mut self) {
        self.raw_start = Vec::new();
        self.raw_len = Vec::new();
    }

    /// Keeps the rows where `keep` is true, in order.
    pub fn retain(&mut self, keep: &[bool]) {
        retain_by(&mut self.file, keep);
        retain_by(&mut self.line, keep);
        retain_by(&mut self.raw_start, keep);
        retain_by(&mut self.raw_len, keep);
        self.crime_id.retain(keep);
        retain_by(&mut self.api_id, keep);
        retain_by(&mut self.month, keep);
        retain_by(&mut self.x, keep);
        retain_by(&mut self.y, keep);
        retain_by(&mut self.point, keep);
        for c in self.coded_mut() {
            retain_by(&mut c.codes, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_column_interns_and_keeps_order() {
        let mut c = CodedCol::default();
        for s in ["b", "", "a", "b", "a", "c"] {
            c.push(s);
        }
        let back: Vec<&str> = (0..c.len()).map(|i| c.get(i)).collect();
        assert_eq!(back, ["b", "", "a", "b", "a", "c"]);
        assert_eq!(c.values().len(), 4, "'' + three distinct values");
        assert_eq!(c.get_opt(1), None);
        assert_eq!(c.codes[0], c.codes[3]);
    }

    #[test]
    fn a_compacted_column_reads_the_same_and_still_interns() {
        let mut c = CodedCol::default();
        for s in ["b", "a", "b"] {
            c.push(s);
        }
        c.compact();
        assert_eq!((0..c.len()).map(|i| c.get(i)).collect::<Vec<_>>(), ["b", "a", "b"]);
        // Interning again rebuilds the lookup: old values keep their codes.
        assert_eq!(c.intern("a"), c.codes[1]);
        assert_eq!(c.intern("b"), c.codes[0]);
        assert_eq!(c.intern("d"), 3, "'' a b, then d");
        assert_eq!(c.values().len(), 4);
    }

    #[test]
    fn police_ids_pack_into_32_bytes_and_print_back() {
        let id = "16846f15e7754549b13beae294b5b7f9e3fc108578fc18d176376da27689e9b9";
        let mut c = IdCol::default();
        for s in [id, "", "ABC", &id.to_uppercase()] {
            c.push(s);
        }
        assert!(matches!(c.key(0), Some(IdKey::Hex(_))));
        assert_eq!(c.key(0).unwrap().to_string(), id);
        assert_eq!(c.key(1), None);
        assert_eq!(c.key(2), Some(IdKey::Text("ABC")));
        assert!(matches!(c.key(3), Some(IdKey::Text(_))), "uppercase stays text");
        let mut buf = [0u8; 64];
        assert_eq!(c.text(0, &mut buf), Some(id));
        c.retain(&[true, false, true, false]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.key(0).unwrap().to_string(), id);
        assert_eq!(c.key(1), Some(IdKey::Text("ABC")));
    }

    #[test]
    fn retain_keeps_columns_aligned() {
        let mut r = IncidentRows::default();
        for i in 0..4u32 {
            r.file.push(0);
            r.line.push(i + 2);
            r.raw_start.push(i);
            r.raw_len.push(1);
            r.crime_id.push(&format!("id{i}"));
            r.month.push(i);
            r.crime_type.push(if i % 2 == 0 { "Burglary" } else { "Robbery" });
            r.x.push(i as f64);
            r.y.push(i as f64);
            r.location.push("");
            r.lsoa_code.push("");
            r.falls_within.push("");
            r.outcome.push("");
            r.point.push(i);
        }
        r.retain(&[true, false, false, true]);
        assert_eq!(r.len(), 2);
        assert_eq!(r.crime_id.key(0).unwrap().to_string(), "id0");
        assert_eq!(r.crime_id.key(1), Some(IdKey::Text("id3")));
        assert_eq!(r.crime_type.get(1), "Robbery");
        assert_eq!(r.point, vec![0, 3]);
    }
}
