//! Shared fixtures: a fresh database per test, and small queries the checks use.

use migrate_postgres::testing::{self, TestDatabase};

/// A fresh database, or `None` when the machine has no server (the test returns early;
/// `testing::server` fails instead when `CI` is set).
pub fn db() -> Option<TestDatabase> {
    testing::server().map(|server| server.database())
}

/// Rows of `table`.
pub fn count(client: &mut postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

/// True when `name` (e.g. `public.users`) resolves to a relation.
pub fn exists(client: &mut postgres::Client, name: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .unwrap()
        .get(0)
}

/// Pids of the sessions holding advisory locks with `key`.
pub fn lock_holders(client: &mut postgres::Client, key: i64) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((classid::bigint << 32) | objid::bigint) = $1 ORDER BY pid",
            &[&key],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The catalog fingerprint of the user's schema (the runner's own objects left out).
pub fn schema_print(db: &TestDatabase) -> String {
    migrate_postgres::fingerprint(&db.connect().schema_objects().unwrap())
}

/// Seqs recorded in `public._migrate_applied`, in order.
pub fn applied_seqs(client: &mut postgres::Client) -> Vec<i64> {
    client
        .query("SELECT seq FROM public._migrate_applied ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}
