//! The batch transaction: one `BEGIN READ WRITE`, a savepoint per migration, timeouts set per
//! migration, retries on lock_timeout, deferred constraints checked at each migration's end.

use crate::common::{count, db, exists};
use migrate_postgres::{Connection, Error, RowValues, Settings, Step};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

fn row<'a>(seq: u64, name: &'a str) -> RowValues<'a> {
    RowValues {
        set: "default",
        seq,
        name,
        checksum: format!("sum-{seq}"),
        duration_ms: 1,
        applied_by: "tests",
    }
}

#[test]
fn migrations_commit_together_with_their_tracking_rows() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let create = Step::sql("CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)");
    assert_eq!(batch.run_step(1, "create_users", &create).unwrap(), 1);
    batch
        .tracking()
        .insert_applied(&row(1, "create_users"))
        .unwrap();
    let seed = Step::new(|tx| {
        tx.execute("INSERT INTO users VALUES ($1, $2)", &[&1_i64, &"ada"])?;
        Ok(())
    });
    batch.run_step(2, "seed_users", &seed).unwrap();
    batch
        .tracking()
        .insert_applied(&row(2, "seed_users"))
        .unwrap();

    // Nothing is visible to another session before the commit.
    let mut other = db.client();
    assert!(!exists(&mut other, "public.users"));
    batch.commit().unwrap();
    assert_eq!(count(&mut other, "public.users"), 1);
    assert_eq!(count(&mut other, "public._migrate_applied"), 2);
    // The guard rows are gone with the commit.
    assert_eq!(count(&mut other, "public._migrate_commit_guard"), 0);
}

#[test]
fn a_failed_migration_is_rolled_back_to_its_savepoint_and_the_batch_goes_on() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    batch
        .run_step(1, "first", &Step::sql("CREATE TABLE first (id int)"))
        .unwrap();
    let broken = Step::sql("CREATE TABLE half (id int); INSERT INTO nowhere VALUES (1)");
    let err = batch.run_step(2, "broken", &broken).unwrap_err();
    let Error::Step { seq, ref name, .. } = err else {
        panic!("expected Step, got {err}")
    };
    assert_eq!((seq, name.as_str()), (2, "broken"));
    assert_eq!(err.sqlstate(), Some("42P01"));
    assert!(err.to_string().contains("nowhere"), "{err}");
    batch
        .run_step(3, "third", &Step::sql("CREATE TABLE third (id int)"))
        .unwrap();
    batch.commit().unwrap();

    let mut other = db.client();
    assert!(exists(&mut other, "public.first"));
    assert!(!exists(&mut other, "public.half"));
    assert!(exists(&mut other, "public.third"));
}

/// The low-level batch reports a step that dropped a statement's error as the runner does
/// ([`Error::StepIgnoredError`], naming that statement and PostgreSQL's error), not as the
/// "current transaction is aborted" (25P02) of the check after it; whether the step returned
/// `Ok` or the 25P02 of a later statement. Each is rolled back to its savepoint and the batch
/// goes on.
#[test]
fn a_step_that_ignores_a_failed_statement_is_named_with_that_statement() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    batch
        .run_step(1, "first", &Step::sql("CREATE TABLE first (id int)"))
        .unwrap();
    let returns_ok = Step::new(|tx| {
        tx.batch_execute("CREATE TABLE half (id int)")?;
        let _ = tx.execute("INSERT INTO nowhere VALUES (1)", &[]);
        Ok(())
    });
    let goes_on = Step::new(|tx| {
        let _ = tx.batch_execute("INSERT INTO nowhere VALUES (2)");
        tx.batch_execute("CREATE TABLE after_it (id int)")
    });
    for (seq, step, statement) in [
        (2, &returns_ok, "`INSERT INTO nowhere VALUES (1)`"),
        (3, &goes_on, "`INSERT INTO nowhere VALUES (2)`"),
    ] {
        let err = batch.run_step(seq, "ignores", step).unwrap_err();
        match &err {
            Error::StepIgnoredError {
                seq: s,
                statement_error: Some(first),
                ..
            } => {
                assert_eq!(*s, seq);
                assert_eq!(
                    *first,
                    format!("{statement}: relation \"nowhere\" does not exist (SQLSTATE 42P01)")
                );
            }
            other => panic!("expected StepIgnoredError, got {other:?}"),
        }
        assert_eq!(err.sqlstate(), None, "{err}");
        assert!(!err.to_string().contains("25P02"), "{err}");
    }
    batch
        .run_step(4, "third", &Step::sql("CREATE TABLE third (id int)"))
        .unwrap();
    batch.commit().unwrap();

    let mut other = db.client();
    assert!(exists(&mut other, "public.first"));
    assert!(!exists(&mut other, "public.half"));
    assert!(!exists(&mut other, "public.after_it"));
    assert!(exists(&mut other, "public.third"));
}

