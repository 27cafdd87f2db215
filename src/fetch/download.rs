//! HTTP GET with retries, resume and checksums.
//!
//! A file is downloaded to `<dest>.part` and renamed only once it is whole
//! and its sha256 is known (and matches, when one was expected). If the
//! connection breaks, the next attempt, or the next run, asks for the rest
//! with `Range: bytes=<have>-` and appends; a server that ignores the range
//! (answers 200) gets the file from the start again.
//!
//! 429 and 5xx answers are retried with exponential backoff, honouring a
//! `Retry-After` given in seconds. A host that cannot be reached gives
//! [`DownloadError::Offline`], naming the URL.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

/// Errors of one download. Every message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "cannot reach {url}: {detail}. Are you offline? `hotspots fetch` needs internet access \
         (or --base-url pointing at a mirror)"
    )]
    Offline { url: String, detail: String },
    #[error("{url}: HTTP {status} {reason}")]
    Status { url: String, status: u16, reason: String },
    #[error("{url}: still HTTP {status} after {attempts} attempts (rate-limited or server trouble); try again later")]
    GaveUp { url: String, status: u16, attempts: u32 },
    #[error("{url}: the transfer broke after {attempts} attempts ({detail}); {have} bytes are kept in {part}, run again to resume")]
    Interrupted {
        url: String,
        attempts: u32,
        detail: String,
        have: u64,
        part: String,
    },
    #[error("{url}: the answer broke off after {attempts} attempts: {detail}")]
    Broken { url: String, attempts: u32, detail: String },
    #[error("{url}: sha256 {actual} does not match the expected {expected}; the download was discarded")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff; doubled on each further attempt.
    pub base_delay: Duration,
    /// The longest wait, for backoff and for a server's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// What a finished download produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Size of the whole file.
    pub bytes: u64,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    /// Bytes that were already on disk (from a `.part`) and not fetched again.
    pub resumed_from: u64,
    /// HTTP requests made (retries included).
    pub requests: u32,
}

/// A blocking HTTP client with a retry policy.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// The retry policy used by every request.
    pub retry: RetryPolicy,
}

/// How one failed request should be handled.
enum Failure {
    /// Worth another attempt, after the server's delay if it gave one.
    Retry {
        delay: Option<Duration>,
        error: DownloadError,
    },
    /// The server cannot satisfy the range asked for.
    RangeNotSatisfiable,
    /// Final.
    Fatal(DownloadError),
}

