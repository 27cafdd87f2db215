//! Finding and reading source files: files, folders and globs relative to
//! the data root; gzip transparently; a sha256 of every file as stored.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::IngestError;

/// A file named by the config, resolved on disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Absolute (or root-joined) path.
    pub path: PathBuf,
    /// Path relative to the data root, with `/` separators, as recorded in the manifest.
    pub rel: String,
}

const DATA_SUFFIXES: &[&str] = &[".csv", ".csv.gz", ".json", ".json.gz", ".tar.gz", ".tgz"];

fn is_data_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    DATA_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Resolves config paths (files, folders, globs) to a sorted, de-duplicated
/// list. `key` names the config key in errors (`incidents[0].paths[1]`).
pub fn resolve(root: &Path, patterns: &[String], key: &str) -> Result<Vec<SourceFile>, IngestError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for (j, pattern) in patterns.iter().enumerate() {
        let full = root.join(pattern);
        let before = out.len();
        if full.is_dir() {
            let entries = std::fs::read_dir(&full).map_err(|source| IngestError::Io {
                file: full.display().to_string(),
                source,
            })?;
            for e in entries.flatten() {
                let p = e.path();
                if p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(is_data_file) {
                    out.push(p);
                }
            }
        } else if full.is_file() {
            out.push(full.clone());
        } else {
            let pat = full.to_string_lossy().to_string();
            let paths = glob::glob(&pat).map_err(|e| {
                IngestError::Config(crate::config::ConfigError::Invalid {
                    path: "config".into(),
                    key: format!("{key}[{j}]"),
                    message: format!("bad glob {pattern:?}: {e}"),
                })
            })?;
            out.extend(paths.flatten().filter(|p| p.is_file()));
        }
        if out.len() == before {
            return Err(IngestError::NoFiles {
                key: format!("{key}[{j}]"),
                pattern: full.display().to_string(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            SourceFile { path, rel }
        })
        .collect())
}

/// Reads a file as stored.
pub fn read(path: &Path) -> Result<Vec<u8>, IngestError> {
    std::fs::read(path).map_err(|source| IngestError::Io {
        file: path.display().to_string(),
        source,
    })
}

/// Gunzips when the bytes are gzip (by magic number, so a misnamed file works too).
pub fn decompress(bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, IngestError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    gunzip_into(&bytes, name, &mut out)?;
    Ok(out)
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Inflates gzip `bytes` (every member) into `out`, which it clears first
/// and sizes from the gzip trailer.
fn gunzip_into(bytes: &[u8], name: &str, out: &mut Vec<u8>) -> Result<(), IngestError> {
    out.clear();
    // The trailer holds the uncompressed size (mod 2^32) of the last member.
    let isize = bytes[bytes.len().saturating_sub(4)..]
        .try_into()
        .map(u32::from_le_bytes)
        .unwrap_or(0) as usize;
    out.reserve(isize.max(bytes.len() * 4) + 1);
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(out)
        .map_err(|source| IngestError::Io {
            file: name.to_string(),
            source,
        })?;
    Ok(())
}

/// Calls `f` with the decompressed bytes (gzip) or the bytes as they are,
/// decompressing into a buffer each thread keeps, so parsing many files
/// does not allocate (and fault in) a fresh buffer per file.
pub fn with_decompressed<R>(bytes: &[u8], name: &str, f: impl FnOnce(&[u8]) -> R) -> Result<R, IngestError> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if !is_gzip(bytes) {
        return Ok(f(bytes));
    }
    BUFFER.with(|cell| {
        let mut owned = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buf = match borrowed.as_mut() {
            Ok(b) => &mut **b,
            Err(_) => &mut owned,
        };
        gunzip_into(bytes, name, buf)?;
        Ok(f(buf))
    })
}

/// Hex sha256 of the bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Strips a UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}