/// A batch commit that does not happen is named with its cause and the steps it held, not as
/// a step that ended the transaction ("migration 0"): a deferred foreign key violated by a
/// write made through [`Batch::client`] after the last step (so checked only at COMMIT), and a
/// session ended from another connection before the commit. Nothing of either batch is kept.
#[test]
fn a_commit_that_does_not_happen_names_its_cause_and_the_steps_it_held() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let tables = Step::sql(
        "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    );
    batch.run_step(1, "parents_and_children", &tables).unwrap();
    batch
        .client()
        .batch_execute("INSERT INTO child VALUES (42)")
        .unwrap();
    match batch.commit().unwrap_err() {
        Error::CommitLost {
            cause, migrations, ..
        } => {
            assert!(
                cause.contains("deferred constraint failed at COMMIT"),
                "{cause}"
            );
            assert!(cause.contains("23503"), "{cause}");
            assert_eq!(migrations, ["1 \"parents_and_children\""]);
        }
        other => panic!("expected CommitLost, got {other:?}"),
    }
    drop(lock);
    let mut other = db.client();
    assert!(!exists(&mut other, "public.parent"));
    assert!(!exists(&mut other, "public.child"));

    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    batch
        .run_step(1, "first", &Step::sql("CREATE TABLE first (id int)"))
        .unwrap();
    let key = migrate_postgres::lock_key("public");
    let pid = crate::common::lock_holders(&mut other, key)[0];
    other
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline
        && !crate::common::lock_holders(&mut other, key).is_empty()
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    match batch.commit().unwrap_err() {
        Error::CommitLost {
            cause, migrations, ..
        } => {
            assert!(cause.contains("pg_terminate_backend"), "{cause}");
            assert_eq!(migrations, ["1 \"first\""]);
        }
        other => panic!("expected CommitLost, got {other:?}"),
    }
    drop(lock);
    assert!(!exists(&mut other, "public.first"));
}

#[test]
fn dropping_the_batch_rolls_everything_back_and_resets_the_session() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    {
        let mut batch = lock.begin().unwrap();
        batch
            .run_step(1, "t", &Step::sql("CREATE TABLE t (id int)"))
            .unwrap();
    }
    let mut other = db.client();
    assert!(!exists(&mut other, "public.t"));
    assert!(!exists(&mut other, "public._migrate_applied"));
    let read_only: String = lock
        .client()
        .query_one("SHOW default_transaction_read_only", &[])
        .unwrap()
        .get(0);
    assert_eq!(read_only, "off");
}

#[test]
fn the_batch_is_read_write_in_a_session_whose_default_is_read_only() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let probe = Step::new(move |tx| {
        for setting in ["transaction_read_only", "default_transaction_read_only"] {
            let value: String = tx.query_one(&format!("SHOW {setting}"), &[])?.get(0);
            record.lock().unwrap().push(value);
        }
        Ok(())
    });
    batch.run_step(1, "probe", &probe).unwrap();
    batch.commit().unwrap();
    assert_eq!(*seen.lock().unwrap(), ["off", "on"]);
    let after: String = lock
        .client()
        .query_one("SHOW default_transaction_read_only", &[])
        .unwrap()
        .get(0);
    assert_eq!(after, "off");
}

fn short_locks(conn: Connection, attempts: u32) -> Connection {
    conn.with_settings(Settings {
        lock_timeout: Duration::from_millis(100),
        lock_attempts: attempts,
        ..Settings::default()
    })
}

#[test]
fn a_migration_that_never_gets_its_table_lock_fails_after_every_attempt_leaving_nothing() {
    let Some(db) = db() else { return };
    let mut blocker = db.client();
    blocker.batch_execute("CREATE TABLE busy (id int)").unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .unwrap();

    let mut conn = short_locks(db.connect(), 3);
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let alter = Step::new(move |tx| {
        counted.fetch_add(1, Ordering::SeqCst);
        tx.batch_execute("CREATE TABLE side (id int); ALTER TABLE busy ADD COLUMN c int")
    });
    let err = batch.run_step(1, "add_c", &alter).unwrap_err();
    let Error::LockTimeout { attempts, seq, .. } = err else {
        panic!("expected LockTimeout, got {err}")
    };
    assert_eq!((seq, attempts), (1, 3));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(err.to_string().contains("FROM pg_locks"), "{err}");
    batch.commit().unwrap();
    blocker.batch_execute("ROLLBACK").unwrap();

    let mut other = db.client();
    assert!(!exists(&mut other, "public.side"));
    let columns: i64 = other
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(columns, 1);
    assert_eq!(count(&mut other, "public._migrate_applied"), 0);
}

