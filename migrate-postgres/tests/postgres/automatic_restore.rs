//! A `transaction = false` migration that failed after committing work: restored
//! automatically from the run's backup only when no other session wrote since it was taken;
//! otherwise stopped, naming the backup and the tables a restore would lose rows of. Under
//! `KeepApplied`, the restore point taken just before the failing migration.

use crate::backup::files_in;
use crate::common::{count, db, exists};
use migrate_postgres::{Error, FailurePolicy, Migration, Migrator, Step, TxMode};

fn create_notes() -> Migration {
    Migration::new(
        1,
        "create_notes",
        Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)"),
    )
}

/// Commits an index (no transaction can undo it), then fails.
fn index_then_fail() -> Migration {
    Migration::new(
        2,
        "index_then_fail",
        Step::sql("CREATE INDEX CONCURRENTLY notes_body ON notes (body); SELECT 1/0"),
    )
    .with_mode(TxMode::NonTransactional)
}

fn index_exists(client: &mut postgres::Client) -> bool {
    exists(client, "public.notes_body")
}

#[test]
fn a_failed_non_transactional_step_is_restored_when_nobody_else_wrote() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        .unwrap();

    let mut session = Migrator::new()
        .with_migrations([create_notes(), index_then_fail()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(outcome.contains("restored automatically from"), "{outcome}");
    assert_eq!(session.failed_states().unwrap().len(), 1);
    assert!(!index_exists(&mut client), "the committed index is gone");
    assert_eq!(count(&mut client, "notes"), 2, "the rows are as before");
    let rows: Vec<(i64, String)> = client
        .query(
            "SELECT seq, state FROM public._migrate_applied ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, [(1, "applied".to_owned())], "no started row left");
    let failed: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE seq = 2 AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1, "the failure is recorded after the restore");
    let files = files_in(dir.path());
    assert!(
        files.iter().any(|f| f.contains("failed-state")),
        "the failed state is kept: {files:?}"
    );
    assert!(outcome.contains("failed-state"), "{outcome}");
}

#[test]
fn a_concurrent_writer_stops_the_automatic_restore_and_the_outcome_names_the_backup() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let config = db.config();
    // Another client commits a row while the non-transactional migration runs.
    let write_meanwhile_then_fail = Migration::new(
        2,
        "write_meanwhile_then_fail",
        Step::new(move |tx| {
            let config = config.clone();
            std::thread::spawn(move || {
                let mut other = config.connect(postgres::NoTls).unwrap();
                other
                    .batch_execute("INSERT INTO notes VALUES (42, 'written by another client')")
                    .unwrap();
            })
            .join()
            .unwrap();
            tx.batch_execute("CREATE INDEX CONCURRENTLY notes_body ON notes (body)")?;
            tx.batch_execute("SELECT 1/0")
        }),
    )
    .with_mode(TxMode::NonTransactional);
    let before = files_in(dir.path());

    let err = Migrator::new()
        .with_migrations([create_notes(), write_meanwhile_then_fail])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    let mut client = db.client();
    // Nothing restored: the other client's row and the index stay.
    assert_eq!(count(&mut client, "notes"), 1);
    assert!(index_exists(&mut client));
    let state: String = client
        .query_one(
            "SELECT state FROM public._migrate_applied WHERE seq = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "started");
    let new_files: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(new_files.len(), 1, "only the pre-up backup: {new_files:?}");
    assert!(new_files[0].contains("pre-up"), "{new_files:?}");
    assert!(outcome.contains("not restored automatically"), "{outcome}");
    assert!(
        outcome.contains("public.notes (1 rows inserted or updated"),
        "{outcome}"
    );
    assert!(
        outcome.contains(&format!(
            "`migrate restore {}",
            dir.path().join(&new_files[0]).display()
        )),
        "{outcome}"
    );
}

#[test]
fn under_keep_applied_the_restore_point_just_before_the_step_is_restored() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();

    let err = Migrator::new()
        .with_migrations([create_notes(), index_then_fail()])
        .failure_policy(FailurePolicy::KeepApplied)
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(
        outcome.contains("taken just before this migration"),
        "{outcome}"
    );
    let mut client = db.client();
    assert!(exists(&mut client, "public.notes"), "migration 1 stays");
    assert!(!index_exists(&mut client));
    let rows: Vec<(i64, String)> = client
        .query(
            "SELECT seq, state FROM public._migrate_applied ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, [(1, "applied".to_owned())]);
    let files = files_in(dir.path());
    assert!(files.iter().any(|f| f.contains("pre-step")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("pre-up")), "{files:?}");
}

#[test]
fn rows_another_client_deleted_meanwhile_also_stop_the_automatic_restore() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        .unwrap();
    let config = db.config();
    let delete_meanwhile_then_fail = Migration::new(
        2,
        "delete_meanwhile_then_fail",
        Step::new(move |tx| {
            let config = config.clone();
            std::thread::spawn(move || {
                let mut other = config.connect(postgres::NoTls).unwrap();
                other
                    .batch_execute("DELETE FROM notes WHERE id = 2")
                    .unwrap();
            })
            .join()
            .unwrap();
            tx.batch_execute("SELECT 1/0")
        }),
    )
    .with_mode(TxMode::NonTransactional);

    let mut session = Migrator::new()
        .with_migrations([create_notes(), delete_meanwhile_then_fail])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    // A delete leaves no row to see: the row count tells it.
    assert!(
        outcome.contains("public.notes (2 rows then, 1 now)"),
        "{outcome}"
    );
    let ids: Vec<i64> = client
        .query("SELECT id FROM notes ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1], "the other client's delete stands");
    assert!(
        session.failed_states().unwrap().is_empty(),
        "nothing restored"
    );
    let state: String = client
        .query_one(
            "SELECT state FROM public._migrate_applied WHERE seq = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(state, "started");
}

/// A transactional migration that inserts and updates rows: they carry its savepoint's xid.
fn write_in_savepoint() -> Migration {
    Migration::new(
        2,
        "write_in_savepoint",
        Step::sql("INSERT INTO notes VALUES (3, 'c'); UPDATE notes SET body = 'A' WHERE id = 1"),
    )
}

fn applied_rows(client: &mut postgres::Client) -> Vec<(i64, String)> {
    client
        .query(
            "SELECT seq, state FROM public._migrate_applied ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn notes(client: &mut postgres::Client) -> Vec<(i64, String)> {
    client
        .query("SELECT id, body FROM notes ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn rows_a_migration_wrote_in_its_savepoint_are_the_runs_own_and_do_not_stop_the_restore() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        .unwrap();
    let index_then_fail = Migration::new(
        3,
        "index_then_fail",
        Step::sql("CREATE INDEX CONCURRENTLY notes_body ON notes (body); SELECT 1/0"),
    )
    .with_mode(TxMode::NonTransactional);

    let mut session = Migrator::new()
        .with_migrations([create_notes(), write_in_savepoint(), index_then_fail])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(
        outcome.contains("restored automatically from") && !outcome.contains("not restored"),
        "{outcome}"
    );
    assert_eq!(
        notes(&mut client),
        [(1, "a".to_owned()), (2, "b".to_owned())],
        "the run's insert and update are undone"
    );
    assert!(!index_exists(&mut client), "the committed index is gone");
    assert_eq!(applied_rows(&mut client), [(1, "applied".to_owned())]);
    let files = files_in(dir.path());
    assert_eq!(
        files.iter().filter(|f| f.contains("pre-up")).count(),
        2,
        "{files:?}"
    );
    assert_eq!(session.failed_states().unwrap().len(), 1, "{files:?}");
}

#[test]
fn another_sessions_row_stops_the_restore_even_when_the_run_also_wrote_in_its_savepoints() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
        .unwrap();
    let config = db.config();
    let write_meanwhile_then_fail = Migration::new(
        3,
        "write_meanwhile_then_fail",
        Step::new(move |tx| {
            let config = config.clone();
            std::thread::spawn(move || {
                let mut other = config.connect(postgres::NoTls).unwrap();
                other
                    .batch_execute("INSERT INTO notes VALUES (42, 'written by another client')")
                    .unwrap();
            })
            .join()
            .unwrap();
            tx.batch_execute("SELECT 1/0")
        }),
    )
    .with_mode(TxMode::NonTransactional);
    let before = files_in(dir.path());

    let mut session = Migrator::new()
        .with_migrations([
            create_notes(),
            write_in_savepoint(),
            write_meanwhile_then_fail,
        ])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(outcome.contains("not restored automatically"), "{outcome}");
    // Only the other client's row counts; the run's own insert is in the baseline.
    assert!(
        outcome.contains("public.notes (1 rows inserted or updated; 3 rows then, 4 now)"),
        "{outcome}"
    );
    let new_files: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(new_files.len(), 1, "only the pre-up backup: {new_files:?}");
    assert!(
        outcome.contains(&format!(
            "`migrate restore {}",
            dir.path().join(&new_files[0]).display()
        )),
        "{outcome}"
    );
    assert_eq!(
        notes(&mut client),
        [
            (1, "A".to_owned()),
            (2, "b".to_owned()),
            (3, "c".to_owned()),
            (42, "written by another client".to_owned())
        ],
        "nothing restored"
    );
    assert_eq!(
        applied_rows(&mut client),
        [
            (1, "applied".to_owned()),
            (2, "applied".to_owned()),
            (3, "started".to_owned())
        ]
    );
    assert!(
        session.failed_states().unwrap().is_empty(),
        "nothing restored"
    );
}

/// Another session creates a table and commits rows into it while the run's transaction
/// (which took the backup) is still open: the backup's table locks do not cover a table that
/// did not exist. Those rows are that session's, not the run's: a restore would drop them.
#[test]
fn a_table_another_session_created_during_the_run_stops_the_restore() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    Migrator::new()
        .with_migrations([create_notes()])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    let config = db.config();
    let other_creates_a_table = Migration::new(
        2,
        "other_creates_a_table",
        Step::new(move |tx| {
            let config = config.clone();
            std::thread::spawn(move || {
                let mut other = config.connect(postgres::NoTls).unwrap();
                other
                    .batch_execute(
                        "CREATE TABLE audit (id bigint PRIMARY KEY); \
                         INSERT INTO audit VALUES (1), (2)",
                    )
                    .unwrap();
            })
            .join()
            .unwrap();
            tx.batch_execute("INSERT INTO notes VALUES (3, 'c')")
        }),
    );
    let index_then_fail = Migration::new(
        3,
        "index_then_fail",
        Step::sql("CREATE INDEX CONCURRENTLY notes_body ON notes (body); SELECT 1/0"),
    )
    .with_mode(TxMode::NonTransactional);

    let mut session = Migrator::new()
        .with_migrations([create_notes(), other_creates_a_table, index_then_fail])
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap();
    let err = session.up().unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    assert!(outcome.contains("not restored automatically"), "{outcome}");
    assert!(
        outcome.contains("public.audit (2 rows inserted or updated)"),
        "{outcome}"
    );
    let mut client = db.client();
    assert_eq!(
        count(&mut client, "audit"),
        2,
        "the other session's rows stay"
    );
    assert_eq!(
        notes(&mut client),
        [(3, "c".to_owned())],
        "nothing restored"
    );
    assert!(index_exists(&mut client));
    assert_eq!(
        applied_rows(&mut client),
        [
            (1, "applied".to_owned()),
            (2, "applied".to_owned()),
            (3, "started".to_owned())
        ]
    );
    assert!(
        session.failed_states().unwrap().is_empty(),
        "nothing restored"
    );
}
