//! Column-oriented buffers for parsed rows: one allocation per column, not
//! one per row, so 750k incidents cost tens of megabytes, not hundreds.

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

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Incident rows as parsed from one source file, before the spatial join.
///
/// Coordinates are WGS84 lon/lat degrees as published; `month` is a month
/// number (`year * 12 + month - 1`), see [`crate::month`].
#[derive(Debug, Default, Clone)]
pub struct IncidentRows {
    /// Index into the ingest's file table (the file or archive member).
    pub file: Vec<u32>,
    /// 1-based line in the file (CSV) or record number in the member (JSON).
    pub line: Vec<u32>,
    /// Byte range of the raw row in the decompressed file or member, so a
    /// row rejected later (a cross-source duplicate) can be kept verbatim.
    pub raw_start: Vec<u32>,
    pub raw_len: Vec<u32>,
    /// police.uk Crime ID (the API's `persistent_id`); empty for ASB and BTP.
    pub crime_id: StrCol,
    /// The API's numeric id, or -1.
    pub api_id: Vec<i64>,
    pub month: Vec<u32>,
    pub crime_type: StrCol,
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    /// When the source gave BNG metres directly (generic CSV in EPSG:27700).
    pub bng: Option<Vec<[f64; 2]>>,
    pub location: StrCol,
    pub lsoa_code: StrCol,
    pub falls_within: StrCol,
    pub outcome: StrCol,
}

impl IncidentRows {
    pub fn len(&self) -> usize {
        self.line.len()
    }

    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }
}
