//! Drift: a schema changed by hand since the last run is reported by `status`, naming what.

mod common;
use common::*;
use rusqlite::Connection;

#[test]
fn status_reports_objects_added_removed_and_changed_by_hand() {
    let db = temp_db();
    let mut session = migrator(tables(3)).open(&db.path).unwrap();
    session.up().unwrap();
    assert!(session.status().unwrap().is_clean());

    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "CREATE TABLE by_hand (x);
         DROP TABLE t2;
         ALTER TABLE t1 ADD COLUMN extra TEXT;",
    )
    .unwrap();
    let status = session.status().unwrap();
    let drift = status.drift.clone().expect("drift reported");
    assert_eq!(drift.added, ["table by_hand"]);
    assert_eq!(drift.removed, ["table t2"]);
    assert_eq!(drift.changed, ["table t1"]);
    assert!(!status.is_clean());
    assert!(status.to_string().contains("schema drift"), "{status}");
}

#[test]
fn a_later_run_records_the_new_schema_so_its_changes_are_not_drift() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    assert!(session.status().unwrap().drift.is_none());
}

/// A table whose definition carries a `--` comment, as hand-written SQL often does.
fn commented_table() -> Vec<migrate_sqlite::Migration> {
    vec![sql(
        1,
        "create_people",
        "CREATE TABLE people (\n  id INTEGER PRIMARY KEY,\n  name TEXT -- shown in lists\n  , email TEXT\n)",
        "DROP TABLE people",
    )]
}

#[test]
fn a_column_moved_into_a_comment_by_hand_is_drift() {
    let db = temp_db();
    let mut session = migrator(commented_table()).open(&db.path).unwrap();
    session.up().unwrap();
    assert!(session.status().unwrap().drift.is_none());

    // By hand: the same table, but `email` now sits inside the comment (the newline is gone).
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "DROP TABLE people;
         CREATE TABLE people (\n  id INTEGER PRIMARY KEY,\n  name TEXT -- shown in lists  , email TEXT\n);",
    )
    .unwrap();
    let columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('people')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(columns, 2, "the email column is really gone");
    let drift = session.status().unwrap().drift.expect("drift reported");
    assert_eq!(drift.changed, ["table people"]);
    assert!(drift.added.is_empty() && drift.removed.is_empty());
}

#[test]
fn respacing_or_recasing_a_definition_by_hand_is_not_drift() {
    let db = temp_db();
    let mut session = migrator(commented_table()).open(&db.path).unwrap();
    session.up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "DROP TABLE people;
         CREATE TABLE people(id integer primary key,name text,email text);",
    )
    .unwrap();
    let status = session.status().unwrap();
    assert!(status.drift.is_none(), "{status}");
}

/// The schema snapshot as versions before comment removal stored it: whitespace collapsed,
/// comments kept (so a `--` comment runs to the end of the text).
const LEGACY_PEOPLE: &str = "CREATE TABLE people ( id INTEGER PRIMARY KEY, name TEXT -- shown \
                             in lists , email TEXT )";

#[test]
fn a_snapshot_stored_by_an_earlier_version_with_comments_is_not_false_drift() {
    let db = temp_db();
    let mut session = migrator(commented_table()).open(&db.path).unwrap();
    session.up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute(
        "UPDATE _migrate_schema SET sql = ?1 WHERE name = 'people'",
        [LEGACY_PEOPLE],
    )
    .unwrap();
    assert!(session.status().unwrap().drift.is_none());

    // A hand change is still found against the old snapshot. (A column moved into the
    // comment is not: the old snapshot cannot tell; the next run stores a new one.)
    conn.execute_batch("ALTER TABLE people ADD COLUMN phone TEXT")
        .unwrap();
    let drift = session.status().unwrap().drift.expect("drift reported");
    assert_eq!(drift.changed, ["table people"]);
}
