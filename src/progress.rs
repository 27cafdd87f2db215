//! Progress bars (indicatif) that vanish under `--quiet` or when stderr is
//! not a terminal, so scripts and CI logs stay clean.

use indicatif::{ProgressBar, ProgressStyle};

/// Makes progress bars, or hidden ones when quiet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress { quiet }
    }

    /// A bar over `len` items, labelled `what`.
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        self.styled(len, "{pos}/{len} {elapsed}", what)
    }

    /// A bar counting bytes (its length is set once known), labelled `what`.
    pub fn bytes(&self, what: &str) -> ProgressBar {
        self.styled(0, "{bytes}/{total_bytes} {bytes_per_sec} {eta}", what)
    }

    /// A bar of `len`, labelled `what`, with `counts` after the bar.
    fn styled(&self, len: u64, counts: &str, what: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!("{{spinner}} {{msg:<28}} [{{bar:30}}] {counts}"))
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar
    }

    /// A spinner for a step of unknown length.
    pub fn step(&self, what: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

/// This process's resident memory now and at its peak, in MiB (Linux;
/// zeros elsewhere), for the debug logs of long steps.
pub fn memory_mib() -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb / 1024)
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
