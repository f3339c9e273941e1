//! Helpers of the tests about what a run did: outcome texts, history, started rows, busy
//! readers.
#![allow(dead_code)]

use migrate_sqlite::{Error, Migration, Migrator, Session, Step, TxMode};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::Duration;

use super::table_exists;

/// The busy timeout of tests that wait for a lock on purpose.
pub const WAIT: Duration = Duration::from_millis(100);

/// What every failed run that kept nothing says, on a database that had no migration applied.
pub const NOTHING_KEPT: &str = "Nothing from this run was kept: the database is as it was before \
                            the run (no migration applied).";

/// What a failed `up` that rolled its failing migration back tells the operator to do.
pub const FIX_AND_UP: &str =
    "Nothing needs restoring; fix the migration and run `migrate up` again.";

pub fn outcome(err: &Error) -> &str {
    match err {
        Error::MigrationFailed { outcome, .. } => outcome,
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
}

/// Why the migration failed.
pub fn cause(err: &Error) -> &Error {
    match err {
        Error::MigrationFailed { source, .. } => source,
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
}

pub fn non_tx(seq: u64, name: &str, up: &str) -> Migration {
    Migration::new(seq, name, Step::sql(up)).with_mode(TxMode::NonTransactional)
}

pub fn started_seqs(conn: &Connection) -> Vec<u64> {
    let mut stmt = conn
        .prepare("SELECT seq FROM _migrate_applied WHERE state = 'started' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap() as u64)
        .collect()
}

/// The history as `"<seq> <action> <outcome>"`, oldest first.
pub fn history(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT seq, action, outcome FROM _migrate_history ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let seq: Option<i64> = r.get(0)?;
        let seq = seq.map_or("-".to_owned(), |s| s.to_string());
        Ok(format!(
            "{seq} {} {}",
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?
        ))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// True when none of the framework's tables exist: the run left no trace at all.
pub fn no_tracking_tables(conn: &Connection) -> bool {
    ["_migrate_applied", "_migrate_history", "_migrate_schema"]
        .iter()
        .all(|name| !table_exists(conn, name))
}

/// A second connection holding a read transaction: in rollback-journal mode it holds a SHARED
/// lock, so every COMMIT of the migrator waits for it (busy timeout) and then fails with BUSY.
pub fn reader(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    let _: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    conn
}

/// Opens `path` with a busy timeout of [`WAIT`], for tests that wait for a lock on purpose.
pub fn impatient(migrator: Migrator, path: &Path) -> Session<'static> {
    migrator.busy_timeout(WAIT).open(path).unwrap()
}

pub fn is_busy(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}
