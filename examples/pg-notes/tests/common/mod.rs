//! Shared fixtures of the pg-notes tests: a fresh database of the harness's cluster, counts.

use migrate_postgres::testing::{self, TestDatabase};

/// A fresh database, or `None` when the machine has no server binaries (the test returns
/// early; `testing::server` fails instead when `CI` is set).
pub fn db() -> Option<TestDatabase> {
    testing::server().map(|server| server.database())
}

/// The single bigint a counting query returns.
pub fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// The `key=value` connection string of a test database (its unix socket), as `PG_NOTES_URL`.
#[allow(dead_code)] // not every test file runs the binary
pub fn url(db: &TestDatabase) -> String {
    let server = testing::server().expect("the test server runs");
    format!(
        "host={} port=5432 user=postgres dbname={}",
        server.socket_dir().display(),
        db.name
    )
}
