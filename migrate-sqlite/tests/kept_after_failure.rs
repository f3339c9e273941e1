//! What the runner reports as kept after a failure around non-transactional migrations:
//! each kept migration named once, nothing called drift that the run itself committed.

mod common;
use common::runs::*;
use common::*;
use migrate_sqlite::{Error, FailurePolicy, Migration, SchemaDiff, Step, TxMode};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Non-transactional migrations and what the runner reports as kept
// ---------------------------------------------------------------------------------------------

/// A non-transactional migration that completed before a later failure is committed with its
/// row and schema snapshot: it stays applied, the message lists it as kept, and `status`
/// reports no drift for the table it created.
#[test]
fn a_completed_non_transactional_migration_stays_applied_and_is_reported_kept() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(non_tx(
        2,
        "side_table",
        "CREATE TABLE IF NOT EXISTS side (x)",
    ));
    list.push(Migration::new(
        3,
        "broken",
        Step::sql("INSERT INTO missing VALUES (1)"),
    ));
    let mut session = migrator(list).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    assert_eq!(
        outcome(&err),
        format!("Kept from this run: applied 2. The database is now at seq 2. {FIX_AND_UP}")
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert!(table_exists(&conn, "side"));
    assert_eq!(
        history(&conn),
        ["1 up ok", "2 up-started started", "2 up ok", "3 up failed"]
    );
    let drift = session.status().unwrap().drift;
    assert!(
        drift.is_none(),
        "migration 2's table reported as drift: {drift:?}"
    );
}

/// After two non-transactional migrations and a failure, the kept list names each migration
/// of the run exactly once (as a range).
#[test]
fn the_kept_list_after_two_non_transactional_migrations_names_each_once() {
    let db = temp_db();
    let list = vec![
        tables(1).remove(0),
        non_tx(2, "side_a", "CREATE TABLE IF NOT EXISTS side_a (x)"),
        non_tx(3, "side_b", "CREATE TABLE IF NOT EXISTS side_b (x)"),
        Migration::new(4, "broken", Step::sql("INSERT INTO missing VALUES (1)")),
    ];
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    assert_eq!(
        outcome(&err),
        format!("Kept from this run: applied 1-3. The database is now at seq 3. {FIX_AND_UP}")
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(started_seqs(&conn), [0u64; 0]);
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up-started started",
            "2 up ok",
            "3 up-started started",
            "3 up ok",
            "4 up failed"
        ]
    );
}

/// The schema snapshot is stored with every COMMIT before a non-transactional migration, so
/// when that migration fails, `status` reports only its own partial work as drift, never the
/// tables of the migrations committed before it.
#[test]
fn migrations_committed_before_a_failed_non_transactional_one_are_not_drift() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(2);
    list.push(non_tx(
        3,
        "backfill",
        "CREATE TABLE IF NOT EXISTS partial (x); INSERT INTO missing VALUES (1);",
    ));
    let mut session = migrator(list).open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    let text = outcome(&err);
    assert!(
        text.starts_with(
            "Kept from this run: applied 2; left started 3. The database is now at seq 2."
        ),
        "{text}"
    );
    assert!(text.contains("`migrate resolve 3 --applied`"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert_eq!(started_seqs(&conn), [3]);
    assert_eq!(
        history(&conn),
        ["1 up ok", "2 up ok", "3 up-started started", "3 up failed"]
    );
    assert_eq!(
        session.status().unwrap().drift,
        Some(SchemaDiff {
            added: vec!["table partial".to_owned()],
            ..SchemaDiff::default()
        })
    );
}

/// When the redo of a non-transactional migration reverts it and then fails to apply it
/// again, the message says it is left started (not that it stays applied), matching its row.
#[test]
fn a_failed_redo_of_a_non_transactional_migration_reports_it_left_started() {
    let db = temp_db();
    let flaky = |fail: bool| {
        Migration::new(
            2,
            "side",
            Step::new(move |tx| {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS side (x)")?;
                if fail {
                    return Err(Error::msg("flaky"));
                }
                Ok(())
            }),
        )
        .with_down(Step::sql("DROP TABLE IF EXISTS side"))
        .with_mode(TxMode::NonTransactional)
    };
    let mut list = tables(1);
    list.push(flaky(false));
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(flaky(true));
    let err = migrator(list).open(&db.path).unwrap().redo().unwrap_err();
    assert!(
        matches!(cause(&err), Error::Message(m) if m == "flaky"),
        "{err}"
    );
    let text = outcome(&err);
    assert!(
        text.starts_with("Kept from this run: left started 2. The database is now at seq 1."),
        "{text}"
    );
    assert!(!text.contains("stay applied"), "{text}");
    assert!(text.contains("it stays recorded as started"), "{text}");
    assert!(text.contains("`migrate resolve 2 --not-applied`"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert_eq!(started_seqs(&conn), [2]);
    assert!(
        table_exists(&conn, "side"),
        "the failed up's partial work stays"
    );
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up-started started",
            "2 up ok",
            "2 down-started started",
            "2 down ok",
            "2 up-started started",
            "2 up failed"
        ]
    );
}

/// Under KeepApplied, when the down of 2 fails during `down_to(0)`, the down of 3 that
/// succeeded is kept and reported as reverted; 1 and 2 stay applied with their tables. The
/// command to finish is the `down --to 0` that failed (a bare `migrate down` would revert one
/// migration only).
#[test]
fn keep_applied_down_failure_reports_the_kept_revert_as_reverted() {
    let db = temp_db();
    migrator(tables(3)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(3);
    list[1] = list[1]
        .clone()
        .with_down(Step::sql("DROP TABLE t2; SELECT * FROM missing"));
    let err = migrator(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .down_to(0)
        .unwrap_err();
    assert_eq!(
        outcome(&err),
        "Kept from this run: reverted 3. The database is now at seq 2. Nothing needs \
         restoring; fix the migration and run `migrate down --to 0` again."
    );
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert!(table_exists(&conn, "t1") && table_exists(&conn, "t2"));
    assert!(!table_exists(&conn, "t3"));
    assert_eq!(
        history(&conn),
        [
            "1 up ok",
            "2 up ok",
            "3 up ok",
            "3 down ok",
            "2 down failed"
        ]
    );
}
