//! A failing migration under both failure policies, and a `transaction = false` migration that
//! failed halfway, resolved by an operator: what was kept is read back from the database, and
//! the outcome says it.

use crate::common::{count, db, exists};
use crate::runs::notes;
use migrate_postgres::{
    Blocker, CoreError, Error, FailurePolicy, Migration, Migrator, Resolution, Step, TxMode,
};

fn failing_third() -> Vec<Migration> {
    let mut list = notes();
    list[2] = Migration::new(
        3,
        "seed",
        Step::sql("INSERT INTO notes (id, body) VALUES (1, 'a'), (1, 'duplicate')"),
    );
    list
}

#[test]
fn all_or_nothing_keeps_nothing_of_the_run() {
    let Some(db) = db() else { return };
    let err = Migrator::new()
        .with_migrations(failing_third())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 3);
    assert!(
        outcome.contains("Nothing from this run was kept"),
        "{outcome}"
    );
    assert!(err.to_string().contains("23505"), "{err}");
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
}

#[test]
fn keep_applied_keeps_the_migrations_before_the_failing_one() {
    let Some(db) = db() else { return };
    let err = Migrator::new()
        .with_migrations(failing_third())
        .failure_policy(FailurePolicy::KeepApplied)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(
        outcome.contains("Kept from this run: applied 1, 2"),
        "{outcome}"
    );
    let mut client = db.client();
    assert!(exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "notes"), 0);
    assert_eq!(count(&mut client, "public._migrate_applied"), 2);
    let failed: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE seq = 3 AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1);
}

#[test]
fn a_deferred_constraint_violation_fails_its_migration_not_the_commit() {
    let Some(db) = db() else { return };
    let migrations = vec![
        Migration::new(
            1,
            "tables",
            Step::sql(
                "CREATE TABLE parent (id int PRIMARY KEY);
                 CREATE TABLE child (parent_id int REFERENCES parent (id)
                   DEFERRABLE INITIALLY DEFERRED)",
            ),
        ),
        Migration::new(2, "orphan", Step::sql("INSERT INTO child VALUES (42)")),
    ];
    let err = Migrator::new()
        .with_migrations(migrations)
        .failure_policy(FailurePolicy::KeepApplied)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    // Attributed to the deferred check after the step (sent with the escape check in one
    // round trip), not to the step or a lost transaction.
    let Error::MigrationFailed { seq: 2, source, .. } = &err else {
        panic!("expected MigrationFailed of 2, got {err:?}")
    };
    assert!(
        matches!(**source, Error::DeferredConstraint { seq: 2, .. }),
        "{source:?}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "child"), 0);
    assert_eq!(count(&mut client, "public._migrate_applied"), 1);
}

/// A step that drops the error of a failed statement and returns `Ok` leaves the transaction
/// aborted: the check after it says so (the migration ignored an error), not "a deferred
/// constraint violated", which would send the operator looking at the wrong thing.
#[test]
fn a_step_that_ignores_a_failed_statement_fails_as_such_not_as_a_deferred_constraint() {
    let Some(db) = db() else { return };
    let mut migrations = notes();
    migrations[2] = Migration::new(
        3,
        "seed",
        Step::new(|tx| {
            tx.batch_execute("CREATE TABLE seeded (id int)")?;
            // The error is dropped: the transaction is aborted from here on.
            let _ = tx.execute("INSERT INTO no_such_table VALUES (1)", &[]);
            Ok(())
        }),
    );
    let err = Migrator::new()
        .with_migrations(migrations)
        .failure_policy(FailurePolicy::KeepApplied)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq: 3, source, .. } = &err else {
        panic!("expected MigrationFailed of 3, got {err:?}")
    };
    assert!(
        matches!(**source, Error::StepIgnoredError { seq: 3, .. }),
        "{source:?}"
    );
    let text = err.to_string();
    assert!(!text.contains("deferred constraint"), "{text}");
    assert!(text.contains("ignored"), "{text}");
    assert!(text.contains("`migrate up`"), "{text}");
    // The statement that failed, with PostgreSQL's own error, not "transaction is aborted".
    assert!(
        text.contains("(`INSERT INTO no_such_table VALUES (1)`: relation \"no_such_table\" does not exist (SQLSTATE 42P01))"),
        "{text}"
    );
    assert!(!text.contains("25P02"), "{text}");
    let mut client = db.client();
    assert!(
        !exists(&mut client, "public.seeded"),
        "rolled back to its savepoint"
    );
    assert!(exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 2);
    let failed: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE seq = 3 AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1);
}

