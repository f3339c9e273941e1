//! No migration escapes the runner's transaction: a `COMMIT` (or `ROLLBACK`) in a migration
//! leaves nothing committed, and the run fails with a message that says so.

use crate::common::{count, db, exists};
use migrate_postgres::{Error, RowValues, Step};

/// Runs `first` (with its tracking row) then `escaping` in one batch; the second must end the
/// batch with [`Error::TransactionEnded`].
fn run_escape(db: &migrate_postgres::testing::TestDatabase, escaping: Step) -> Error {
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    batch
        .run_step(1, "first", &Step::sql("CREATE TABLE first (id int)"))
        .unwrap();
    batch
        .tracking()
        .insert_applied(&RowValues {
            set: "default",
            seq: 1,
            name: "first",
            checksum: "x".into(),
            duration_ms: 0,
            applied_by: "tests",
        })
        .unwrap();
    let err = batch.run_step(2, "escaping", &escaping).unwrap_err();
    // The batch is over: neither another step nor a commit can run in it.
    let again = batch.run_step(3, "later", &Step::sql("CREATE TABLE later (id int)"));
    assert!(matches!(again, Err(Error::TransactionEnded { .. })));
    assert!(batch.commit().is_err());
    drop(lock);
    err
}

fn assert_nothing_committed(db: &migrate_postgres::testing::TestDatabase) {
    let mut other = db.client();
    for table in [
        "public.first",
        "public.escaped",
        "public.later",
        "public._migrate_applied",
    ] {
        assert!(!exists(&mut other, table), "{table} was committed");
    }
    assert_eq!(count(&mut other, "public.outside"), 0);
}

fn outside_table(db: &migrate_postgres::testing::TestDatabase) {
    db.client()
        .batch_execute("CREATE TABLE outside (id int)")
        .unwrap();
}

#[test]
fn commit_then_insert_in_a_migration_leaves_nothing_committed() {
    let Some(db) = db() else { return };
    outside_table(&db);
    let escaping = Step::sql(
        "CREATE TABLE escaped (id int); INSERT INTO outside VALUES (1); COMMIT;
         INSERT INTO outside VALUES (2)",
    );
    let err = run_escape(&db, escaping);
    assert!(
        matches!(err, Error::TransactionEnded { seq: 2, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("ended the runner's transaction"), "{text}");
    assert!(text.contains("nothing was committed"), "{text}");
    assert!(text.contains("Remove the COMMIT/ROLLBACK"), "{text}");
    // The batch API runs no command line: no `migrate ...` command fits here (the runner's
    // message adds the one that fits the operation).
    assert!(!text.contains("`migrate "), "{text}");
    assert_nothing_committed(&db);
}

#[test]
fn a_migration_that_ignores_the_refused_commit_cannot_write_afterwards() {
    let Some(db) = db() else { return };
    outside_table(&db);
    let escaping = Step::new(|tx| {
        tx.batch_execute("INSERT INTO outside VALUES (1)")?;
        let refused = tx.batch_execute("COMMIT");
        assert_eq!(refused.unwrap_err().sqlstate(), Some("2D000"));
        // Now outside any transaction; the session default is read-only.
        let write = tx.batch_execute("INSERT INTO outside VALUES (2)");
        assert_eq!(write.unwrap_err().sqlstate(), Some("25006"));
        Ok(())
    });
    let err = run_escape(&db, escaping);
    assert!(
        matches!(err, Error::TransactionEnded { seq: 2, .. }),
        "{err}"
    );
    assert_nothing_committed(&db);
}

#[test]
fn rollback_then_insert_in_a_migration_leaves_nothing_committed() {
    let Some(db) = db() else { return };
    outside_table(&db);
    let escaping =
        Step::sql("INSERT INTO outside VALUES (1); ROLLBACK; INSERT INTO outside VALUES (2)");
    let err = run_escape(&db, escaping);
    assert!(
        matches!(err, Error::TransactionEnded { seq: 2, .. }),
        "{err}"
    );
    assert_nothing_committed(&db);
}

#[test]
fn a_commit_followed_by_a_new_begin_is_still_caught() {
    let Some(db) = db() else { return };
    outside_table(&db);
    let escaping = Step::new(|tx| {
        let _ = tx.batch_execute("COMMIT");
        tx.batch_execute("BEGIN")?;
        let write = tx.batch_execute("INSERT INTO outside VALUES (2)");
        assert_eq!(write.unwrap_err().sqlstate(), Some("25006"));
        Ok(())
    });
    let err = run_escape(&db, escaping);
    assert!(
        matches!(err, Error::TransactionEnded { seq: 2, .. }),
        "{err}"
    );
    assert_nothing_committed(&db);
}

#[test]
fn the_guard_is_rearmed_after_each_migration_and_lets_the_runner_commit() {
    let Some(db) = db() else { return };
    let mut conn = db.connect();
    let mut lock = conn.lock().unwrap();
    let mut batch = lock.begin().unwrap();
    // Each migration's end fires the deferred constraints (the guard's included); five in a
    // row must leave the guard armed for the runner's own commit to pass through.
    for seq in 1..=5 {
        let sql = format!("CREATE TABLE t{seq} (id int)");
        batch.run_step(seq, "t", &Step::sql(sql)).unwrap();
    }
    let armed: i64 = batch
        .client()
        .query_one("SELECT count(*) FROM public._migrate_commit_guard", &[])
        .unwrap()
        .get(0);
    assert_eq!(armed, 6, "one row at begin and one after each migration");
    batch.commit().unwrap();
    let mut other = db.client();
    assert!(exists(&mut other, "public.t5"));
}
