//! Computing analysis layers without letting one client take the server
//! down: admission, single flight, cancellation and a cache bounded in bytes.
//!
//! - **Single flight.** Requests for the same layer (the same canonical
//!   parameters) share one computation; each is a waiter on it.
//! - **Admission.** At most `slots` computations run at once (default: the
//!   number of cores); at most `queue` more wait for a slot. Beyond that a
//!   new computation is refused at once with 503 and `Retry-After`. Cached
//!   layers, single features and the static collections never pass through
//!   here, so they never wait behind heavy work.
//! - **Cancellation.** A computation runs under a [`Cancel`] token
//!   ([`crate::analysis::cancel`]). When its last waiter is gone (the client
//!   disconnected, or the request timed out) the token is set and the
//!   computation stops within about a second, queued or running; on
//!   shutdown every computation is cancelled.
//! - **A cache bounded in bytes.** Finished layers are kept (even when
//!   their requester has gone: the next asker gets it at once) until the
//!   cache would pass `max_bytes`; then the least recently used go. A layer
//!   larger than the whole budget is served but not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use super::cache::Computed;
use super::error::ApiError;
use crate::analysis::cancel::Cancel;

/// The outcome of a computation, shared by its waiters.
type Outcome = Option<Result<Arc<Computed>, ApiError>>;

struct Flight {
    cancel: Cancel,
    waiters: AtomicUsize,
    done: watch::Sender<Outcome>,
}

/// One finished layer in the cache.
struct Entry {
    value: Arc<Computed>,
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct State {
    ready: HashMap<String, Entry>,
    flights: HashMap<String, Arc<Flight>>,
    bytes: usize,
    tick: u64,
    /// Set at shutdown: no new computation starts.
    closed: bool,
}

/// Counters for `/status` and the log.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    computed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    busy: AtomicU64,
    running: AtomicUsize,
    queued: AtomicUsize,
}

/// Where the server's analysis layers are computed and kept.
pub struct Engine {
    state: Mutex<State>,
    slots: Arc<Semaphore>,
    slot_count: usize,
    queue: usize,
    max_bytes: usize,
    threads: usize,
    counters: Counters,
}

/// Drops a waiter; the last one to leave cancels the computation.
struct Waiter(Arc<Flight>);

impl Waiter {
    fn join(f: &Arc<Flight>) -> Waiter {
        f.waiters.fetch_add(1, Ordering::SeqCst);
        Waiter(f.clone())
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.0.waiters.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.done.borrow().is_none() {
            self.0.cancel.cancel();
        }
    }
}