/// A step that drops a statement's error and goes on: its next statement fails with
/// "current transaction is aborted" (25P02), which it returns. Reported as the ignored error,
/// naming the statement that failed first, not as 25P02.
#[test]
fn a_step_that_goes_on_after_a_failed_statement_is_named_with_that_statement() {
    let Some(db) = db() else { return };
    let mut migrations = notes();
    migrations[2] = Migration::new(
        3,
        "seed",
        Step::new(|tx| {
            let _ = tx.batch_execute("INSERT INTO no_such_table VALUES (1)");
            tx.batch_execute("CREATE TABLE seeded (id int)")?;
            Ok(())
        }),
    );
    let err = Migrator::new()
        .with_migrations(migrations)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq: 3, source, .. } = &err else {
        panic!("expected MigrationFailed of 3, got {err:?}")
    };
    match &**source {
        Error::StepIgnoredError {
            seq: 3,
            statement_error: Some(first),
            ..
        } => assert!(first.starts_with("`INSERT INTO no_such_table"), "{first}"),
        other => panic!("expected StepIgnoredError naming the statement, got {other:?}"),
    }
    assert!(!err.to_string().contains("25P02"), "{err}");
    let mut client = db.client();
    assert!(!exists(&mut client, "public.seeded"));
    assert!(
        !exists(&mut client, "public.notes"),
        "the whole run was rolled back"
    );
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
}

#[test]
fn a_failed_non_transactional_migration_stays_started_until_resolved() {
    let Some(db) = db() else { return };
    let migrations = || {
        vec![
            Migration::new(
                1,
                "create_notes",
                Step::sql("CREATE TABLE notes (id bigint)"),
            ),
            Migration::new(
                2,
                "two_statements",
                Step::sql("CREATE TABLE half (x int); SELECT 1/0"),
            )
            .with_mode(TxMode::NonTransactional),
        ]
    };
    let err = Migrator::new()
        .with_migrations(migrations())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(outcome.contains("migrate resolve 2 --applied"), "{outcome}");
    // No automatic restore: the outcome says why there is no backup to put back.
    assert!(outcome.contains("no backup directory is set"), "{outcome}");
    let mut client = db.client();
    // The statement before the failing one stays (no transaction could undo it).
    assert!(exists(&mut client, "public.half"));
    let state: String = client
        .query_one(
            "SELECT state FROM public._migrate_applied WHERE seq = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "started");

    // Refused until resolved, changing nothing.
    let mut session = Migrator::new()
        .with_migrations(migrations())
        .on(db.connect())
        .unwrap();
    let refused = session.up().unwrap_err();
    let Error::Core(CoreError::Blocked { blockers, .. }) = &refused else {
        panic!("expected Blocked, got {refused:?}")
    };
    assert!(matches!(blockers[0], Blocker::Started { seq: 2, .. }));

    client.batch_execute("DROP TABLE half").unwrap();
    session.resolve(2, Resolution::NotApplied).unwrap();
    assert_eq!(count(&mut client, "public._migrate_applied"), 1);
    // Resolving an applied migration is refused.
    assert!(session.resolve(1, Resolution::Applied).is_err());
    // Then `up` runs it again (and fails the same way: it is still broken).
    assert!(session.up().is_err());
}

#[test]
fn a_step_that_panics_fails_its_migration_rolls_back_and_the_next_run_starts_clean() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(db) = db() else { return };
    db.client()
        .batch_execute(
            "CREATE TABLE items (id int); INSERT INTO items SELECT generate_series(1, 10)",
        )
        .unwrap();
    let panicked = Arc::new(AtomicBool::new(false));
    let once = panicked.clone();
    let mut session = Migrator::new()
        .with_migrations([
            Migration::new(1, "trim", Step::sql("DELETE FROM items WHERE id > 5"))
                .with_flags(migrate_postgres::Flags::NONE.with_destructive(true)),
            Migration::new(
                2,
                "buggy",
                Step::new(move |tx| {
                    tx.batch_execute("CREATE TABLE half_done (id int)")?;
                    if !once.swap(true, Ordering::SeqCst) {
                        panic!("a bug in the step");
                    }
                    tx.batch_execute("CREATE TABLE done (id int)")
                }),
            ),
        ])
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();
    assert!(panicked.load(Ordering::SeqCst));
    let Error::MigrationFailed { seq, source, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 2);
    assert!(
        matches!(&**source, Error::Panicked { message } if message == "a bug in the step"),
        "{source:?}"
    );

    // Nothing of the run is left: no open transaction, no lock, no change.
    let pid: i32 = session
        .connection()
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut other = db.client();
    let row = other
        .query_one(
            "SELECT state, xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap();
    let (state, in_transaction): (String, bool) = (row.get(0), row.get(1));
    assert_eq!((state.as_str(), in_transaction), ("idle", false));
    let locks: i64 = other
        .query_one("SELECT count(*) FROM pg_locks WHERE pid = $1", &[&pid])
        .unwrap()
        .get(0);
    assert_eq!(locks, 0, "the failed run left locks on its session");
    assert_eq!(count(&mut other, "items"), 10);
    assert!(!exists(&mut other, "public.half_done"));

    // The next run on the same session applies both, once.
    session.up().unwrap();
    assert_eq!(count(&mut other, "items"), 5);
    assert!(exists(&mut other, "public.half_done") && exists(&mut other, "public.done"));
    assert_eq!(count(&mut other, "public._migrate_applied"), 2);
}
