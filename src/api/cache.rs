//! A computed layer ([`Computed`]; computed and cached by
//! [`super::compute::Engine`]), the grid shapes layers share, and the
//! strong ETags of responses.
//!
//! The ids and WGS84 polygons of a grid's cells ([`ShapeCache`]) are cached
//! apart from the layers: every layer on one grid (another band, crime type
//! or month range) shares them, so only its statistics are computed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::table::{Shape, Table};
use crate::analysis::grid::GridKind;

/// A computed layer, ready to page.
#[derive(Debug)]
pub struct Computed {
    pub table: Table,
    /// The analysis's metadata (parameters, chosen scales and why).
    pub metadata: serde_json::Value,
    /// When it was computed (RFC 3339, UTC): the `timeStamp` of its pages.
    pub computed_at: String,
    /// Wall time of the computation, milliseconds.
    pub compute_ms: f64,
    /// A per-computation token, part of the ETags of its pages.
    pub version: String,
}

impl Computed {
    /// Roughly the heap memory it holds (the cache's budget is in these).
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.metadata.to_string().len() + self.version.len() + 64
    }
}

/// A grid's shape by its kind and cell size (bits), and its size in bytes.
type GridShape = ((GridKind, u64), Arc<Shape>, usize);

/// Grid shapes (cell ids and polygons) by kind and cell size (bits), the
/// most recently used last, at most `capacity` of them and `max_bytes` in
/// all (a shape larger than that is used but not kept). One cache serves
/// one dataset, whose wards fix every grid's cells.
pub struct ShapeCache {
    shapes: Mutex<VecDeque<GridShape>>,
    capacity: usize,
    max_bytes: usize,
}

impl ShapeCache {
    pub fn new(capacity: usize, max_bytes: usize) -> ShapeCache {
        ShapeCache {
            shapes: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.shapes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|s| s.2)
            .sum()
    }

    /// The shape of the grid of `kind` cells of `cell_m` metres, built by
    /// `build` on first use.
    pub fn grid(&self, kind: GridKind, cell_m: f64, build: impl FnOnce() -> Shape) -> Arc<Shape> {
        let key = (kind, cell_m.to_bits());
        let lookup = |shapes: &mut VecDeque<GridShape>| {
            let k = shapes.iter().position(|(k, _, _)| *k == key)?;
            let entry = shapes.remove(k)?;
            let shape = entry.1.clone();
            shapes.push_back(entry);
            Some(shape)
        };
        if let Some(s) = lookup(&mut self.shapes.lock().unwrap_or_else(|p| p.into_inner())) {
            return s;
        }
        // Built outside the lock; two first requests for one grid may both build it.
        let shape = Arc::new(build());
        let bytes = shape.heap_bytes();
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = lookup(&mut shapes) {
            return s;
        }
        if bytes > self.max_bytes {
            return shape;
        }
        while shapes.len() >= self.capacity || shapes.iter().map(|s| s.2).sum::<usize>() + bytes > self.max_bytes {
            if shapes.pop_front().is_none() {
                break;
            }
        }
        shapes.push_back((key, shape.clone(), bytes));
        shape
    }
}

/// A strong ETag: a hash of everything the response body depends on.
pub fn etag(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    format!("\"{}\"", &hex::encode(h.finalize())[..32])
}

/// The ETag of the `encoding` (gzip) of the representation tagged `etag`:
/// strong validators differ between content codings (RFC 9110 8.8.3), so
/// `"…"` becomes `"…-gzip"` (as Apache's mod_deflate does).
pub fn encoded_etag(etag: &str, encoding: &str) -> String {
    match etag.strip_suffix('"') {
        Some(head) if head.len() > 1 => format!("{head}-{encoding}\""),
        _ => etag.to_string(),
    }
}

/// The tag of an `If-None-Match` header value that matches `etag` or its
/// gzip form (weak comparison, RFC 9110 13.1.2): the one to send with the
/// 304 (`etag` itself for `*`).
pub fn none_match(header: &str, etag: &str) -> Option<String> {
    let bare = etag.trim_start_matches("W/");
    let gzip = encoded_etag(bare, "gzip");
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .find_map(|t| match t {
            "*" => Some(bare.to_string()),
            t if t == bare || t == gzip => Some(t.to_string()),
            _ => None,
        })
}

pub use crate::month::{now_rfc3339, rfc3339};

/// Nanoseconds since the Unix epoch: a token that changes between
/// computations and restarts (part of ETags).
pub fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_etags() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
        let e = etag(&["a", "b"]);
        assert_ne!(e, etag(&["ab", ""]));
        assert_eq!(none_match(&format!("W/{e}, \"x\""), &e), Some(e.clone()));
        assert_eq!(none_match("\"x\"", &e), None);
        assert_eq!(none_match("*", &e), Some(e.clone()));
        let gz = encoded_etag(&e, "gzip");
        assert_eq!(gz, format!("{}-gzip\"", &e[..e.len() - 1]));
        assert_eq!(none_match(&format!("\"x\", {gz}"), &e), Some(gz));
    }
}
