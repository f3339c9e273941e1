//! Regressions from the runner review: whatever a migration does to the runner's transaction or
//! the connection, and whatever another connection holds, the database, the tracking rows, the
//! history, the connection's settings and the error message all agree on what happened.

mod common;
use common::*;
use migrate_sqlite::{
    Error, FailurePolicy, Migration, Migrator, Resolution, SchemaDiff, Session, Step, TxMode,
};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::{Duration, Instant};

/// The busy timeout of tests that wait for a lock on purpose.
const WAIT: Duration = Duration::from_millis(100);

/// What every failed run that kept nothing says, on a database that had no migration applied.
const NOTHING_KEPT: &str = "Nothing from this run was kept: the database is as it was before \
                            the run (no migration applied).";

/// What a failed `up` that rolled its failing migration back tells the operator to do.
const FIX_AND_UP: &str = "Nothing needs restoring; fix the migration and run `migrate up` again.";

fn outcome(err: &Error) -> &str {
    match err {
        Error::MigrationFailed { outcome, .. } => outcome,
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
}

/// Why the migration failed.
fn cause(err: &Error) -> &Error {
    match err {
        Error::MigrationFailed { source, .. } => source,
        other => panic!("expected MigrationFailed, got {other:?}"),
    }
}

fn non_tx(seq: u64, name: &str, up: &str) -> Migration {
    Migration::new(seq, name, Step::sql(up)).with_mode(TxMode::NonTransactional)
}

fn started_seqs(conn: &Connection) -> Vec<u64> {
    let mut stmt = conn
        .prepare("SELECT seq FROM _migrate_applied WHERE state = 'started' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap() as u64)
        .collect()
}

/// The history as `"<seq> <action> <outcome>"`, oldest first.
fn history(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT seq, action, outcome FROM _migrate_history ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let seq: Option<i64> = r.get(0)?;
        let seq = seq.map_or("-".to_owned(), |s| s.to_string());
        Ok(format!(
            "{seq} {} {}",
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?
        ))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// True when none of the framework's tables exist: the run left no trace at all.
fn no_tracking_tables(conn: &Connection) -> bool {
    ["_migrate_applied", "_migrate_history", "_migrate_schema"]
        .iter()
        .all(|name| !table_exists(conn, name))
}

/// A second connection holding a read transaction: in rollback-journal mode it holds a SHARED
/// lock, so every COMMIT of the migrator waits for it (busy timeout) and then fails with BUSY.
fn reader(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    let _: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    conn
}

/// Opens `path` with a busy timeout of [`WAIT`], for tests that wait for a lock on purpose.
fn impatient(migrator: Migrator, path: &Path) -> Session<'static> {
    migrator.busy_timeout(WAIT).open(path).unwrap()
}

fn is_busy(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}

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
// A COMMIT that fails (a concurrent reader in rollback-journal mode)
// ---------------------------------------------------------------------------------------------

/// When the COMMIT before a non-transactional migration is BUSY, the whole run is rolled back
/// and the message says so; it never claims migration 1 was committed or 2 left started. (The
/// reader also blocks recording the failure, so the run leaves no trace at all.)
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
    assert!(
        matches!(cause(&err), Error::Runner { doing, error: source, .. }
            if doing == "committing" && is_busy(source)),
        "{err}"
    );
    let text = outcome(&err);
    assert!(text.starts_with(NOTHING_KEPT), "{text}");
    assert!(!text.contains("stays recorded as started"), "{text}");
    assert!(!text.contains("migrate resolve"), "{text}");
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
/// succeeded is kept and reported as reverted; 1 and 2 stay applied with their tables.
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
         restoring; fix the migration and run `migrate down` again."
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

// ---------------------------------------------------------------------------------------------
// Connection settings a migration changes do not leak into the next migrations of the run
// ---------------------------------------------------------------------------------------------

const SCHEMA: &str = "
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE books (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
        title TEXT
    );
    INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Herbert');
    INSERT INTO books VALUES (1, 1, 'The Dispossessed'), (2, 1, 'Lathe of Heaven'), (3, 2, 'Dune');
";

const REBUILD: &str = "
    CREATE TABLE authors_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
    INSERT INTO authors_new (id, name) SELECT id, coalesce(name, '') FROM authors;
    DROP TABLE authors;
    ALTER TABLE authors_new RENAME TO authors;
";

/// A non-transactional migration that ends with `PRAGMA foreign_keys = ON` does not leave
/// enforcement on for the next migration: a later table rebuild in the same run cascades
/// nothing, and the caller's setting is back afterwards.
#[test]
fn foreign_keys_turned_on_by_a_non_transactional_migration_are_off_for_the_next_one() {
    let db = temp_db();
    let list = vec![
        Migration::new(1, "schema", Step::sql(SCHEMA)),
        non_tx(
            2,
            "tags_by_the_book",
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);
             COMMIT;
             PRAGMA foreign_keys = ON;",
        ),
        Migration::new(3, "rebuild_authors", Step::sql(REBUILD))
            .with_flags(migrate_sqlite::Flags::NONE.with_rebuilds_tables(true)),
    ];
    let mut conn = Connection::open(&db.path).unwrap();
    Migrator::new()
        .without_backups()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap();
    let books: i64 = conn
        .query_row("SELECT count(*) FROM books", [], |r| r.get(0))
        .unwrap();
    assert_eq!(books, 3, "the rebuild cascade-deleted the books");
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
    assert_eq!(pragma(&conn, "foreign_keys"), 1, "the caller's ON is back");
}

/// `legacy_alter_table` turned on by one migration is reset before the next, so a later
/// `ALTER TABLE ... RENAME` in the same run rewrites the views that use the table.
#[test]
fn legacy_alter_table_is_reset_between_migrations_of_one_run() {
    let db = temp_db();
    let list = vec![
        Migration::new(
            1,
            "schema",
            Step::sql("CREATE TABLE t (x); CREATE VIEW v AS SELECT x FROM t;"),
        ),
        Migration::new(
            2,
            "rebuild_with_legacy",
            Step::sql("PRAGMA legacy_alter_table = ON; CREATE TABLE other (y);"),
        ),
        Migration::new(3, "rename", Step::sql("ALTER TABLE t RENAME TO u")),
    ];
    migrator(list).open(&db.path).unwrap().up().unwrap();
    let conn = Connection::open(&db.path).unwrap();
    let view = conn.query_row("SELECT count(*) FROM v", [], |r| r.get::<_, i64>(0));
    assert_eq!(view, Ok(0), "view v broken by a rename run in legacy mode");
    assert_eq!(applied_seqs(&conn), [1, 2, 3]);
}

/// A transactional migration cannot switch the journal off (it would make its own work
/// impossible to roll back): refused, the run rolls back, the journal mode is unchanged.
#[test]
fn a_migration_cannot_switch_the_journal_off_inside_the_runners_transaction() {
    let db = temp_db();
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "bulk_load",
        Step::new(|tx| {
            let _: String = tx.query_row("PRAGMA journal_mode = OFF", [], |r| r.get(0))?;
            tx.execute_batch("CREATE TABLE half (x); INSERT INTO missing VALUES (1);")?;
            Ok(())
        }),
    ));
    let mut conn = Connection::open(&db.path).unwrap();
    let err = Migrator::new()
        .without_backups()
        .with_migrations(list)
        .on(&mut conn)
        .unwrap()
        .up()
        .unwrap_err();
    assert!(
        matches!(cause(&err), Error::Refused { why } if why.contains("changed journal_mode")),
        "{err}"
    );
    assert_eq!(
        outcome(&err),
        "Nothing from this run was kept: the database is as it was before the run (seq 1). \
         Nothing needs restoring; fix the migration and run `migrate up` again."
    );
    let check = Connection::open(&db.path).unwrap();
    assert!(!table_exists(&check, "half"));
    assert_eq!(applied_seqs(&check), [1]);
    assert_eq!(history(&check), ["1 up ok", "2 up failed"]);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the connection's journal mode changed");
}

