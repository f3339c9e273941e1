//! A run whose commit does not happen: the runner's session ended on the way to it (here by
//! `pg_terminate_backend` from another session, at the moment the last migration finished).
//! The error names that cause, not a migration that ended the transaction ("migration 0"),
//! with the migrations the transaction held, that nothing of it was kept, the backup, and the
//! command to run again; the database shows nothing of the run, and the rerun applies it.

use crate::common::{applied_seqs, count, db, exists, lock_holders};
use migrate_postgres::{Error, Event, Migration, Migrator, Step};
use std::sync::Mutex;

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
        // Gone before the runner goes on (terminating is asynchronous).
        while client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get::<_, i64>(0)
            > 0
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
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
        .find(|p| p.to_string_lossy().contains(".pre-up."))
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
    let kept = files(&backups);
    assert_eq!(kept.len(), 1, "the pre-migration backup only: {kept:?}");
    assert!(kept[0].to_string_lossy().contains(".pre-up."), "{kept:?}");
}
