//! Messages that tell the truth when the tracking table is not what the framework wrote
//! (another tool's table, a value edited by hand, a transactional migration marked started by
//! hand) and when no backup was taken: each names the problem and a way out that works, and
//! nothing is changed.

mod common;
use common::*;
use migrate_sqlite::{Error, Migration, Resolution, Step, TxMode};
use rusqlite::Connection;

/// Another tool keeps its own `_migrate_applied` (other columns) in the database: refused with
/// a message naming the table and its columns, instead of SQLite's "no such column"; the
/// other tool's table and the app's data are untouched, no migration ran.
#[test]
fn another_tools_tracking_table_is_named_not_reported_as_no_such_column() {
    let db = temp_db();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "CREATE TABLE _migrate_applied (version INTEGER PRIMARY KEY, installed_on TEXT);
         INSERT INTO _migrate_applied VALUES (1, '2026-01-01'), (2, '2026-02-01');",
    )
    .unwrap();
    let before = dump(&db.path);
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    for err in [
        session.up().unwrap_err(),
        session.status().unwrap_err(),
        session.plan().unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(matches!(err, Error::TrackingUnreadable { .. }), "{err:?}");
        assert!(!text.contains("no such column"), "{text}");
        assert!(
            text.contains("the table _migrate_applied is not this framework's"),
            "{text}"
        );
        assert!(text.contains("columns are version, installed_on"), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
    }
    drop(session);
    assert_eq!(dump(&db.path), before);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    assert!(!table_exists(&conn, "t1"));
    assert!(!table_exists(&conn, "_migrate_history"));
}

/// A tracking row with a NULL checksum (a table whose constraints were lost, then a hand edit):
/// the message names the row and column instead of "Invalid column type Null", and the way
/// out it prints works.
#[test]
fn a_null_checksum_names_the_row_and_the_way_out_works() {
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    // The same columns without NOT NULL (as an older copy of the table might have), then the
    // hand edit.
    conn.execute_batch(
        "CREATE TABLE loose AS SELECT * FROM _migrate_applied;
         DROP TABLE _migrate_applied;
         ALTER TABLE loose RENAME TO _migrate_applied;
         UPDATE _migrate_applied SET checksum = NULL WHERE seq = 2;",
    )
    .unwrap();
    let before = dump(&db.path);

    let mut session = migrator(tables(3)).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::TrackingUnreadable { .. }), "{err:?}");
    assert!(!text.contains("Invalid column type"), "{text}");
    assert!(
        text.contains(
            "the row of migration 2 (set \"default\") in _migrate_applied has a NULL checksum"
        ),
        "{text}"
    );
    assert!(text.contains("migrate up --accept-checksum 2"), "{text}");
    assert!(session.status().is_err());
    drop(session);
    assert_eq!(dump(&db.path), before);
    assert!(!table_exists(&conn, "t3"), "nothing ran");

    // The way out, as printed: put a checksum back, accept the current one.
    conn.execute(
        "UPDATE _migrate_applied SET checksum = 'unknown' WHERE set_name = 'default' AND seq = 2",
        [],
    )
    .unwrap();
    let report = migrator(tables(3))
        .accept_checksum(2)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(report.accepted_checksums, [2]);
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
}

/// A transactional migration recorded as started (the runner never leaves one that way) is
/// called what it is, not "a non-transactional migration that started and never finished";
/// the resolve command it names works.
#[test]
fn a_transactional_migration_marked_started_by_hand_is_named_as_such() {
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute(
        "UPDATE _migrate_applied SET state = 'started' WHERE seq = 2",
        [],
    )
    .unwrap();
    let before = dump(&db.path);

    let mut session = migrator(tables(3)).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("non-transactional"), "{text}");
    assert!(
        text.contains("it runs in a transaction, so the runner never leaves it that way"),
        "{text}"
    );
    assert!(
        text.contains("changed by hand or by another tool"),
        "{text}"
    );
    assert!(text.contains("`migrate resolve 2 --applied`"), "{text}");
    assert!(text.contains("`migrate resolve 2 --not-applied`"), "{text}");
    assert_eq!(dump(&db.path), before);
    assert!(!table_exists(&conn, "t3"));

    // t2 is there, so: resolve as applied, and the run goes on.
    session.resolve(2, Resolution::Applied).unwrap();
    session.up().unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
}

/// With backups off, a failed `transaction = false` migration's message says this run took
/// no backup and why, never that "this version does not take backups automatically yet"; the
/// migration stays recorded as started, and no backup directory exists.
#[test]
fn with_backups_off_the_message_says_why_there_is_no_backup() {
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "backfill",
            Step::sql("CREATE TABLE IF NOT EXISTS f (x); INSERT INTO f VALUES (1); SELECT * FROM missing;"),
        )
        .with_mode(TxMode::NonTransactional),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("does not take backups"), "{text}");
    assert!(
        text.contains(
            "this run took none (backups are turned off for this migrator with `without_backups()`"
        ),
        "{text}"
    );
    assert!(text.contains("`migrate resolve 1 --applied`"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    let state: String = conn
        .query_row(
            "SELECT state FROM _migrate_applied WHERE seq = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "started");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM f", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows, 1,
        "its partial work stays (nothing to restore it from)"
    );
    assert!(!db.dir.path().join("app.db.backups").exists());
}
