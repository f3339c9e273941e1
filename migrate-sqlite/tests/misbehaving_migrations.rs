//! Whatever a migration does to the runner's transaction (rolling back or releasing its
//! savepoint, COMMIT/VACUUM/BEGIN, switching the journal, panicking, leaving a transaction
//! open), it cannot escape it: the database, tracking rows, history and message agree.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::{Error, FailurePolicy, Migration, Migrator, Step, TxMode};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// A migration that touches the runner's transaction
// ---------------------------------------------------------------------------------------------

/// A migration cannot roll back to the runner's savepoint (refused, in any letter case), nor to
/// a batch savepoint (the runner keeps none): it fails alone, and under KeepApplied the
/// migrations before it stay applied, exactly as the tracking rows, history and message say.
#[test]
fn a_migration_cannot_roll_back_to_the_runners_savepoint() {
    for (statement, refused) in [
        ("ROLLBACK TO migrate_step", true),
        ("ROLLBACK TO Migrate_Step", true),
        ("ROLLBACK TO migrate_batch", false),
    ] {
        let db = temp_db();
        let mut list = tables(2);
        list.push(sql(
            3,
            "rolls_back",
            &format!("{statement}; CREATE TABLE three (x)"),
            "DROP TABLE three",
        ));
        let err = migrator(list)
            .failure_policy(FailurePolicy::KeepApplied)
            .open(&db.path)
            .unwrap()
            .up()
            .unwrap_err();
        match cause(&err) {
            Error::Refused { why } if refused => {
                assert!(
                    why.contains("the runner's own savepoint"),
                    "{statement}: {why}"
                )
            }
            Error::Sql(e) if !refused => assert!(
                e.to_string().contains("no such savepoint: migrate_batch"),
                "{statement}: {e}"
            ),
            other => panic!("{statement}: unexpected cause {other:?}"),
        }
        assert_eq!(
            outcome(&err),
            format!("Kept from this run: applied 1, 2. The database is now at seq 2. {FIX_AND_UP}"),
            "{statement}"
        );
        let conn = Connection::open(&db.path).unwrap();
        assert_eq!(applied_seqs(&conn), [1, 2], "{statement}");
        assert_eq!(started_seqs(&conn), [0u64; 0], "{statement}");
        assert!(table_exists(&conn, "t1") && table_exists(&conn, "t2"));
        assert!(!table_exists(&conn, "three"), "{statement}");
        assert_eq!(history(&conn), ["1 up ok", "2 up ok", "3 up failed"]);
    }
}

/// A migration cannot release the runner's savepoint: the RELEASE is refused before anything
/// else runs, so under KeepApplied no partial work is committed and only migration 1 is kept.
#[test]
fn a_migration_cannot_release_the_runners_savepoint() {
    let db = temp_db();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "releases_step",
        Step::sql("RELEASE migrate_step; CREATE TABLE half (x); INSERT INTO missing VALUES (1)"),
    ));
    let err = migrator(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(cause(&err), Error::Refused { why } if why.contains("\"migrate_step\" (Release)")),
        "{err}"
    );
    assert_eq!(
        outcome(&err),
        format!("Kept from this run: applied 1. The database is now at seq 1. {FIX_AND_UP}")
    );
    let conn = Connection::open(&db.path).unwrap();
    assert!(table_exists(&conn, "t1"));
    assert!(!table_exists(&conn, "half"));
    assert_eq!(applied_seqs(&conn), [1]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert_eq!(history(&conn), ["1 up ok", "2 up failed"]);
}

/// The `COMMIT; VACUUM; BEGIN` hack inside a transactional migration is refused at its COMMIT:
/// the whole run rolls back, the failure is on record, and the message says nothing was kept.
#[test]
fn the_commit_vacuum_begin_hack_is_refused_and_the_run_rolls_back() {
    let db = temp_db();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "vacuum_hack",
        Step::sql("CREATE TABLE two (x); COMMIT; VACUUM; BEGIN;"),
    ));
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        matches!(cause(&err), Error::Refused { why } if why.contains("ran COMMIT")),
        "{err}"
    );
    assert_eq!(outcome(&err), format!("{NOTHING_KEPT} {FIX_AND_UP}"));
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "t1") && !table_exists(&conn, "two"));
    assert_eq!(applied_seqs(&conn), [0u64; 0]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert_eq!(history(&conn), ["2 up failed"]);
}

// ---------------------------------------------------------------------------------------------
// Non-transactional migrations that misbehave, and concurrent starts
// ---------------------------------------------------------------------------------------------

/// A non-transactional migration that panics with its own transaction open: the transaction
/// is rolled back, the row stays started, the settings are restored, the lock is released.
#[test]
fn a_panic_inside_a_non_transactional_migration_is_contained() {
    let db = temp_db();
    let mut list = tables(1);
    list.push(
        Migration::new(
            2,
            "panics",
            Step::new(|tx| {
                tx.execute_batch("BEGIN; CREATE TABLE inside (x);")?;
                panic!("boom outside the runner's transaction");
            }),
        )
        .with_mode(TxMode::NonTransactional),
    );
    let mut conn = Connection::open(&db.path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let err = Migrator::new()
        .without_backups()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("boom outside"), "{text}");
    assert!(text.contains("stays recorded as started"), "{text}");
    assert!(conn.is_autocommit());
    assert!(!table_exists(&conn, "inside"));
    assert_eq!(applied_seqs(&conn), [1]);
    assert_eq!(started_seqs(&conn), [2]);
    assert_eq!(pragma(&conn, "foreign_keys"), 0, "the caller's OFF is kept");
    let lock = std::fs::File::open(migrate_sqlite::lock_path(&db.path)).unwrap();
    lock.try_lock().expect("the migration lock was released");
}

/// A non-transactional migration that returns Ok but leaves its own transaction open: its
/// transaction is rolled back, the error says why, and the migration stays started.
#[test]
fn a_non_transactional_migration_that_leaves_a_transaction_open_is_rolled_back_and_left_started() {
    let db = temp_db();
    let list = vec![non_tx(1, "open_tx", "BEGIN; CREATE TABLE dangling (x);")];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("left a transaction open"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&conn, "dangling"));
    assert_eq!(started_seqs(&conn), [1]);
}

/// A transactional migration that switches to WAL is refused (journal_mode cannot change
/// inside the runner's transaction) and changes nothing.
#[test]
fn switching_to_wal_inside_a_transactional_migration_is_refused_and_changes_nothing() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let before = dump(&db.path);
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "wal",
        Step::new(|tx| {
            let _: String = tx.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            Ok(())
        }),
    ));
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert!(
        matches!(cause(&err), Error::Refused { why } if why.contains("changed journal_mode")),
        "{err}"
    );
    assert_eq!(dump(&db.path), before);
    let mode: String = Connection::open(&db.path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
}
