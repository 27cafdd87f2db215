//! Printing a briefing page to PDF with headless Chromium (Debian's
//! `chromium`, as the browser test uses): `--print-to-pdf` with the page's
//! own A4 print stylesheet, no header or footer, a throwaway profile per
//! run so runs can go in parallel.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BriefingError;

/// Chromium: `HOTSPOTS_CHROMIUM` if set, else `/usr/bin/chromium`, else
/// `chromium`, `chromium-browser` or `google-chrome` on `PATH`.
pub fn find_chromium() -> Result<PathBuf, BriefingError> {
    if let Some(p) = std::env::var_os("HOTSPOTS_CHROMIUM") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(BriefingError::Pdf(format!(
                "HOTSPOTS_CHROMIUM names {}, which is not a file; --pdf needs headless Chromium",
                p.display()
            )))
        };
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Ok(fixed);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(BriefingError::Pdf(
        "--pdf needs headless Chromium, and none was found (looked for HOTSPOTS_CHROMIUM, /usr/bin/chromium, and chromium, chromium-browser, google-chrome on PATH); install it (Debian: apt-get install chromium) or leave out --pdf".into(),
    ))
}

/// Prints the HTML file `html` to `pdf` (A4, the page's print stylesheet).
pub fn print(chromium: &Path, html: &Path, pdf: &Path) -> Result<(), BriefingError> {
    let html = std::path::absolute(html).map_err(|source| BriefingError::Io {
        path: html.display().to_string(),
        source,
    })?;
    let profile = tempfile_dir(pdf)?;
    let out = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            // Nothing leaves the host: every name resolves nowhere.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let _ = std::fs::remove_dir_all(&profile);
    let out = out.map_err(|e| BriefingError::Pdf(format!("could not run {}: {e}", chromium.display())))?;
    let ok = std::fs::metadata(pdf).is_ok_and(|m| m.len() > 0);
    if !out.status.success() || !ok {
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(BriefingError::Pdf(format!(
            "{} could not print {} to {} ({}): {}",
            chromium.display(),
            html.display(),
            pdf.display(),
            out.status,
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )));
    }
    Ok(())
}

/// A fresh profile directory beside the output.
fn tempfile_dir(pdf: &Path) -> Result<PathBuf, BriefingError> {
    let dir = pdf.parent().unwrap_or(Path::new(".")).join(format!(
        ".chromium-profile-{}-{}",
        std::process::id(),
        pdf.file_stem().and_then(|s| s.to_str()).unwrap_or("page")
    ));
    std::fs::create_dir_all(&dir).map_err(|source| BriefingError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir)
}

/// Pages in a PDF Chromium wrote: its page objects (`/Type /Page`, not
/// `/Pages`). Skia writes them uncompressed.
pub fn page_count(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| &w[..needle.len()] == needle && w[needle.len()] != b's')
        .count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_page_objects_not_the_page_tree() {
        let pdf =
            b"1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] >> 2 0 obj << /Type /Page >> 3 0 obj << /Type /Page\n>>";
        assert_eq!(super::page_count(pdf), 2);
    }
}
