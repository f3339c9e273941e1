//! Another connection holds the database: a COMMIT that fails, busy timeouts, concurrent
//! starts, resolve: the database, tracking rows, history and message agree on what happened.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::{Error, FailurePolicy, Migration, Migrator, Resolution, Step, TxMode};
use rusqlite::Connection;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A COMMIT that fails (a concurrent reader in rollback-journal mode)
// ---------------------------------------------------------------------------------------------

/// When the COMMIT before a non-transactional migration is BUSY, the whole run is rolled back
/// and the message says so: the commit stayed locked (exit 4, wait and run again), not
/// migration 2 failing, which never ran; it never claims migration 1 was committed or 2 left
/// started. (The reader also blocks recording anything, so the run leaves no trace at all.)
#[test]
fn a_busy_commit_before_a_non_transactional_migration_rolls_everything_back_and_says_so() {
    let db = temp_db();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("CREATE TABLE app (x)")
        .unwrap();
    let before = dump(&db.path);
    let mut list = tables(1);
    list.push(non_tx(2, "compact", "VACUUM"));
    let reading = reader(&db.path);
    let err = impatient(migrator(list), &db.path).up().unwrap_err();
    drop(reading);
    match &err {
        Error::Busy { doing, outcome, .. } => {
            assert_eq!(doing, "committing");
            assert!(outcome.starts_with(NOTHING_KEPT), "{outcome}");
            assert!(!outcome.contains("stays recorded as started"), "{outcome}");
            assert!(!outcome.contains("migrate resolve"), "{outcome}");
        }
        other => panic!("expected Busy at the commit, got {other:?}"),
    }
    assert!(!err.to_string().contains("\"compact\""), "{err}");
    assert_eq!(dump(&db.path), before);
    let conn = Connection::open(&db.path).unwrap();
    assert!(
        no_tracking_tables(&conn),
        "the rolled-back run left tracking tables"
    );
}

/// Under KeepApplied, when committing the migrations that succeeded is BUSY, SQLite keeps none
/// of them: the message says nothing was kept, and the database has no trace of the run.
#[test]
fn keep_applied_reports_nothing_kept_when_committing_the_survivors_fails() {
    let db = temp_db();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("CREATE TABLE app (x)")
        .unwrap();
    let before = dump(&db.path);
    let mut list = tables(2);
    list.push(Migration::new(
        3,
        "broken",
        Step::sql("INSERT INTO missing VALUES (1)"),
    ));
    let reading = reader(&db.path);
    let err = impatient(
        migrator(list).failure_policy(FailurePolicy::KeepApplied),
        &db.path,
    )
    .up()
    .unwrap_err();
    drop(reading);
    assert!(
        cause(&err).to_string().contains("no such table: missing"),
        "{err}"
    );
    let text = outcome(&err);
    assert!(text.starts_with(NOTHING_KEPT), "{text}");
    assert!(!text.contains("stay applied") && !text.contains("Kept from this run"));
    assert_eq!(dump(&db.path), before);
    let conn = Connection::open(&db.path).unwrap();
    assert!(
        no_tracking_tables(&conn),
        "the rolled-back run left tracking tables"
    );
}

/// Two migrators started at the same time on the same file, with a slow non-transactional
/// migration that spans several transactions: each migration runs exactly once.
#[test]
fn concurrent_starts_apply_each_migration_once() {
    let db = temp_db();
    let list = || {
        let mut list = tables(1);
        list.push(
            Migration::new(
                2,
                "slow",
                Step::new(|tx| {
                    std::thread::sleep(Duration::from_millis(300));
                    tx.execute_batch("CREATE TABLE IF NOT EXISTS slow (x)")?;
                    Ok(())
                }),
            )
            .with_mode(TxMode::NonTransactional),
        );
        list.extend(tables(3).into_iter().skip(2));
        list
    };
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let path = db.path.clone();
            let list = list();
            std::thread::spawn(move || {
                migrator(list)
                    .open(&path)
                    .unwrap()
                    .up()
                    .map(|r| r.steps.len())
            })
        })
        .collect();
    let mut steps: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    steps.sort();
    assert_eq!(steps, [0, 3]);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    let ups: i64 = conn
        .query_row(
            "SELECT count(*) FROM _migrate_history WHERE action = 'up'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ups, 3);
}

// ---------------------------------------------------------------------------------------------
// resolve, busy timeouts, and the caller's connection
// ---------------------------------------------------------------------------------------------

