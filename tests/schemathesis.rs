//! schemathesis (pinned in tests/schemathesis/requirements.txt) against a
//! running `hotspots serve` on the demo city: every operation in `/api`,
//! every phase (examples, coverage, fuzzing, stateful), with a time budget.
//! It fails on any 5xx, any status `/api` does not document, and any
//! response whose body, content type or headers do not match the schema.
//!
//! `positive_data_acceptance` is left out on purpose: it expects every
//! schema-valid request to succeed, but a valid request may still be refused
//! for its cost (422) or name a feature that does not exist (404), both
//! documented answers.
//!
//! The schemathesis executable is named by `HOTSPOTS_SCHEMATHESIS`; without
//! it the test says SKIPPED, unless `HOTSPOTS_REQUIRE_SCHEMATHESIS=1` (as in
//! CI). `HOTSPOTS_SCHEMATHESIS_SECONDS` sets the budget (default 240).

use std::process::Command;

use crate::common;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance";

#[test]
fn schemathesis_finds_no_server_error_undocumented_status_or_schema_mismatch() {
    let required = std::env::var("HOTSPOTS_REQUIRE_SCHEMATHESIS").is_ok_and(|v| v == "1");
    let Some(st) = std::env::var_os("HOTSPOTS_SCHEMATHESIS").filter(|p| !p.is_empty()) else {
        let msg = "schemathesis: HOTSPOTS_SCHEMATHESIS is not set (a venv's schemathesis with tests/schemathesis/requirements.txt)";
        assert!(!required, "{msg}, and HOTSPOTS_REQUIRE_SCHEMATHESIS=1");
        eprintln!("SKIPPED {msg}");
        return;
    };
    let seconds = std::env::var("HOTSPOTS_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "240".into());
    let server = common::ServerProcess::start(&common::demo_dataset(), &[]);
    let out = Command::new(st)
        .args(["run", &format!("{}/api", server.base)])
        .args(["--checks", CHECKS])
        .args(["--max-examples", "10", "--max-time", &seconds])
        .args(["--workers", "2", "--request-timeout", "120", "--no-color"])
        // A fixed seed: a failure in CI reproduces locally.
        .args(["--seed", "20261205"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found failures (above)");
    assert!(
        text.contains("Tested: ") && !text.contains("Tested: 0"),
        "schemathesis tested no operation"
    );
}
