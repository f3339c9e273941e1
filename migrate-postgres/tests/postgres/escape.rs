//! No migration can escape the runner's transaction: a `COMMIT` in its SQL is stopped by the
//! commit guard and `default_transaction_read_only`, the whole batch is rolled back, and the
//! failure says so.

use crate::common::{count, db, exists};
use migrate_postgres::{Error, Migration, Migrator, Step};

#[test]
fn a_migration_running_commit_then_insert_leaves_nothing_committed() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute("CREATE TABLE audit (note text)")
        .unwrap();
    let migrations = vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql("CREATE TABLE notes (id bigint)"),
        ),
        Migration::new(
            2,
            "escapes",
            Step::sql("INSERT INTO notes VALUES (1); COMMIT; INSERT INTO audit VALUES ('escaped')"),
        ),
    ];
    let err = Migrator::new()
        .with_migrations(migrations)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 2);
    let text = err.to_string();
    assert!(text.contains("ended the runner's transaction"), "{text}");
    assert!(
        outcome.contains("Nothing from this run was kept"),
        "{outcome}"
    );
    let mut client = db.client();
    // Nothing of either migration, nothing after the COMMIT, no tracking row.
    assert!(!exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "audit"), 0);
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
    // The failure is in the history, written in a transaction of its own.
    let failed: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE seq = 2 AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1);
}

#[test]
fn the_first_migration_of_a_run_cannot_escape_either() {
    let Some(db) = db() else { return };
    db.client()
        .batch_execute("CREATE TABLE audit (note text)")
        .unwrap();
    let escapes = Migration::new(
        1,
        "escapes_first",
        Step::sql("CREATE TABLE notes (id bigint); COMMIT; INSERT INTO audit VALUES ('escaped')"),
    );
    let err = Migrator::new()
        .with_migrations([escapes])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(err, Error::MigrationFailed { seq: 1, .. }),
        "{err:?}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "audit"), 0);
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
}

#[test]
fn a_migration_that_rolls_back_and_succeeds_is_caught_after_its_step() {
    let Some(db) = db() else { return };
    let migrations = vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql("CREATE TABLE notes (id bigint)"),
        ),
        // No error: the step returns Ok with the runner's transaction gone.
        Migration::new(
            2,
            "rolls_back",
            Step::sql("INSERT INTO notes VALUES (1); ROLLBACK"),
        ),
        Migration::new(3, "after", Step::sql("CREATE TABLE after (id bigint)")),
    ];
    let err = Migrator::new()
        .with_migrations(migrations)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::MigrationFailed { seq, source, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert_eq!(*seq, 2);
    assert!(
        matches!(**source, Error::TransactionEnded { seq: 2, .. }),
        "{source:?}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert!(!exists(&mut client, "public.after"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
}