#[test]
fn a_migration_that_hits_lock_timeout_once_succeeds_on_its_retry() {
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

    let mut conn = short_locks(db.connect(), 3);
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let alter = Step::new(move |tx| {
        if counted.fetch_add(1, Ordering::SeqCst) == 1 {
            ask.lock().unwrap().send(()).unwrap();
            done.lock().unwrap().recv().unwrap();
        }
        tx.batch_execute("ALTER TABLE busy ADD COLUMN c int")
    });
    assert_eq!(batch.run_step(1, "add_c", &alter).unwrap(), 2);
    batch.commit().unwrap();
    blocker_thread.join().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let mut other = db.client();
    other
        .query("SELECT c FROM busy", &[])
        .expect("column c exists");
}

#[test]
fn statement_timeout_stops_a_long_migration() {
    let Some(db) = db() else { return };
    let mut conn = db.connect().with_settings(Settings {
        statement_timeout: Some(Duration::from_millis(100)),
        ..Settings::default()
    });
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let slow = Step::sql("CREATE TABLE slow (id int); SELECT pg_sleep(30)");
    let err = batch.run_step(1, "slow", &slow).unwrap_err();
    assert_eq!(err.sqlstate(), Some("57014"), "{err}");
    batch.commit().unwrap();
    assert!(!exists(&mut db.client(), "public.slow"));
}

#[test]
fn a_deferred_violation_fails_its_own_migration_not_the_commit() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute(
            "CREATE TABLE parent (id int PRIMARY KEY);
             CREATE TABLE child (id int PRIMARY KEY, parent_id int
               REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
        )
        .unwrap();
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    let orphan = Step::sql("INSERT INTO child VALUES (1, 42)");
    let err = batch.run_step(1, "orphan", &orphan).unwrap_err();
    assert!(
        matches!(err, Error::DeferredConstraint { seq: 1, .. }),
        "{err}"
    );
    assert_eq!(err.sqlstate(), Some("23503"));
    // A deferrable constraint still works within a later migration that fixes it in time.
    let fixed = Step::sql("INSERT INTO child VALUES (2, 7); INSERT INTO parent VALUES (7)");
    batch.run_step(2, "fixed", &fixed).unwrap();
    batch.commit().unwrap();
    let mut other = db.client();
    let ids: Vec<i32> = other
        .query("SELECT id FROM child ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [2]);
}

/// Registered with the PostgreSQL attribute, run below through `registered`.
mod registered_set {
    use migrate_postgres::{Result, Tx, migration};

    /// Creates the tags table.
    #[migration(seq = 1, set = "pg_batch_registered")]
    fn create_tags(tx: &mut Tx) -> Result<()> {
        tx.batch_execute("CREATE TABLE tags (id bigint PRIMARY KEY, label text NOT NULL)")
    }

    #[migration(seq = 2, set = "pg_batch_registered")]
    mod seed_tags {
        use migrate_postgres::{Result, Tx};

        pub fn up(tx: &mut Tx) -> Result<()> {
            let label = format!("made by migration {} ({})", tx.seq(), tx.name());
            tx.execute("INSERT INTO tags VALUES (1, $1)", &[&label])?;
            Ok(())
        }

        pub fn down(tx: &mut Tx) -> Result<()> {
            tx.batch_execute("DELETE FROM tags WHERE id = 1")
        }
    }
}

#[test]
fn migrations_registered_with_the_attribute_run_in_the_batch() {
    let Some(db) = db() else { return };
    let mut migrations = migrate_postgres::registered("pg_batch_registered");
    migrations.sort_by_key(|m| m.seq);
    assert_eq!(migrations.len(), 2);
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    for m in &migrations {
        batch.run_step(m.seq, &m.name, &m.up).unwrap();
        batch
            .tracking()
            .insert_applied(&RowValues {
                checksum: m.checksum.to_string(),
                ..row(m.seq, &m.name)
            })
            .unwrap();
    }
    batch.commit().unwrap();
    let mut other = db.client();
    let label: String = other
        .query_one("SELECT label FROM tags", &[])
        .unwrap()
        .get(0);
    assert_eq!(label, "made by migration 2 (seed_tags)");
    let recorded: Vec<String> = other
        .query(
            "SELECT checksum FROM public._migrate_applied ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<String> = migrations.iter().map(|m| m.checksum.to_string()).collect();
    assert_eq!(recorded, expected);

    // The module's `down` is registered too and reverts in a batch of its own.
    let mut batch = lock.begin().unwrap();
    let down = migrations[1].down.as_ref().expect("seed_tags has a down");
    batch.run_step(2, "seed_tags", down).unwrap();
    batch.tracking().delete_row("default", 2).unwrap();
    batch.commit().unwrap();
    assert_eq!(count(&mut other, "public.tags"), 0);
    assert_eq!(count(&mut other, "public._migrate_applied"), 1);
}
