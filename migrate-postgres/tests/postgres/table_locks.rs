//! A run's migration that waits for a table lock: `SET LOCAL lock_timeout` per migration,
//! rolled back to its savepoint and retried on 55P03, and after the last attempt a failure that
//! leaves nothing of the run.

use crate::common::{count, db, exists};
use migrate_postgres::{Connection, Error, Migration, Migrator, Settings, Step};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

fn short_locks(conn: Connection) -> Connection {
    conn.with_settings(Settings {
        lock_timeout: Duration::from_millis(100),
        lock_attempts: 3,
        ..Settings::default()
    })
}

#[test]
fn a_migration_that_never_gets_its_table_lock_fails_the_run_after_every_attempt() {
    let Some(db) = db() else { return };
    let mut blocker = db.client();
    blocker.batch_execute("CREATE TABLE busy (id int)").unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let migrations = vec![
        Migration::new(1, "side", Step::sql("CREATE TABLE side (id int)")),
        Migration::new(
            2,
            "add_c",
            Step::new(move |tx| {
                counted.fetch_add(1, Ordering::SeqCst);
                tx.batch_execute("ALTER TABLE busy ADD COLUMN c int")
            }),
        ),
    ];
    let err = Migrator::new()
        .with_migrations(migrations)
        .on(short_locks(db.connect()))
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, source, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 2);
    assert!(
        matches!(**source, Error::LockTimeout { attempts: 3, .. }),
        "{source:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    blocker.batch_execute("ROLLBACK").unwrap();
    let mut other = db.client();
    assert!(!exists(&mut other, "public.side"));
    assert_eq!(count(&mut other, "public._migrate_applied"), 0);
}

#[test]
fn a_migration_that_hits_lock_timeout_once_succeeds_on_its_retry_in_a_run() {
    let Some(db) = db() else { return };
    let mut blocker = db.client();
    blocker.batch_execute("CREATE TABLE busy (id int)").unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .unwrap();
    // The blocker lets go when the second attempt asks, and says when it has.
    let (release, released) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let blocker_thread = std::thread::spawn(move || {
        release.1.recv().unwrap();
        blocker.batch_execute("ROLLBACK").unwrap();
        released.0.send(()).unwrap();
    });
    let (ask, done) = (Mutex::new(release.0), Mutex::new(released.1));
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let alter = Step::new(move |tx| {
        if counted.fetch_add(1, Ordering::SeqCst) == 1 {
            ask.lock().unwrap().send(()).unwrap();
            done.lock().unwrap().recv().unwrap();
        }
        tx.batch_execute("ALTER TABLE busy ADD COLUMN c int")
    });
    let report = Migrator::new()
        .with_migrations([Migration::new(1, "add_c", alter)])
        .on(short_locks(db.connect()))
        .unwrap()
        .up()
        .unwrap();
    blocker_thread.join().unwrap();
    assert_eq!(report.after, Some(1));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    db.client()
        .query("SELECT c FROM busy", &[])
        .expect("column c exists");
}
