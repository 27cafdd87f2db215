//! Computed analysis layers, cached by their canonical parameters, and the
//! strong ETags of responses.
//!
//! A layer is computed once per key even when many requests ask at once
//! (they wait on one [`tokio::sync::OnceCell`]); failures are not cached.
//! The cache holds at most `capacity` layers and at most `max_features`
//! features in all (a 50 m KDE layer alone has ~640k cells), dropping the
//! oldest first, so varied requests cannot grow the server without bound.
//!
//! The ids and WGS84 polygons of a grid's cells ([`ShapeCache`]) are cached
//! apart from the layers: every layer on one grid (another band, crime type
//! or month range) shares them, so only its statistics are computed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::error::ApiError;
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

type Slot = Arc<OnceCell<Arc<Computed>>>;

/// The layer cache.
pub struct LayerCache {
    slots: Mutex<(HashMap<String, Slot>, VecDeque<String>)>,
    capacity: usize,
    max_features: usize,
    computations: AtomicU64,
}

impl LayerCache {
    /// A cache of at most `capacity` layers and `max_features` features in
    /// all (the newest layer is kept even when it alone is larger).
    pub fn new(capacity: usize, max_features: usize) -> LayerCache {
        LayerCache {
            slots: Mutex::new((HashMap::new(), VecDeque::new())),
            capacity: capacity.max(1),
            max_features,
            computations: AtomicU64::new(0),
        }
    }

    /// Layers cached now, computed or being computed.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the oldest computed layers (never `keep`) while the cached
    /// layers hold more than `max_features` features.
    fn enforce_feature_budget(&self, keep: &str) {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        let features = |map: &HashMap<String, Slot>| -> usize {
            map.values().filter_map(|s| s.get()).map(|c| c.table.len()).sum()
        };
        let mut total = features(map);
        let mut i = 0;
        while total > self.max_features && i < order.len() {
            let key = &order[i];
            let size = map.get(key).and_then(|s| s.get()).map(|c| c.table.len());
            match size {
                Some(n) if key != keep => {
                    map.remove(key);
                    order.remove(i);
                    total -= n;
                }
                _ => i += 1,
            }
        }
    }

    /// How many layers have been computed (cache misses that succeeded or failed).
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    fn slot(&self, key: &str) -> Slot {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if let Some(s) = map.get(key) {
            return s.clone();
        }
        while map.len() >= self.capacity {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
        let s: Slot = Arc::new(OnceCell::new());
        map.insert(key.to_string(), s.clone());
        order.push_back(key.to_string());
        s
    }

    /// The layer for `key`, computing it with `compute` (on a blocking
    /// thread) if it is not cached. Returns the layer and whether it was a hit.
    pub async fn get_or_compute<F>(&self, key: &str, compute: F) -> Result<(Arc<Computed>, bool), ApiError>
    where
        F: FnOnce() -> Result<Computed, ApiError> + Send + 'static,
    {
        let slot = self.slot(key);
        if let Some(c) = slot.get() {
            return Ok((c.clone(), true));
        }
        let computed_here = std::sync::atomic::AtomicBool::new(false);
        let c = slot
            .get_or_try_init(|| async {
                computed_here.store(true, Ordering::Relaxed);
                self.computations.fetch_add(1, Ordering::Relaxed);
                tokio::task::spawn_blocking(compute)
                    .await
                    .map_err(|e| ApiError::Internal(format!("analysis task failed: {e}")))?
                    .map(Arc::new)
            })
            .await?;
        let hit = !computed_here.load(Ordering::Relaxed);
        if !hit {
            self.enforce_feature_budget(key);
        }
        Ok((c.clone(), hit))
    }
}

/// A grid's shape by its kind and cell size (bits).
type GridShape = ((GridKind, u64), Arc<Shape>);

/// Grid shapes (cell ids and polygons) by kind and cell size (bits), the
/// most recently used last. One cache serves one dataset, whose wards fix
/// every grid's cells.
pub struct ShapeCache {
    shapes: Mutex<VecDeque<GridShape>>,
    capacity: usize,
}

impl ShapeCache {
    pub fn new(capacity: usize) -> ShapeCache {
        ShapeCache {
            shapes: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// The shape of the grid of `kind` cells of `cell_m` metres, built by
    /// `build` on first use.
    pub fn grid(&self, kind: GridKind, cell_m: f64, build: impl FnOnce() -> Shape) -> Arc<Shape> {
        let key = (kind, cell_m.to_bits());
        let lookup = |shapes: &mut VecDeque<GridShape>| {
            let k = shapes.iter().position(|(k, _)| *k == key)?;
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
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = lookup(&mut shapes) {
            return s;
        }
        if shapes.len() >= self.capacity {
            shapes.pop_front();
        }
        shapes.push_back((key, shape.clone()));
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

    #[tokio::test]
    async fn a_layer_is_computed_once_and_failures_are_not_cached() {
        let cache = LayerCache::new(2, 1000);
        let make = || points(0);
        let (_, hit) = cache.get_or_compute("k", make).await.unwrap();
        assert!(!hit);
        let (_, hit) = cache.get_or_compute("k", make).await.unwrap();
        assert!(hit);
        assert!(cache
            .get_or_compute("bad", || Err(ApiError::Empty("x".into())))
            .await
            .is_err());
        let (_, hit) = cache.get_or_compute("bad", make).await.unwrap();
        assert!(!hit);
        assert_eq!(cache.computations(), 3);
    }

    fn points(n: usize) -> Result<Computed, ApiError> {
        Ok(Computed {
            table: Table::new(
                super::super::table::Ids::Int((0..n as u64).collect()),
                super::super::table::Geoms::Points(vec![[0.0, 0.0]; n]),
                vec![],
                None,
            ),
            metadata: serde_json::Value::Null,
            computed_at: now_rfc3339(),
            compute_ms: 0.0,
            version: "1".into(),
        })
    }

    #[tokio::test]
    async fn large_layers_push_out_the_oldest_beyond_the_feature_budget() {
        let cache = LayerCache::new(10, 10);
        cache.get_or_compute("a", || points(4)).await.unwrap();
        cache.get_or_compute("b", || points(4)).await.unwrap();
        assert_eq!(cache.len(), 2, "8 features fit in 10");
        cache.get_or_compute("c", || points(4)).await.unwrap();
        assert_eq!(cache.len(), 2, "12 > 10: the oldest goes");
        let (_, hit) = cache.get_or_compute("b", || points(4)).await.unwrap();
        assert!(hit);
        let (_, hit) = cache.get_or_compute("a", || points(4)).await.unwrap();
        assert!(!hit, "a was dropped and is computed again");
        // A layer larger than the budget on its own is still served and kept.
        cache.get_or_compute("big", || points(50)).await.unwrap();
        assert_eq!(cache.len(), 1);
        let (_, hit) = cache.get_or_compute("big", || points(50)).await.unwrap();
        assert!(hit);
    }
}
