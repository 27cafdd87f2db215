//! De-duplication by crime id across files, in config order: the first row
//! wins. (Repeats within a file were rejected while parsing.) Rows with a
//! blank id (anti-social behaviour, BTP) are never duplicates.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::read::{column_map, Content, ParsedFile};
use super::reject::{Reject, RejectReason};
use super::{csv_incidents, police_api, sources, IngestError};
use crate::config::{IncidentFormat, IncidentSource};

/// The rows whose crime id an earlier row already had, as ((file, row) of
/// the first, (file, row) of the repeat), in file and row order. Earlier
/// means in file order (config order), then row order; blank ids are never
/// repeats.
///
/// Ids are split by hash into four shards de-duplicated in parallel (each
/// shard's table small enough to stay in cache), and hashed once: 20-27 ms
/// for the Met burglaries' 728k ids, where one table of every id took about
/// twice that (two shards or sixteen were slower).
pub fn repeats_across_files(files: &[ParsedFile]) -> Vec<((usize, usize), (usize, usize))> {
    use std::hash::BuildHasher;
    const SHARD_BITS: u32 = 2;
    const NONE: u64 = u64::MAX;
    let hasher = rustc_hash::FxBuildHasher;
    // Per file, per row: the hash of its id (NONE for none; an id hashing to
    // NONE is moved next to it).
    let hashes: Vec<Vec<u64>> = files
        .par_iter()
        .map(|f| {
            (0..f.len())
                .map(|r| f.crime_id(r).map_or(NONE, |id| hasher.hash_one(id).min(NONE - 1)))
                .collect()
        })
        .collect();
    let total: usize = files.iter().map(|f| f.len()).sum();
    let id = |(fi, r): (u32, u32)| files[fi as usize].crime_id(r as usize);
    let mut repeats: Vec<_> = (0..1u64 << SHARD_BITS)
        .into_par_iter()
        .flat_map_iter(|s| {
            // (file, row) of each id's first row, found by the id's hash.
            let mut first: hashbrown::HashTable<(u32, u32)> =
                hashbrown::HashTable::with_capacity((total >> SHARD_BITS) * 9 / 8);
            let mut repeats = Vec::new();
            for (fi, hs) in hashes.iter().enumerate() {
                for (r, &h) in hs.iter().enumerate() {
                    if h == NONE || h >> (64 - SHARD_BITS) != s {
                        continue;
                    }
                    let at = (fi as u32, r as u32);
                    let this = id(at);
                    match first.entry(
                        h,
                        |&other| id(other) == this,
                        |&other| hashes[other.0 as usize][other.1 as usize],
                    ) {
                        hashbrown::hash_table::Entry::Occupied(e) => {
                            let (ffi, rr) = *e.get();
                            repeats.push(((ffi as usize, rr as usize), (fi, r)));
                        }
                        hashbrown::hash_table::Entry::Vacant(v) => {
                            v.insert(at);
                        }
                    }
                }
            }
            repeats
        })
        .collect();
    repeats.sort_unstable_by_key(|(_, at)| *at);
    repeats
}

/// Builds the rejects found after parsing (duplicates across files) with
/// their raw rows, re-reading the file once if needed.
pub fn late_rejects_for(
    f: &ParsedFile,
    src: &IncidentSource,
    items: &[(usize, RejectReason, String)],
) -> Result<Vec<Reject>, IngestError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let name = f.file.path.display().to_string();
    let stored = sources::read(&f.file.path)?;
    let members: Vec<Vec<u8>> = if f.members.len() == 1 && f.members[0].is_empty() {
        vec![sources::decompress(stored, &name)?]
    } else {
        police_api::members(stored, &name)?
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    };
    let raw_of = |member: u32, start: u32, len: u32| {
        let data = sources::strip_bom(&members[member as usize]);
        csv_incidents::raw_text(data, start as usize, (start + len) as usize)
    };
    // A reused file has no byte ranges: parse it again to find them.
    let reparsed;
    let rows = match &f.content {
        Content::Fresh(p) => &p.rows,
        Content::Reused(_) => {
            reparsed = match src.format {
                IncidentFormat::PoliceUkApiJson => {
                    let named: Vec<(String, Vec<u8>)> =
                        f.members.iter().cloned().zip(members.iter().cloned()).collect();
                    police_api::parse(&named)
                }
                IncidentFormat::PoliceUkCsv | IncidentFormat::Csv => {
                    csv_incidents::parse(&members[0], 0, &name, &column_map(src))?
                }
            };
            &reparsed.rows
        }
    };
    let by_place: FxHashMap<(u32, u32), usize> = match &f.content {
        Content::Fresh(_) => FxHashMap::default(),
        Content::Reused(_) => (0..rows.len()).map(|r| ((rows.file[r], rows.line[r]), r)).collect(),
    };
    Ok(items
        .iter()
        .map(|(r, reason, detail)| {
            let (member, line) = f.place(*r);
            let raw = match &f.content {
                Content::Fresh(_) => raw_of(member, rows.raw_start[*r], rows.raw_len[*r]),
                Content::Reused(_) => by_place
                    .get(&(member, line))
                    .map(|&k| raw_of(member, rows.raw_start[k], rows.raw_len[k]))
                    .unwrap_or_default(),
            };
            Reject {
                file: member,
                line,
                reason: *reason,
                detail: detail.clone(),
                raw,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::csv_incidents::Parsed;

    /// A parsed file whose rows have these crime ids ("" for blank).
    fn file_with_ids(ids: &[&str]) -> ParsedFile {
        let mut parsed = Parsed::default();
        for (i, id) in ids.iter().enumerate() {
            parsed.rows.crime_id.push(id);
            parsed.rows.file.push(0);
            parsed.rows.line.push(i as u32 + 2);
        }
        ParsedFile {
            source: 0,
            file: sources::SourceFile {
                path: "f.csv".into(),
                rel: "f.csv".into(),
            },
            sha256: String::new(),
            bytes: 0,
            members: vec![String::new()],
            content: Content::Fresh(Box::new(parsed)),
        }
    }

    #[test]
    fn repeats_across_files_point_at_the_first_row_in_file_order() {
        let hex = |c: char| c.to_string().repeat(64);
        let (a, b, c) = (hex('a'), hex('b'), hex('c'));
        let files = [
            file_with_ids(&[&a, "", &b, "x1"]),
            file_with_ids(&["", &b, &c, &a]),
            file_with_ids(&[&c, "x1", "", &a]),
        ];
        let repeats = repeats_across_files(&files);
        assert_eq!(
            repeats,
            [
                ((0, 2), (1, 1)), // b
                ((0, 0), (1, 3)), // a
                ((1, 2), (2, 0)), // c, first seen in the second file
                ((0, 3), (2, 1)), // a text id
                ((0, 0), (2, 3)), // a again: still the very first row
            ],
            "blank ids are never repeats"
        );
        // Many ids, spread over every shard: each repeat found once.
        let ids: Vec<String> = (0..5000).map(|i| format!("{i:064x}")).collect();
        let refs: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
        let files = [file_with_ids(&refs), file_with_ids(&refs[2500..])];
        let repeats = repeats_across_files(&files);
        assert_eq!(repeats.len(), 2500);
        assert!(repeats
            .iter()
            .enumerate()
            .all(|(i, &(first, at))| first == (0, 2500 + i) && at == (1, i)));
    }
}
