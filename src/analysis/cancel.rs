//! Stopping work nobody waits for.
//!
//! The server runs each computation under a [`Cancel`] token ([`Cancel::run`]):
//! on the calling thread and on every thread of a rayon pool of its own, so
//! any code of the analysis, however deep, can ask [`requested`] without the
//! token being passed down. Hot loops ask once per unit of work (a cell, a
//! month, an origin) and skip the rest when it is set; the caller then
//! discards the result ([`Cancel::run`] returns [`AnalysisError::Cancelled`]),
//! so a half-done result never escapes. Outside [`Cancel::run`] (the CLI)
//! nothing is ever cancelled and asking costs a thread-local read.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::AnalysisError;

thread_local! {
    static TOKEN: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Whether the computation running on this thread has been cancelled.
#[inline]
pub fn requested() -> bool {
    TOKEN.with(|t| t.borrow().as_ref().is_some_and(|c| c.load(Ordering::Relaxed)))
}

/// `Err(Cancelled)` once the computation on this thread has been cancelled.
#[inline]
pub fn check() -> Result<(), AnalysisError> {
    if requested() {
        Err(AnalysisError::Cancelled)
    } else {
        Ok(())
    }
}

fn set(token: Option<Arc<AtomicBool>>) {
    TOKEN.with(|t| *t.borrow_mut() = token);
}

/// A cancellation token (cheap to clone; all clones are one token).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the computation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `f` with this token in force: on this thread, and on `threads`
    /// rayon threads of a pool made for it (so `f`'s parallel work sees the
    /// token too). A cancelled run answers `Err(Cancelled)` whatever `f`
    /// returned.
    pub fn run<R: Send>(
        &self,
        threads: usize,
        f: impl FnOnce() -> Result<R, AnalysisError> + Send,
    ) -> Result<R, AnalysisError> {
        let token = self.0.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("analysis-{i}"))
            .stack_size(16 << 20)
            .start_handler(move |_| set(Some(token.clone())))
            .exit_handler(|_| set(None))
            .build()
            .map_err(|e| AnalysisError::Data(format!("starting analysis threads: {e}")))?;
        set(Some(self.0.clone()));
        let out = pool.install(f);
        set(None);
        if self.is_cancelled() {
            return Err(AnalysisError::Cancelled);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn parallel_work_sees_the_token_and_a_cancelled_run_is_an_error() {
        assert!(!requested(), "nothing is cancelled outside a run");
        let token = Cancel::new();
        let t2 = token.clone();
        let seen = token.run(2, || {
            t2.cancel();
            let seen: usize = (0..1000).into_par_iter().filter(|_| requested()).count();
            Ok(seen)
        });
        assert!(matches!(seen, Err(AnalysisError::Cancelled)));
        assert!(!requested(), "the token is cleared afterwards");
        let token = Cancel::new();
        let all = token.run(2, || Ok((0..1000).into_par_iter().filter(|_| !requested()).count()));
        assert_eq!(all.unwrap(), 1000);
    }

    #[test]
    fn a_long_loop_stops_soon_after_cancel() {
        let token = Cancel::new();
        let t2 = token.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            t2.cancel();
        });
        let t0 = std::time::Instant::now();
        let r = token.run(2, || {
            (0..u64::MAX).into_par_iter().try_for_each(|_| check())?;
            Ok(())
        });
        canceller.join().unwrap();
        assert!(matches!(r, Err(AnalysisError::Cancelled)));
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    }
}