impl Client {
    /// A client with `retry` and sane timeouts.
    pub fn new(retry: RetryPolicy) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("hotspots/", env!("CARGO_PKG_VERSION"), " (+fetch)"))
            .build();
        Client {
            agent: config.into(),
            retry,
        }
    }

    /// Sorts an answer: `Ok` for 2xx, else how to handle the failure.
    fn check(&self, url: &str, result: Result<Response, ureq::Error>) -> Result<Response, Failure> {
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => return Err(transport_failure(url, e)),
        };
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(resp),
            416 => Err(Failure::RangeNotSatisfiable),
            429 | 500..=599 => Err(Failure::Retry {
                delay: header(&resp, "Retry-After").and_then(|v| parse_retry_after(&v)),
                error: DownloadError::GaveUp {
                    url: url.into(),
                    status,
                    attempts: 0,
                },
            }),
            _ => Err(Failure::Fatal(DownloadError::Status {
                url: url.into(),
                status,
                reason: resp.status().canonical_reason().unwrap_or("").to_string(),
            })),
        }
    }

    /// Waits before the next attempt: the server's `Retry-After` if given
    /// (capped at `max_delay`), else the backoff.
    fn wait(&self, attempt: u32, delay: Option<Duration>) {
        let d = delay.map_or_else(|| self.retry.backoff(attempt), |d| d.min(self.retry.max_delay));
        tracing::debug!(?d, attempt, "waiting before retrying");
        std::thread::sleep(d);
    }

    /// GETs `url` into memory (for API answers), retrying as the policy says.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>, DownloadError> {
        let mut last: Option<DownloadError> = None;
        for attempt in 1..=self.retry.max_attempts.max(1) {
            match self.check(url, self.agent.get(url).call()) {
                Ok(resp) => {
                    let mut buf = Vec::new();
                    match resp.into_body().into_reader().read_to_end(&mut buf) {
                        Ok(_) => return Ok(buf),
                        Err(e) => {
                            last = Some(DownloadError::Broken {
                                url: url.into(),
                                attempts: attempt,
                                detail: e.to_string(),
                            });
                            if attempt < self.retry.max_attempts {
                                self.wait(attempt, None);
                            }
                        }
                    }
                }
                Err(failure) => match failure {
                    Failure::Fatal(e) => return Err(e),
                    Failure::RangeNotSatisfiable => {
                        return Err(DownloadError::Status {
                            url: url.into(),
                            status: 416,
                            reason: "Range Not Satisfiable".into(),
                        })
                    }
                    Failure::Retry { delay, error } => {
                        last = Some(error);
                        if attempt < self.retry.max_attempts {
                            self.wait(attempt, delay);
                        }
                    }
                },
            }
        }
        Err(with_attempts(last, url, self.retry.max_attempts, 0, ""))
    }

    /// Downloads `url` to `dest`, resuming from `<dest>.part` if one is
    /// there. With `expected_sha256`, a file with another checksum is
    /// discarded and reported. `bar` counts bytes.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        expected_sha256: Option<&str>,
        bar: &ProgressBar,
    ) -> Result<Downloaded, DownloadError> {
        let part = part_path(dest);
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| DownloadError::Io { path, source }
        };
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let resumed_from = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut last: Option<DownloadError> = None;
        let mut requests = 0;
        let mut done = false;
        for attempt in 1..=self.retry.max_attempts.max(1) {
            let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            let mut req = self.agent.get(url);
            if have > 0 {
                req = req.header("Range", &format!("bytes={have}-"));
                tracing::info!(url, have, "resuming");
            }
            requests += 1;
            let resp = match self.check(url, req.call()) {
                Ok(resp) => resp,
                Err(failure) => match failure {
                    Failure::Fatal(e) => return Err(e),
                    Failure::RangeNotSatisfiable => {
                        // The part is whole, or the file changed: start again.
                        tracing::warn!(url, have, "range not satisfiable; downloading from the start");
                        std::fs::remove_file(&part).map_err(io(&part))?;
                        continue;
                    }
                    Failure::Retry { delay, error } => {
                        last = Some(error);
                        if attempt < self.retry.max_attempts {
                            self.wait(attempt, delay);
                        }
                        continue;
                    }
                },
            };
            let status = resp.status().as_u16();
            let resuming = status == 206 && content_range_start(&resp) == Some(have);
            if status == 206 && !resuming {
                // A range we did not ask for: drop the part and ask for the whole file.
                tracing::warn!(url, have, "unexpected Content-Range; downloading from the start");
                let _ = std::fs::remove_file(&part);
                continue;
            }
            let content_length: Option<u64> = header(&resp, "Content-Length").and_then(|v| v.trim().parse().ok());
            let mut file = if resuming {
                OpenOptions::new().append(true).open(&part).map_err(io(&part))?
            } else {
                if have > 0 {
                    tracing::warn!(url, status, "the server ignored the range; downloading from the start");
                }
                File::create(&part).map_err(io(&part))?
            };
            let start = if resuming { have } else { 0 };
            bar.set_length(content_length.map_or(0, |n| n + start));
            bar.set_position(start);
            match copy(resp.into_body().into_reader(), &mut file, bar) {
                Ok(n) if content_length.is_none_or(|len| len == n) => {
                    file.sync_all().map_err(io(&part))?;
                    done = true;
                    break;
                }
                Ok(n) => {
                    last = Some(interrupted(
                        url,
                        attempt,
                        format!("{n} of {content_length:?} bytes"),
                        &part,
                    ));
                }
                Err(CopyError::Write(e)) => return Err(io(&part)(e)),
                Err(CopyError::Read(e)) => {
                    last = Some(interrupted(url, attempt, e.to_string(), &part));
                }
            }
            drop(file);
            if attempt < self.retry.max_attempts {
                self.wait(attempt, None);
            }
        }
        if !done {
            let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            return Err(with_attempts(last, url, requests, have, &part.display().to_string()));
        }
        let (bytes, sha256) = sha256_file(&part).map_err(io(&part))?;
        if let Some(expected) = expected_sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                let _ = std::fs::remove_file(&part);
                return Err(DownloadError::Checksum {
                    url: url.into(),
                    expected: expected.to_ascii_lowercase(),
                    actual: sha256,
                });
            }
        }
        std::fs::rename(&part, dest).map_err(io(dest))?;
        Ok(Downloaded {
            bytes,
            sha256,
            resumed_from,
            requests,
        })
    }
}

