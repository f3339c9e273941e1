//! `Session::restore_table` on real files: the table's rows come back exactly as the backup
//! holds them (rowids included, for tables that have them). (The CLI flows:
//! `tests/tests/cli_restore_table.rs`.)
#![cfg(unix)]

mod common;
use common::*;
use migrate_sqlite::RestoreFrom;
use rusqlite::Connection;

fn rows_with_rowids(conn: &Connection, table: &str) -> Vec<(i64, String)> {
    let mut stmt = conn
        .prepare(&format!("SELECT rowid, body FROM {table} ORDER BY rowid"))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn notes() -> Vec<migrate_sqlite::Migration> {
    vec![sql(
        1,
        "notes",
        "CREATE TABLE notes (body TEXT); CREATE TABLE other (x)",
        "DROP TABLE notes; DROP TABLE other",
    )]
}

#[test]
fn a_restored_table_keeps_the_rowids_of_the_backup() {
    // A rowid table without INTEGER PRIMARY KEY: other data (an external-content full-text
    // index, the application's own references) knows its rows by rowid.
    let db = temp_db();
    let mut session = migrator_with_backups(notes()).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO notes (rowid, body) VALUES (5, 'five'), (9, 'nine')")
        .unwrap();
    session.snapshot("notes").unwrap();
    session
        .connection()
        .execute_batch("DELETE FROM notes; INSERT INTO notes (rowid, body) VALUES (1, 'new')")
        .unwrap();

    let report = session
        .restore_table("notes", &RestoreFrom::Snapshot("notes".into()))
        .unwrap();
    assert_eq!((report.rows_before, report.rows_after), (1, 2));
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(5, "five".to_owned()), (9, "nine".to_owned())]
    );
    // The undo backup holds the state before, rowid included.
    let undo = Connection::open(&report.undo_backup.path).unwrap();
    assert_eq!(
        rows_with_rowids(&undo, "notes"),
        vec![(1, "new".to_owned())]
    );
}
