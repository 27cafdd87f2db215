//! Finding and reading source files: files, folders and globs relative to
//! the data root; gzip transparently; a sha256 of every file as stored.

use std::collections::BTreeMap;
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

/// The manifest's record of a boundary or POI layer: its files' sha256
/// (a shapefile's `.shx`, `.dbf`, `.prj` and `.cpg` too) and counts.
pub fn layer_record(
    layer: &str,
    root: &Path,
    rel: &str,
    features: u64,
    rejected: u64,
) -> Result<crate::dataset::manifest::LayerRecord, IngestError> {
    let main = root.join(rel);
    let mut files = vec![main.clone()];
    if rel.to_ascii_lowercase().ends_with(".shp") {
        for ext in ["shx", "dbf", "prj", "cpg"] {
            let p = main.with_extension(ext);
            if p.exists() {
                files.push(p);
            }
        }
    }
    let mut sha256 = BTreeMap::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        sha256.insert(name, sha256_hex(&read(&f)?));
    }
    Ok(crate::dataset::manifest::LayerRecord {
        layer: layer.to_string(),
        path: rel.to_string(),
        sha256,
        features,
        rows_read: features + rejected,
        rows_rejected: rejected,
    })
}

/// Reads a file as stored.
pub fn read(path: &Path) -> Result<Vec<u8>, IngestError> {
    std::fs::read(path).map_err(|source| IngestError::Io {
        file: path.display().to_string(),
        source,
    })
}

/// Gunzips when the bytes are gzip (by magic number, so a gzip file without
/// `.gz` in its name works too). A file named `.gz` or `.tgz` that is not
/// gzip is an error saying so ([`check_gzip_name`]).
pub fn decompress(bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, IngestError> {
    check_gzip_name(&bytes, name)?;
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    gunzip_into(&bytes, name, &mut out)?;
    Ok(out)
}

/// A non-empty file named `.gz` or `.tgz` must start with gzip's signature:
/// otherwise it is damaged or misnamed, and reading it as text would only
/// report a nonsense header. (An empty file is let through: it yields no
/// rows and the ingest warns about it.)
pub fn check_gzip_name(bytes: &[u8], name: &str) -> Result<(), IngestError> {
    let lower = name.to_ascii_lowercase();
    if !bytes.is_empty() && (lower.ends_with(".gz") || lower.ends_with(".tgz")) && !is_gzip(bytes) {
        return Err(IngestError::Format {
            file: name.to_string(),
            line: 0,
            field: "file".into(),
            message: format!(
                "the file is named .gz but is not gzip data (gzip files start with the bytes 1f 8b; this one starts with {})",
                hex::encode(&bytes[..bytes.len().min(4)])
            ),
        });
    }
    Ok(())
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
    if crate::sys::gunzip_one_member(bytes, isize, out) {
        return Ok(());
    }
    out.clear();
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
    check_gzip_name(bytes, name)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_member_inflates_in_one_call() {
        let text = b"Crime ID,Month\n".repeat(1000);
        let gz = gzip(&text);
        let mut out = Vec::new();
        assert!(crate::sys::gunzip_one_member(&gz, text.len(), &mut out));
        assert_eq!(out, text);
        assert_eq!(decompress(gz, "a.csv.gz").unwrap(), text);
    }

    #[test]
    fn every_member_is_read_even_when_the_last_is_the_same_size_as_the_first() {
        // Two identical members: the trailer's size is that of one, so one
        // call of libdeflate would stop halfway; the whole file is read.
        let text = b"a,b\n1,2\n".repeat(50);
        let mut gz = gzip(&text);
        gz.extend(gzip(&text));
        assert!(!crate::sys::gunzip_one_member(&gz, text.len(), &mut Vec::new()));
        assert_eq!(decompress(gz, "two.csv.gz").unwrap(), [text.clone(), text].concat());
    }

    #[test]
    fn a_wrong_size_field_or_corrupt_data_falls_back_to_flate2() {
        let text = b"x,y\n".repeat(100);
        let mut gz = gzip(&text);
        let n = gz.len();
        gz[n - 4..].copy_from_slice(&7u32.to_le_bytes());
        // flate2 checks the size too: the file is reported, not misread.
        assert!(decompress(gz.clone(), "size.csv.gz").is_err());
        let mut bad = gzip(&text);
        bad[12] ^= 0xFF;
        let err = decompress(bad, "bad.csv.gz").unwrap_err().to_string();
        assert!(err.starts_with("bad.csv.gz"), "{err}");
    }
}