type Response = ureq::http::Response<ureq::Body>;

/// A header's value as text.
fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name)?.to_str().ok().map(str::to_string)
}

/// A request that got no HTTP answer: offline (no route, refused, no DNS)
/// or a broken transfer, both worth retrying; a bad URL is final.
fn transport_failure(url: &str, error: ureq::Error) -> Failure {
    use std::io::ErrorKind as K;
    let detail = error.to_string();
    let offline = || Failure::Retry {
        delay: None,
        error: DownloadError::Offline {
            url: url.into(),
            detail: detail.clone(),
        },
    };
    match &error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => offline(),
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                K::ConnectionRefused
                    | K::NotConnected
                    | K::AddrNotAvailable
                    | K::HostUnreachable
                    | K::NetworkUnreachable
            ) =>
        {
            offline()
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => Failure::Fatal(DownloadError::Status {
            url: url.into(),
            status: 0,
            reason: detail,
        }),
        _ => Failure::Retry {
            delay: None,
            error: DownloadError::Interrupted {
                url: url.into(),
                attempts: 0,
                detail,
                have: 0,
                part: String::new(),
            },
        },
    }
}

fn interrupted(url: &str, attempts: u32, detail: String, part: &Path) -> DownloadError {
    DownloadError::Interrupted {
        url: url.into(),
        attempts,
        detail,
        have: std::fs::metadata(part).map(|m| m.len()).unwrap_or(0),
        part: part.display().to_string(),
    }
}

/// The last error, with the attempt count and partial-file facts filled in.
fn with_attempts(last: Option<DownloadError>, url: &str, attempts: u32, have: u64, part: &str) -> DownloadError {
    match last {
        Some(DownloadError::GaveUp { url, status, .. }) => DownloadError::GaveUp { url, status, attempts },
        Some(DownloadError::Interrupted { url, detail, .. } | DownloadError::Broken { url, detail, .. })
            if part.is_empty() =>
        {
            DownloadError::Broken { url, attempts, detail }
        }
        Some(DownloadError::Interrupted { url, detail, .. }) => DownloadError::Interrupted {
            url,
            attempts,
            detail,
            have,
            part: part.into(),
        },
        Some(e) => e,
        None => DownloadError::Interrupted {
            url: url.into(),
            attempts,
            detail: "no attempt was made".into(),
            have,
            part: part.into(),
        },
    }
}

enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

fn copy(mut from: impl Read, to: &mut File, bar: &ProgressBar) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Keep what arrived: the next attempt resumes after it.
                let _ = to.flush();
                return Err(CopyError::Read(e));
            }
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
        bar.inc(n as u64);
    }
}

/// The first byte of a `Content-Range: bytes <start>-<end>/<len>` answer.
fn content_range_start(resp: &Response) -> Option<u64> {
    let v = header(resp, "Content-Range")?;
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured: backoff applies).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `<dest>.part`: where an unfinished download of `dest` is kept.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Size and lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    copy_hashing(File::open(path)?, std::io::sink())
}

/// Copies `from` to `to`, returning the bytes copied and their lower-case
/// hex sha256.
pub fn copy_hashing(mut from: impl Read, mut to: impl Write) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((total, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(4), Duration::from_millis(500));
        assert_eq!(p.backoff(40), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn part_path_appends() {
        assert_eq!(part_path(Path::new("a/b.zip")), PathBuf::from("a/b.zip.part"));
    }

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (n, h) = sha256_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
