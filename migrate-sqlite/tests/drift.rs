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
