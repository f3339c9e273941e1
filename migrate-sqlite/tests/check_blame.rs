//! Checks blame a migration only for what it did; runs with nothing to do write nothing.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::SchemaDiff;
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Checks blame a migration only for what it did; runs with nothing to do write nothing
// ---------------------------------------------------------------------------------------------

/// A foreign key orphan that predates the run does not fail a migration; only a violation the
/// migration itself adds does, and the message says the older one was not blamed on it.
#[test]
fn a_pre_existing_orphan_does_not_fail_an_unrelated_migration() {
    let db = temp_db();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
         INSERT INTO child VALUES (1, 42);",
    )
    .unwrap();
    let mut list = vec![sql(
        1,
        "unrelated",
        "CREATE TABLE notes (x)",
        "DROP TABLE notes",
    )];
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert!(table_exists(&conn, "notes"));

    list.push(sql(
        2,
        "new_orphan",
        "INSERT INTO child VALUES (2, 43)",
        "DELETE FROM child WHERE id = 2",
    ));
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let why = cause(&err).to_string();
    assert!(
        why.starts_with(
            "the migration left 1 new foreign key violation(s): child rowid 2 -> parent"
        ),
        "{why}"
    );
    assert!(
        why.contains("(1 older violations were already there and are not blamed on it)"),
        "{why}"
    );
    assert_eq!(applied_seqs(&conn), [1]);
    let children: i64 = conn
        .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        children, 1,
        "the older orphan stays, the new one was rolled back"
    );
}

/// A run with nothing to do (`down_to` the current seq) writes nothing, so a hand-made change
/// found before it is still reported as drift after it.
#[test]
fn a_no_op_down_keeps_drift_visible_and_writes_nothing() {
    let db = temp_db();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("DROP TABLE t2")
        .unwrap();
    let drift = SchemaDiff {
        removed: vec!["table t2".to_owned()],
        ..SchemaDiff::default()
    };
    assert_eq!(session.status().unwrap().drift.as_ref(), Some(&drift));
    let before = bytes(&db.path);
    let report = session.down_to(2).unwrap();
    assert!(report.steps.is_empty());
    assert_eq!(
        session.status().unwrap().drift,
        Some(drift),
        "a run that reverted nothing made the drift disappear"
    );
    assert_eq!(bytes(&db.path), before, "a run with nothing to do wrote");
}
