//! Compile-time errors of `#[migration]`: one program per mistake, each with the exact message
//! and span it must produce (`tests/ui/*.stderr`). Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p migrate-tests --test ui`, then read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