/// A `resolve` whose COMMIT is BUSY reports `Locked`, changes nothing and rolls its write
/// transaction back: other writers can write, and the same session can resolve afterwards.
#[test]
fn a_failed_resolve_commit_releases_the_write_lock() {
    let db = temp_db();
    let broken = || {
        vec![non_tx(
            1,
            "backfill",
            "CREATE TABLE IF NOT EXISTS f (x); SELECT * FROM missing;",
        )]
    };
    migrator(broken()).open(&db.path).unwrap().up().unwrap_err();
    let mut session = migrator(broken())
        .busy_timeout(WAIT)
        .open(&db.path)
        .unwrap();
    let reading = reader(&db.path);
    let resolved = session.resolve(1, Resolution::NotApplied);
    drop(reading);
    assert!(
        matches!(resolved, Err(Error::Locked { waited_ms: 100, .. })),
        "the COMMIT should have been busy: {resolved:?}"
    );
    assert!(
        session.connection().is_autocommit(),
        "write transaction left open"
    );
    let other = Connection::open(&db.path).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .expect("another writer can take the write lock");
    assert_eq!(
        started_seqs(&other),
        [1],
        "the failed resolve changed the row"
    );
    assert_eq!(history(&other), ["1 up-started started", "1 up failed"]);

    session.resolve(1, Resolution::NotApplied).unwrap();
    assert_eq!(started_seqs(&other), [0u64; 0]);
    assert_eq!(
        history(&other),
        [
            "1 up-started started",
            "1 up failed",
            "1 resolve marked not applied"
        ]
    );
}

/// `Migrator::on` leaves the caller's busy_timeout as it found it, after a run and after a
/// read like `status`.
#[test]
fn the_callers_busy_timeout_is_restored() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.busy_timeout(Duration::from_millis(1500)).unwrap();
    {
        let mut session = Migrator::new()
            .without_backups()
            .with_migrations(tables(1))
            .on(&mut conn)
            .unwrap();
        session.up().unwrap();
        session.status().unwrap();
        assert_eq!(pragma(session.connection(), "busy_timeout"), 1500);
    }
    assert_eq!(pragma(&conn, "busy_timeout"), 1500);
}

/// `Migrator::busy_timeout` bounds how long a run waits for another connection's write lock,
/// and the `Locked` error reports that wait; nothing is applied.
#[test]
fn up_waits_for_a_writer_no_longer_than_the_migrators_busy_timeout() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let writer = Connection::open(&db.path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let path = db.path.clone();
    let run = std::thread::spawn(move || {
        let started = Instant::now();
        let result = migrator(tables(2))
            .busy_timeout(WAIT)
            .open(&path)
            .unwrap()
            .up()
            .map(|report| report.steps.len());
        send.send((started.elapsed(), result)).unwrap();
    });
    // Far above WAIT, far below rusqlite's default busy timeout (5 s) of a fresh connection.
    let finished = receive.recv_timeout(Duration::from_secs(2));
    drop(writer);
    run.join().unwrap();
    let (took, result) = finished.expect(
        "up still waited for the writer after 2 s although Migrator::busy_timeout is 100 ms",
    );
    assert!(
        matches!(result, Err(Error::Locked { waited_ms: 100, .. })),
        "{result:?}"
    );
    assert!(took >= WAIT / 2, "up did not wait at all: {took:?}");
    assert_eq!(applied_seqs(&Connection::open(&db.path).unwrap()), [1]);
}

/// A finished non-transactional migration's row is committed on its own, so when the final
/// COMMIT of the run is BUSY (a reader appeared during migration 2), migration 1 stays applied
/// and the error says so; migration 2 left nothing.
#[test]
fn a_finished_non_transactional_migration_stays_applied_when_a_later_commit_fails() {
    use std::sync::Mutex;
    static READER: Mutex<Option<Connection>> = Mutex::new(None);
    let db = temp_db();
    let path = db.path.clone();
    let list = vec![
        non_tx(1, "side", "CREATE TABLE IF NOT EXISTS side (x)"),
        Migration::new(
            2,
            "meanwhile_a_reader",
            Step::new(move |tx| {
                tx.execute_batch("CREATE TABLE t2 (x)")?;
                *READER.lock().unwrap() = Some(reader(&path));
                Ok(())
            }),
        ),
    ];
    let result = impatient(migrator(list), &db.path).up();
    READER.lock().unwrap().take();
    let err = result.expect_err("the final COMMIT should have been busy");
    // SQLITE_BUSY at the commit is the "stayed locked" error (exit 4), naming the readers.
    match &err {
        Error::Busy {
            doing,
            held_by,
            outcome,
            ..
        } => {
            assert_eq!(doing, "committing the run");
            assert!(held_by.contains("still reading"), "{held_by}");
            assert_eq!(
                outcome,
                "Kept from this run: applied 1. The database is now at seq 1."
            );
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(err.to_string().contains("run again"), "{err}");
    let conn = Connection::open(&db.path).unwrap();
    assert!(table_exists(&conn, "side"), "migration 1 ran to completion");
    assert!(!table_exists(&conn, "t2"));
    assert_eq!(applied_seqs(&conn), [1]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert_eq!(history(&conn), ["1 up-started started", "1 up ok"]);
}

/// A non-transactional migration that fails cannot be rolled back; the error points at a
/// backup the operator made, never at one the framework did not take.
#[test]
fn the_error_does_not_promise_a_backup_that_was_never_taken() {
    let db = temp_db();
    let list = vec![non_tx(
        1,
        "backfill",
        "CREATE TABLE IF NOT EXISTS f (x); SELECT * FROM missing;",
    )];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("Restore the backup taken before the run"),
        "{text}"
    );
    assert!(
        text.contains("this run took none (backups are turned off for this migrator"),
        "{text}"
    );
    assert!(!text.contains("does not take backups"), "{text}");
}
