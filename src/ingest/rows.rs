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

/// Incident rows from one source file.
///
/// Parsers fill the raw fields: `lon`/`lat` (WGS84 degrees) for WGS84
/// sources or `easting_m`/`northing_m` (BNG metres) for BNG ones, the other
/// pair NaN. [`super::locate`] then fills both pairs and the ward and
/// nearest-POI columns. `month` is a month number, see [`crate::month`].
#[derive(Debug, Default, Clone)]
pub struct IncidentRows {
    /// Member of the source file (0 for a plain file; the JSON file's
    /// position in an archive); the pipeline maps it to the file table.
    pub file: Vec<u32>,
    /// 1-based line in the file (CSV) or record number in the member (JSON).
    pub line: Vec<u32>,
    /// Byte range of the raw row in the decompressed file or member (after a
    /// BOM), so a row rejected later (a cross-file duplicate) is kept verbatim.
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
    pub easting_m: Vec<f64>,
    pub northing_m: Vec<f64>,
    pub location: StrCol,
    pub lsoa_code: StrCol,
    pub falls_within: StrCol,
    pub outcome: StrCol,
    /// Filled by [`super::locate`]: ward index, nearest school and station
    /// (index, or `u32::MAX` when there are none) and distances in metres.
    pub ward: Vec<u32>,
    pub school: Vec<u32>,
    pub school_m: Vec<f64>,
    pub station: Vec<u32>,
    pub station_m: Vec<f64>,
}

impl IncidentRows {
    pub fn len(&self) -> usize {
        self.line.len()
    }

    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// Keeps the rows where `keep` is true, in order.
    pub fn retain(&mut self, keep: &[bool]) {
        fn vec<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
            if v.len() == keep.len() {
                let mut i = 0;
                v.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
            }
        }
        fn strs(c: &mut StrCol, keep: &[bool]) {
            let mut out = StrCol::default();
            for (i, k) in keep.iter().enumerate() {
                if *k {
                    out.push(c.get(i));
                }
            }
            *c = out;
        }
        vec(&mut self.file, keep);
        vec(&mut self.line, keep);
        vec(&mut self.raw_start, keep);
        vec(&mut self.raw_len, keep);
        strs(&mut self.crime_id, keep);
        vec(&mut self.api_id, keep);
        vec(&mut self.month, keep);
        strs(&mut self.crime_type, keep);
        vec(&mut self.lon, keep);
        vec(&mut self.lat, keep);
        vec(&mut self.easting_m, keep);
        vec(&mut self.northing_m, keep);
        strs(&mut self.location, keep);
        strs(&mut self.lsoa_code, keep);
        strs(&mut self.falls_within, keep);
        strs(&mut self.outcome, keep);
        vec(&mut self.ward, keep);
        vec(&mut self.school, keep);
        vec(&mut self.school_m, keep);
        vec(&mut self.station, keep);
        vec(&mut self.station_m, keep);
    }
}