impl Engine {
    /// `slots` computations at once, `queue` more waiting, `max_bytes` of
    /// finished layers kept; each computation runs on `threads` threads.
    pub fn new(slots: usize, queue: usize, max_bytes: usize, threads: usize) -> Engine {
        let slots = slots.max(1);
        Engine {
            state: Mutex::new(State::default()),
            slots: Arc::new(Semaphore::new(slots)),
            slot_count: slots,
            queue,
            max_bytes,
            threads: threads.max(1),
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The layer for `key` if it is cached (never waits).
    pub fn cached(&self, key: &str) -> Option<Arc<Computed>> {
        let mut st = self.lock();
        st.tick += 1;
        let tick = st.tick;
        let e = st.ready.get_mut(key)?;
        e.last_used = tick;
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
        Some(e.value.clone())
    }

    /// The layer for `key`: cached, or joined to its computation, or
    /// computed by `compute` (on a blocking thread, under the flight's
    /// token, after waiting for a slot). Returns the layer and whether it
    /// was a cache hit. Dropping the returned future leaves the flight;
    /// the last waiter to leave cancels it.
    pub async fn get_or_compute<F>(self: &Arc<Self>, key: &str, compute: F) -> Result<(Arc<Computed>, bool), ApiError>
    where
        F: FnOnce() -> Result<Computed, ApiError> + Send + 'static,
    {
        if let Some(c) = self.cached(key) {
            return Ok((c, true));
        }
        let (flight, start) = {
            let mut st = self.lock();
            if let Some(f) = st.flights.get(key) {
                (f.clone(), false)
            } else {
                if st.closed {
                    return Err(ApiError::Unavailable("the server is shutting down".into()));
                }
                let queued = self.counters.queued.load(Ordering::SeqCst);
                if self.slots.available_permits() == 0 && queued >= self.queue {
                    self.counters.busy.fetch_add(1, Ordering::Relaxed);
                    return Err(ApiError::Busy {
                        running: self.slot_count,
                        queued,
                    });
                }
                let (tx, _) = watch::channel(None);
                let f = Arc::new(Flight {
                    cancel: Cancel::new(),
                    waiters: AtomicUsize::new(0),
                    done: tx,
                });
                st.flights.insert(key.to_string(), f.clone());
                // Counted as queued now, so the next request sees it.
                self.counters.queued.fetch_add(1, Ordering::SeqCst);
                (f, true)
            }
        };
        let mut rx = flight.done.subscribe();
        let _waiter = Waiter::join(&flight);
        if start {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            let engine = self.clone();
            let key = key.to_string();
            let flight = flight.clone();
            tokio::spawn(async move { engine.fly(key, flight, compute).await });
        }
        let outcome = rx
            .wait_for(|o| o.is_some())
            .await
            .map_err(|_| ApiError::Internal("a computation ended without an outcome".into()))?
            .clone();
        match outcome {
            Some(Ok(c)) => Ok((c, false)),
            Some(Err(e)) => Err(e),
            None => Err(ApiError::Internal("no outcome".into())),
        }
    }

    /// Runs one flight: waits for a slot (or for its cancellation),
    /// computes, keeps the result, tells the waiters.
    async fn fly<F>(self: Arc<Self>, key: String, flight: Arc<Flight>, compute: F)
    where
        F: FnOnce() -> Result<Computed, ApiError> + Send + 'static,
    {
        let cancelled = {
            let cancel = flight.cancel.clone();
            async move {
                while !cancel.is_cancelled() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let permit = tokio::select! {
            p = self.slots.clone().acquire_owned() => p.ok(),
            _ = cancelled => None,
        };
        self.counters.queued.fetch_sub(1, Ordering::SeqCst);
        let outcome = match permit {
            None => Err(ApiError::Cancelled),
            Some(permit) => {
                self.counters.running.fetch_add(1, Ordering::SeqCst);
                let cancel = flight.cancel.clone();
                let threads = self.threads;
                let r = tokio::task::spawn_blocking(move || {
                    cancel.run(threads, || Ok(compute())).unwrap_or_else(|e| Err(e.into()))
                })
                .await;
                self.counters.running.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
                match r {
                    Ok(r) => r.map(Arc::new),
                    // A panic in the analysis: a cancelled one is just cancelled.
                    Err(_) if flight.cancel.is_cancelled() => Err(ApiError::Cancelled),
                    Err(e) => Err(ApiError::Internal(format!("analysis task failed: {e}"))),
                }
            }
        };
        let outcome = match outcome {
            Err(_) if flight.cancel.is_cancelled() => Err(ApiError::Cancelled),
            o => o,
        };
        {
            let mut st = self.lock();
            st.flights.remove(&key);
            match &outcome {
                Ok(c) => {
                    self.counters.computed.fetch_add(1, Ordering::Relaxed);
                    self.keep(&mut st, key.clone(), c.clone());
                }
                Err(ApiError::Cancelled) => {
                    self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(layer = %key, "cancelled: nobody waits for it");
                }
                Err(_) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        flight.done.send_replace(Some(outcome));
    }

    /// Keeps a finished layer, evicting the least recently used beyond the budget.
    fn keep(&self, st: &mut State, key: String, value: Arc<Computed>) {
        let bytes = value.heap_bytes();
        if bytes > self.max_bytes {
            tracing::info!(layer = %key, bytes, "not cached: larger than the whole cache");
            return;
        }
        while st.bytes + bytes > self.max_bytes {
            let Some(oldest) = st.ready.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(e) = st.ready.remove(&oldest) {
                st.bytes -= e.bytes;
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        st.tick += 1;
        let last_used = st.tick;
        st.bytes += bytes;
        if let Some(old) = st.ready.insert(
            key,
            Entry {
                value,
                bytes,
                last_used,
            },
        ) {
            st.bytes -= old.bytes;
        }
    }

    /// Stops starting computations and cancels every one under way.
    pub fn shut_down(&self) {
        let mut st = self.lock();
        st.closed = true;
        for f in st.flights.values() {
            f.cancel.cancel();
        }
    }

    /// Computations running and waiting for a slot.
    pub fn busy(&self) -> (usize, usize) {
        (
            self.counters.running.load(Ordering::SeqCst),
            self.counters.queued.load(Ordering::SeqCst),
        )
    }

    /// The engine's state for `/status`.
    pub fn status(&self) -> serde_json::Value {
        let st = self.lock();
        let c = &self.counters;
        serde_json::json!({
            "cache": {
                "entries": st.ready.len(),
                "bytes": st.bytes,
                "max_bytes": self.max_bytes,
                "hits": c.hits.load(Ordering::Relaxed),
                "misses": c.misses.load(Ordering::Relaxed),
                "evictions": c.evictions.load(Ordering::Relaxed),
            },
            "computations": {
                "running": c.running.load(Ordering::SeqCst),
                "queued": c.queued.load(Ordering::SeqCst),
                "slots": self.slot_count,
                "queue": self.queue,
                "threads_each": self.threads,
                "completed": c.computed.load(Ordering::Relaxed),
                "failed": c.failed.load(Ordering::Relaxed),
                "cancelled": c.cancelled.load(Ordering::Relaxed),
                "refused_busy": c.busy.load(Ordering::Relaxed),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::{Geoms, Ids, Table};

    fn points(n: usize) -> Result<Computed, ApiError> {
        Ok(Computed {
            table: Table::new(
                Ids::Int((0..n as u64).collect()),
                Geoms::Points(vec![[0.0, 0.0]; n]),
                vec![],
                None,
            ),
            metadata: serde_json::Value::Null,
            computed_at: crate::month::now_rfc3339(),
            compute_ms: 0.0,
            version: "1".into(),
        })
    }

    #[tokio::test]
    async fn a_layer_is_computed_once_and_failures_are_not_cached() {
        let e = Arc::new(Engine::new(2, 2, 1 << 20, 1));
        let (_, hit) = e.get_or_compute("k", || points(3)).await.unwrap();
        assert!(!hit);
        let (_, hit) = e.get_or_compute("k", || points(3)).await.unwrap();
        assert!(hit);
        assert!(e
            .get_or_compute("bad", || Err(ApiError::Empty("x".into())))
            .await
            .is_err());
        let (_, hit) = e.get_or_compute("bad", || points(1)).await.unwrap();
        assert!(!hit);
        assert_eq!(e.status()["computations"]["completed"], 2);
        assert_eq!(e.status()["computations"]["failed"], 1);
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_computation() {
        let e = Arc::new(Engine::new(2, 2, 1 << 20, 1));
        let runs = Arc::new(AtomicUsize::new(0));
        let asks: Vec<_> = (0..8)
            .map(|_| {
                let (e, runs) = (e.clone(), runs.clone());
                tokio::spawn(async move {
                    e.get_or_compute("same", move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        points(5)
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for a in asks {
            a.await.unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_cache_keeps_to_its_bytes_least_recently_used_first() {
        let one = points(1000).unwrap().heap_bytes();
        let e = Arc::new(Engine::new(1, 1, one * 2 + one / 2, 1));
        e.get_or_compute("a", || points(1000)).await.unwrap();
        e.get_or_compute("b", || points(1000)).await.unwrap();
        assert!(e.cached("a").is_some(), "a is now the most recently used");
        e.get_or_compute("c", || points(1000)).await.unwrap();
        assert!(e.cached("b").is_none(), "b was the least recently used");
        assert!(e.cached("a").is_some() && e.cached("c").is_some());
        assert_eq!(e.status()["cache"]["evictions"], 1);
        assert!(e.status()["cache"]["bytes"].as_u64().unwrap() <= (one * 2 + one / 2) as u64);
        // Larger than the whole cache: served, not kept.
        e.get_or_compute("huge", || points(10_000)).await.unwrap();
        assert!(e.cached("huge").is_none());
    }

    #[tokio::test]
    async fn an_abandoned_computation_is_cancelled_and_a_full_queue_answers_busy() {
        let e = Arc::new(Engine::new(1, 1, 1 << 20, 1));
        let spin = || {
            // A loop that asks for cancellation, as the analyses' hot loops do.
            let t0 = std::time::Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if crate::analysis::cancel::requested() {
                    return Err(ApiError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            points(1)
        };
        // One running, one queued: a third distinct request is refused at once.
        let a = tokio::spawn({
            let e = e.clone();
            async move { e.get_or_compute("a", spin).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let b = tokio::spawn({
            let e = e.clone();
            async move { e.get_or_compute("b", spin).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(e.busy(), (1, 1));
        let c = e.get_or_compute("c", || points(1)).await;
        assert!(matches!(c, Err(ApiError::Busy { .. })), "{c:?}");
        // The clients give up: both computations stop within about a second.
        a.abort();
        b.abort();
        let t0 = std::time::Instant::now();
        while e.busy() != (0, 0) {
            assert!(t0.elapsed() < Duration::from_secs(2), "still busy: {:?}", e.busy());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(e.status()["computations"]["cancelled"], 2);
        assert!(e.cached("a").is_none());
        // The engine serves again.
        let (_, hit) = e.get_or_compute("c", || points(1)).await.unwrap();
        assert!(!hit);
    }
}