// ---------------------------------------------------------------------------------------------
// Checks blame a migration only for what it did; runs with nothing to do write nothing
// ---------------------------------------------------------------------------------------------

/// A foreign key orphan that predates the run does not fail a migration; only a violation the
/// migration itself adds does, and the message says the older one was not blamed on it.
#[test]
fn a_pre_existing_orphan_does_not_fail_an_unrelated_migration() {
    let db = temp_db();
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
         INSERT INTO child VALUES (1, 42);",
    )
    .unwrap();
    let mut list = vec![sql(
        1,
        "unrelated",
        "CREATE TABLE notes (x)",
        "DROP TABLE notes",
    )];
    migrator(list.clone()).open(&db.path).unwrap().up().unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert!(table_exists(&conn, "notes"));

    list.push(sql(
        2,
        "new_orphan",
        "INSERT INTO child VALUES (2, 43)",
        "DELETE FROM child WHERE id = 2",
    ));
    let err = migrator(list).open(&db.path).unwrap().up().unwrap_err();
    let why = cause(&err).to_string();
    assert!(
        why.starts_with(
            "the migration left 1 new foreign key violation(s): child rowid 2 -> parent"
        ),
        "{why}"
    );
    assert!(
        why.contains("(1 older violations were already there and are not blamed on it)"),
        "{why}"
    );
    assert_eq!(applied_seqs(&conn), [1]);
    let children: i64 = conn
        .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        children, 1,
        "the older orphan stays, the new one was rolled back"
    );
}

/// A run with nothing to do (`down_to` the current seq) writes nothing, so a hand-made change
/// found before it is still reported as drift after it.
#[test]
fn a_no_op_down_keeps_drift_visible_and_writes_nothing() {
    let db = temp_db();
    let mut session = migrator(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("DROP TABLE t2")
        .unwrap();
    let drift = SchemaDiff {
        removed: vec!["table t2".to_owned()],
        ..SchemaDiff::default()
    };
    assert_eq!(session.status().unwrap().drift.as_ref(), Some(&drift));
    let before = bytes(&db.path);
    let report = session.down_to(2).unwrap();
    assert!(report.steps.is_empty());
    assert_eq!(
        session.status().unwrap().drift,
        Some(drift),
        "a run that reverted nothing made the drift disappear"
    );
    assert_eq!(bytes(&db.path), before, "a run with nothing to do wrote");
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
