//! Test support shared by every crate's tests: how a test that needs something absent (a real
//! peer, a third-party client, reference data) says it is skipped.
//!
//! A skip is written to stderr directly, past the test harness's capture, so a plain
//! `cargo test` shows it. Under `BRICK_TEST_STRICT=1` (set by `tests/run-all.sh`, which
//! installs and starts everything the tests need, and so by CI) a skip is a failure instead:
//! a missing peer or client can never turn a CI run green silently. Third-party reference
//! data that lives outside the repository (`../shared`) is the exception: tests that read it
//! skip with a message wherever it is absent ([`skip_without_reference_data`]).

use std::io::Write;

/// The variable that makes skips failures.
pub const STRICT: &str = "BRICK_TEST_STRICT";

/// Says that the running test is skipped because of `reason`, or panics with it when skips
/// are failures ([`STRICT`]). The caller returns right after.
pub fn skip(reason: &str) {
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    if strict() {
        panic!("{test}: {reason} ({STRICT}=1: everything the tests need must be present)");
    }
    let _ = writeln!(std::io::stderr(), "{test}: skipped: {reason}");
}

/// Says that the running test is skipped because reference data kept outside the repository
/// (`../shared`, which the project must not copy in) is absent. Never a failure, not even
/// under [`STRICT`]: where that data lives is up to the machine.
pub fn skip_without_reference_data(reason: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    let _ = writeln!(std::io::stderr(), "{test}: skipped: {reason}");
}

/// Whether skips are failures.
pub fn strict() -> bool {
    std::env::var_os(STRICT).is_some_and(|v| v == "1")
}
