//! A run whose commit does not happen: the runner's session ended on the way to it (by
//! `pg_terminate_backend` from another session when a migration finished, or by the server's
//! `idle_in_transaction_session_timeout` while a hook paused).
//! The error names that cause, not a migration that ended the transaction ("migration 0"),
//! with the migrations the transaction held, that nothing of it was kept, the backup, and the
//! command to run again; the database shows nothing of the run, and the rerun applies it.

use crate::common::{applied_seqs, count, db, exists, lock_holders};
use migrate_postgres::{Error, Event, Migration, Migrator, Step};
use std::sync::Mutex;
use std::time::Duration;

/// The longest a hook waits for the server to end the runner's session.
const PATIENCE: Duration = Duration::from_secs(60);

fn table(seq: u64, name: &str) -> Migration {
    Migration::new(
        seq,
        name,
        Step::sql(format!("CREATE TABLE {name} (id int)")),
    )
}

/// A hook that ends the runner's session (`pg_terminate_backend` from another session) when
/// migration `seq` finishes, and waits until it is gone.
fn end_the_runner_after(
    db: &migrate_postgres::testing::TestDatabase,
    seq: u64,
) -> impl Fn(&Event) + Send + Sync + 'static {
    let other = Mutex::new(db.client());
    let key = migrate_postgres::lock_key("public");
    move |event: &Event| {
        let Event::MigrationFinished { seq: finished, .. } = event else {
            return;
        };
        if *finished != seq {
            return;
        }
        let mut client = other.lock().unwrap();
        let pid = lock_holders(&mut client, key)[0];
        client
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
        // Gone before the runner goes on (terminating is asynchronous); bounded, so a server
        // that never ends it fails the test instead of hanging it.
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline
            && client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .unwrap()
                .get::<_, i64>(0)
                > 0
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The files in `dir`.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut list: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    list.sort();
    list
}

#[test]
fn a_session_ended_before_the_commit_is_named_with_what_the_transaction_held() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let err = Migrator::new()
        .with_migrations([table(1, "first"), table(2, "second")])
        .backup_dir(&backups)
        .on_event(end_the_runner_after(&db, 2))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    let Error::CommitFailed { error, outcome } = &err else {
        panic!("expected CommitFailed, got {err:?}")
    };
    match &**error {
        Error::CommitLost {
            cause, migrations, ..
        } => {
            assert!(cause.contains("pg_terminate_backend"), "{cause}");
            assert_eq!(migrations, &["1 \"first\" (up)", "2 \"second\" (up)"]);
        }
        other => panic!("expected CommitLost, got {other:?}"),
    }
    let text = err.to_string();
    assert!(!text.contains("migration 0"), "{text}");
    assert!(!text.contains("COMMIT or ROLLBACK in its SQL"), "{text}");
    assert!(text.contains("PostgreSQL kept nothing of it"), "{text}");
    assert!(outcome.contains("run `migrate up` again"), "{outcome}");
    let backup = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        // The dump, not its `.meta` (which read_dir may list first).
        .find(|p| p.to_string_lossy().ends_with(".pre-up.dump"))
        .expect("the pre-migration backup");
    assert!(
        outcome.contains(&format!("kept at {}", backup.display())),
        "{outcome}"
    );

    // Nothing of the run: no table, no tracking table (created in that transaction).
    let mut client = db.client();
    assert!(!exists(&mut client, "public.first"));
    assert!(!exists(&mut client, "public.second"));
    assert!(!exists(&mut client, "public._migrate_applied"));
    // The rerun the message names applies both.
    Migrator::new()
        .with_migrations([table(1, "first"), table(2, "second")])
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(applied_seqs(&mut client), [1, 2]);
    assert_eq!(count(&mut client, "public.second"), 0);
}

/// The same before a `transaction = false` migration, whose turn commits what ran before it:
/// a commit failure, not that migration's (it never ran, is not recorded as started, and no
/// restore is attempted over a database the failed commit left as it was).
#[test]
fn a_session_ended_before_the_commit_ahead_of_a_non_transactional_migration_is_that_commit() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let index = Migration::new(
        2,
        "index_first",
        Step::sql("CREATE INDEX CONCURRENTLY first_by_id ON first (id)"),
    )
    .with_mode(migrate_postgres::TxMode::NonTransactional);
    let err = Migrator::new()
        .with_migrations([table(1, "first"), index])
        .backup_dir(&backups)
        .on_event(end_the_runner_after(&db, 1))
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::CommitFailed { error, outcome } = &err else {
        panic!("expected CommitFailed, got {err:?}")
    };
    match &**error {
        Error::CommitLost {
            doing, migrations, ..
        } => {
            assert_eq!(doing, "committing");
            assert_eq!(migrations, &["1 \"first\" (up)"]);
        }
        other => panic!("expected CommitLost, got {other:?}"),
    }
    assert!(!err.to_string().contains("index_first"), "{err}");
    assert!(outcome.contains("run `migrate up` again"), "{outcome}");
    let mut client = db.client();
    assert!(!exists(&mut client, "public.first"));
    assert!(!exists(&mut client, "public.first_by_id"));
    assert!(!exists(&mut client, "public._migrate_applied"));
    // The pre-migration backup (and its checksum file) only: no failed-state copy, as no
    // restore was attempted.
    let kept: Vec<_> = files(&backups)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".meta"))
        .collect();
    assert_eq!(kept.len(), 1, "the pre-migration backup only: {kept:?}");
    assert!(kept[0].to_string_lossy().contains(".pre-up."), "{kept:?}");
}

/// The server ends a session that stays idle in its transaction longer than
/// `idle_in_transaction_session_timeout` (here a hook pauses after the last migration until the
/// server has ended it): the cause names that setting, and nothing of the run is kept.
#[test]
fn a_session_ended_by_idle_in_transaction_session_timeout_names_that_setting() {
    let Some(db) = db() else { return };
    let watcher = Mutex::new(db.client());
    let key = migrate_postgres::lock_key("public");
    let wait_until_ended = move |event: &Event| {
        let Event::MigrationFinished { seq: 2, .. } = event else {
            return;
        };
        let mut client = watcher.lock().unwrap();
        // The runner is idle in its transaction from here on: the server ends it.
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline && !lock_holders(&mut client, key).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut admin = db.client();
    let name: String = admin
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '1s'"
        ))
        .unwrap();
    let err = Migrator::new()
        .with_migrations([table(1, "first"), table(2, "second")])
        .on_event(wait_until_ended)
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();
    let Error::CommitFailed { error, .. } = &err else {
        panic!("expected CommitFailed, got {err:?}")
    };
    let Error::CommitLost { cause, .. } = &**error else {
        panic!("expected CommitLost, got {error:?}")
    };
    assert!(
        cause.contains("idle_in_transaction_session_timeout"),
        "{cause}"
    );
    assert!(!exists(&mut admin, "public.first"));
    assert!(!exists(&mut admin, "public._migrate_applied"));
}
