//! The fixture of the row-count guard's tests: a table of three people (email unique) and a
//! second, untouched table, plus readers of counts and history.

use super::{migrator, sql};
use migrate_sqlite::{Error, Flags, Migration, RowCount, RunReport};
use rusqlite::Connection;
use std::path::Path;

/// 1: `people` (three rows, email unique); 2: `audit` (one row).
pub fn base() -> Vec<Migration> {
    vec![
        sql(
            1,
            "people",
            "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, team TEXT);
             INSERT INTO people (email, team) VALUES ('a@x', 'red'), ('b@x', 'red'), ('c@x', 'blue');",
            "DROP TABLE people",
        ),
        sql(
            2,
            "audit",
            "CREATE TABLE audit (at TEXT); INSERT INTO audit VALUES ('then');",
            "DROP TABLE audit",
        ),
    ]
}

/// [`base`] followed by `extra`.
pub fn with(extra: impl IntoIterator<Item = Migration>) -> Vec<Migration> {
    let mut list = base();
    list.extend(extra);
    list
}

/// Every email becomes the same: UPDATE OR REPLACE removes the rows it collides with.
pub const COLLAPSE: &str = "UPDATE OR REPLACE people SET email = 'team@x'";

pub fn rebuild_flag(m: Migration) -> Migration {
    m.with_flags(Flags::NONE.with_rebuilds_tables(true))
}

pub fn destructive_flag(m: Migration) -> Migration {
    m.with_flags(Flags::NONE.with_destructive(true))
}

pub fn count(path: &Path, table: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// The row counts recorded by the last successful run of `seq`.
pub fn counts_of(path: &Path, seq: u64) -> Vec<RowCount> {
    let db = migrator(base()).open(path).unwrap();
    db.history()
        .unwrap()
        .into_iter()
        .rev()
        .find(|h| h.event.seq == Some(seq) && h.event.outcome == "ok")
        .map(|h| h.event.row_counts)
        .unwrap_or_default()
}

pub fn rows(table: &str, before: Option<u64>, after: Option<u64>) -> RowCount {
    RowCount {
        table: table.into(),
        before,
        after,
    }
}

/// The run failed at `seq` because of the row-count guard; the error's text.
pub fn assert_rows_lost(result: migrate_sqlite::Result<RunReport>, seq: u64) -> String {
    let err = match result {
        Ok(report) => panic!("the guard let migration {seq} through: {report:?}"),
        Err(e) => e,
    };
    let Error::MigrationFailed {
        seq: failed,
        source,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*failed, seq, "{err}");
    assert!(
        matches!(source.as_ref(), Error::RowsLost { .. }),
        "not the guard: {source}"
    );
    err.to_string()
}
