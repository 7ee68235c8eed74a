//! The case count of this crate's property tests: the given number in CI,
//! `PROPTEST_CASES` when it is set (docs/testing.md).

use proptest::test_runner::Config;

/// `n` cases, or `PROPTEST_CASES` when it is set.
pub(crate) fn cases(n: u32) -> Config {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    Config {
        cases: from_env.unwrap_or(n),
        ..Config::default()
    }
}
