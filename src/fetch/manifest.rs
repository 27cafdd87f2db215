//! `fetch-manifest.json` in the data root: for every file `hotspots fetch`
//! wrote, where it came from and its sha256, so a later run can verify the
//! file instead of downloading it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name, in the data root.
pub const MANIFEST_FILE: &str = "fetch-manifest.json";

/// Errors reading or writing the manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a fetch manifest: {source}")]
    Parse { path: String, source: serde_json::Error },
}

/// One file in the data root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The URL it was downloaded from (for a file extracted from an
    /// archive, or built from API answers: the archive's URL or the API's).
    pub url: String,
    /// For an extracted file: its path inside the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Lower-case hex sha256 of the file as stored.
    pub sha256: String,
    pub bytes: u64,
    /// When it was written (seconds since the Unix epoch, UTC).
    pub fetched_at_unix: u64,
}

/// Every file fetched into a data root, by path relative to it (`/`-separated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchManifest {
    pub files: BTreeMap<String, FileEntry>,
}

impl FetchManifest {
    /// The manifest's path in `root`.
    pub fn path(root: &Path) -> PathBuf {
        root.join(MANIFEST_FILE)
    }

    /// Reads the manifest of `root`, or an empty one if there is none yet.
    pub fn load(root: &Path) -> Result<FetchManifest, ManifestError> {
        let path = Self::path(root);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ManifestError::Parse {
                path: path.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FetchManifest::default()),
            Err(source) => Err(ManifestError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the manifest atomically (temporary file, then rename).
    pub fn save(&self, root: &Path) -> Result<(), ManifestError> {
        let path = Self::path(root);
        let tmp = root.join(format!("{MANIFEST_FILE}.tmp"));
        let io = |source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        std::fs::create_dir_all(root).map_err(io)?;
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Records a file, stamped now.
    pub fn record(&mut self, rel: &str, url: &str, member: Option<&str>, sha256: &str, bytes: u64) {
        self.files.insert(
            rel.to_string(),
            FileEntry {
                url: url.to_string(),
                member: member.map(str::to_string),
                sha256: sha256.to_string(),
                bytes,
                fetched_at_unix: now_unix(),
            },
        );
    }

    /// True when `rel` is recorded and the file on disk still has the
    /// recorded size and sha256.
    pub fn verified(&self, root: &Path, rel: &str) -> bool {
        let Some(entry) = self.files.get(rel) else {
            return false;
        };
        match super::download::sha256_file(&root.join(rel)) {
            Ok((bytes, sha)) => bytes == entry.bytes && sha == entry.sha256,
            Err(_) => false,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_verification() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(FetchManifest::load(root).unwrap(), FetchManifest::default());
        std::fs::write(root.join("a.csv"), b"abc").unwrap();
        let mut m = FetchManifest::default();
        m.record(
            "a.csv",
            "http://x/a.csv",
            None,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            3,
        );
        m.save(root).unwrap();
        let back = FetchManifest::load(root).unwrap();
        assert_eq!(back, m);
        assert!(back.verified(root, "a.csv"));
        std::fs::write(root.join("a.csv"), b"abd").unwrap();
        assert!(!back.verified(root, "a.csv"), "a changed file must not verify");
        assert!(!back.verified(root, "missing.csv"));
    }
}
