//! Taking files out of downloaded zips: the boundary files, and the
//! police.uk monthly archives (`YYYY-MM/YYYY-MM-<force>-street.csv`).
//!
//! Each file is written to a temporary name and renamed when whole, with
//! its sha256 computed on the way.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Errors reading a zip or writing what comes out of it.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: not a readable zip archive: {source}")]
    Zip {
        path: String,
        source: zip::result::ZipError,
    },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A file written out of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The member's path in the archive.
    pub member: String,
    /// Where it went.
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

fn open(zip_path: &Path) -> Result<zip::ZipArchive<File>, ArchiveError> {
    let file = File::open(zip_path).map_err(|source| ArchiveError::Io {
        path: zip_path.display().to_string(),
        source,
    })?;
    zip::ZipArchive::new(file).map_err(|source| ArchiveError::Zip {
        path: zip_path.display().to_string(),
        source,
    })
}

/// Copies `from` into `dest` (via `dest.tmp`), returning size and sha256.
fn write_member(from: impl Read, dest: &Path) -> Result<(u64, String), std::io::Error> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = super::download::part_path(dest);
    let mut out = File::create(&tmp)?;
    let copied = super::download::copy_hashing(from, &mut out)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&tmp, dest)?;
    Ok(copied)
}

/// Extracts every file of the zip under `dest_dir`, keeping the archive's
/// folders. Members whose names would escape `dest_dir` are skipped.
pub fn extract_all(zip_path: &Path, dest_dir: &Path) -> Result<Vec<Extracted>, ArchiveError> {
    let mut archive = open(zip_path)?;
    let zip_err = |source| ArchiveError::Zip {
        path: zip_path.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(zip_err)?;
        if entry.is_dir() {
            continue;
        }
        let Some(rel) = entry.enclosed_name() else {
            tracing::warn!(member = entry.name(), "skipping a zip member with an unsafe path");
            continue;
        };
        let member = entry.name().to_string();
        let dest = dest_dir.join(rel);
        let (bytes, sha256) = write_member(entry, &dest).map_err(|source| ArchiveError::Io {
            path: dest.display().to_string(),
            source,
        })?;
        out.push(Extracted {
            member,
            path: dest,
            bytes,
            sha256,
        });
    }
    Ok(out)
}

/// Extracts the named members, each to its destination. Returns what was
/// extracted and the names the archive does not hold.
pub fn extract_members(
    zip_path: &Path,
    wanted: &[(String, PathBuf)],
) -> Result<(Vec<Extracted>, Vec<String>), ArchiveError> {
    let mut archive = open(zip_path)?;
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for (member, dest) in wanted {
        let entry = match archive.by_name(member) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                missing.push(member.clone());
                continue;
            }
            Err(source) => {
                return Err(ArchiveError::Zip {
                    path: zip_path.display().to_string(),
                    source,
                })
            }
        };
        let (bytes, sha256) = write_member(entry, dest).map_err(|source| ArchiveError::Io {
            path: dest.display().to_string(),
            source,
        })?;
        done.push(Extracted {
            member: member.clone(),
            path: dest.clone(),
            bytes,
            sha256,
        });
    }
    Ok((done, missing))
}

/// The member of a police.uk archive holding one force's street crime for
/// one month: `YYYY-MM/YYYY-MM-<force>-street.csv`.
pub fn street_member(month: &str, force: &str) -> String {
    format!("{month}/{month}-{force}-street.csv")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn make_zip(path: &Path, files: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn members_are_extracted_and_missing_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let z = dir.path().join("a.zip");
        make_zip(&z, &[(&street_member("2024-01", "metropolitan"), b"Crime ID\n")]);
        let wanted = vec![
            (street_member("2024-01", "metropolitan"), dir.path().join("out/m.csv")),
            (street_member("2024-01", "btp"), dir.path().join("out/b.csv")),
        ];
        let (done, missing) = extract_members(&z, &wanted).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].bytes, 9);
        assert_eq!(std::fs::read(dir.path().join("out/m.csv")).unwrap(), b"Crime ID\n");
        assert_eq!(missing, vec!["2024-01/2024-01-btp-street.csv".to_string()]);
    }

    #[test]
    fn extract_all_keeps_folders_and_skips_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let z = dir.path().join("b.zip");
        make_zip(&z, &[("top/ESRI/x.shp", b"shp"), ("../evil.txt", b"no")]);
        let out = extract_all(&z, &dir.path().join("dest")).unwrap();
        assert_eq!(out.len(), 1);
        assert!(dir.path().join("dest/top/ESRI/x.shp").is_file());
        assert!(!dir.path().join("evil.txt").exists());
    }

    #[test]
    fn a_broken_zip_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let z = dir.path().join("broken.zip");
        std::fs::write(&z, b"not a zip").unwrap();
        let e = extract_all(&z, dir.path()).unwrap_err().to_string();
        assert!(e.contains("broken.zip") && e.contains("zip"), "{e}");
    }
}
