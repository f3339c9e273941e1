//! Compile-time errors of `migrate_postgres::migration` (the same checks as the SQLite form,
//! with `&mut Tx` steps), and a crate that uses migrate-postgres alone: one `TestCases` run for
//! every PostgreSQL case. Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p migrate-tests --test ui_pg`, then read every diff.

#[test]
fn ui_pg() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-pg/*.rs");
    t.pass("tests/ui-pg-pass/*.rs");
}
