//! The verified backup every changing run takes in its own transaction: its file, its path in
//! the history, retention sparing it, the refusal when no pg_dump can take it; and the
//! Session's backup, snapshot, backups and restore.

use crate::backup::{files_in, load_into};
use crate::common::{count, db, exists};
use crate::runs::notes;
use migrate_postgres::testing;
use migrate_postgres::{BackupKind, Error, Migrator, RestoreFrom, Retention, Settings};
use std::time::Duration;

fn migrator(dir: &std::path::Path) -> Migrator {
    Migrator::new().with_migrations(notes()).backup_dir(dir)
}

#[test]
fn a_changing_run_takes_a_pre_up_backup_of_its_starting_state_and_names_it_in_the_history() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut session = migrator(dir.path()).on(db.connect()).unwrap();
    session.up_to(1).unwrap();
    db.client()
        .batch_execute("INSERT INTO notes (id, body) VALUES (7, 'before the run')")
        .unwrap();

    session.up().unwrap();

    let backups = session.backups().unwrap();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let pre_up = &backups[1];
    assert_eq!(
        pre_up.kind,
        BackupKind::Automatic {
            reason: "pre-up".into()
        }
    );
    let path = pre_up.path.display().to_string();
    let mut client = db.client();
    let in_history: i64 = client
        .query_one(
            "SELECT count(*) FROM public._migrate_history WHERE backup_path = $1 AND seq IN (2, 3)",
            &[&path],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_history, 2, "both steps of the run name its backup");
    // The dump holds exactly the state the run started from: migration 1 and the row.
    let copy = testing::server().unwrap().database();
    load_into(&copy, &pre_up.path);
    let mut copy_client = copy.client();
    assert_eq!(count(&mut copy_client, "public._migrate_applied"), 1);
    let columns: i64 = copy_client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(columns, 2, "no title column yet");
    assert_eq!(count(&mut copy_client, "notes"), 1);
    assert_eq!(count(&mut client, "notes"), 2);
}

#[test]
fn a_start_with_nothing_to_do_takes_no_backup() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut session = migrator(dir.path()).on(db.connect()).unwrap();
    session.up().unwrap();
    let after_first = files_in(dir.path());
    assert_eq!(after_first.len(), 1, "{after_first:?}");

    let report = session.up().unwrap();

    assert!(report.steps.is_empty());
    assert_eq!(files_in(dir.path()), after_first);
}

#[test]
fn down_and_redo_back_up_with_their_own_reason() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut session = migrator(dir.path()).on(db.connect()).unwrap();
    session.up().unwrap();
    session.redo().unwrap();
    session.down(1).unwrap();
    let reasons: Vec<BackupKind> = session
        .backups()
        .unwrap()
        .into_iter()
        .map(|b| b.kind)
        .collect();
    let auto = |r: &str| BackupKind::Automatic { reason: r.into() };
    assert_eq!(
        reasons,
        [auto("pre-up"), auto("pre-redo"), auto("pre-down")]
    );
    assert_eq!(count(&mut db.client(), "public._migrate_applied"), 2);
}

#[test]
fn without_pg_dump_the_run_is_refused_and_nothing_changes() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let empty_tools = tempfile::tempdir().unwrap();
    let mut session = migrator(dir.path())
        .backup_tool_dir(empty_tools.path())
        .on(db.connect())
        .unwrap();

    let err = session.up().unwrap_err();

    assert!(
        matches!(
            err,
            Error::BackupToolMissing {
                tool: "pg_dump",
                ..
            }
        ),
        "{err:?}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert!(
        !exists(&mut client, "public._migrate_applied"),
        "not even the tracking tables"
    );
    assert!(files_in(dir.path()).is_empty());

    // Once the tools are found, the same run goes through.
    let mut session = migrator(dir.path()).on(db.connect()).unwrap();
    session.up().unwrap();
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
}

#[test]
fn without_pg_dump_a_later_run_changes_neither_schema_nor_tracking_rows() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    migrator(dir.path())
        .on(db.connect())
        .unwrap()
        .up_to(1)
        .unwrap();
    let empty_tools = tempfile::tempdir().unwrap();
    let before = files_in(dir.path());

    let err = migrator(dir.path())
        .backup_tool_dir(empty_tools.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    assert!(matches!(err, Error::BackupToolMissing { .. }), "{err:?}");
    let mut client = db.client();
    assert_eq!(count(&mut client, "public._migrate_applied"), 1);
    assert_eq!(count(&mut client, "public._migrate_history"), 1);
    let title: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_name = 'notes' AND column_name = 'title'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(title, 0);
    assert_eq!(files_in(dir.path()), before);
}

#[test]
fn retention_prunes_older_backups_but_never_the_runs_own() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keep_none = Retention {
        keep_last: Some(0),
        max_age: None,
    };
    let mut session = migrator(dir.path())
        .keep_backups(keep_none)
        .on(db.connect())
        .unwrap();
    session.snapshot("kept-forever").unwrap();
    session.up_to(1).unwrap();
    let first = session.backups().unwrap();

    session.up_to(2).unwrap();

    let now = session.backups().unwrap();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(matches!(&now[0].kind, BackupKind::Snapshot { name } if name == "kept-forever"));
    assert!(!first.iter().any(|b| b.path == now[1].path), "a new file");
    assert!(now[1].path.is_file(), "the run's own backup is kept");
    assert!(!first[1].path.exists(), "the older pre-up was pruned");
}

#[test]
fn manual_backups_are_never_pruned_by_the_retention_of_runs_restores_and_backups() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keep_one = Retention {
        keep_last: Some(1),
        max_age: None,
    };
    let mut session = migrator(dir.path())
        .keep_backups(keep_one)
        .on(db.connect())
        .unwrap();
    let first = session.backup().unwrap();
    session.up_to(1).unwrap();
    let second = session.backup().unwrap();
    session.up_to(2).unwrap();
    session.up().unwrap();
    let restored = session
        .restore(&RestoreFrom::File(second.path.clone()))
        .unwrap();

    // Retention ran after each run, the restore and the second backup: one automatic backup
    // (the restore's undo backup) is left, and both manual ones.
    let listed = session.backups().unwrap();
    let kinds: Vec<&BackupKind> = listed.iter().map(|b| &b.kind).collect();
    assert_eq!(
        kinds,
        [
            &BackupKind::Manual,
            &BackupKind::Manual,
            &BackupKind::Automatic {
                reason: "pre-restore".into()
            }
        ],
        "{listed:?}"
    );
    assert_eq!(listed[0].path, first.path);
    assert_eq!(listed[1].path, second.path);
    assert_eq!(listed[2].path, restored.undo_backup.path);
    let names = files_in(dir.path());
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".manual.dump")).count(),
        2
    );
    assert!(first.path.is_file() && second.path.is_file());
    // The restore put back the state of the second manual backup: migration 1 only.
    assert_eq!(count(&mut db.client(), "public._migrate_applied"), 1);
}

#[test]
fn retention_after_a_restore_keeps_the_automatic_backup_it_restored_from() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keep_one = Retention {
        keep_last: Some(1),
        max_age: None,
    };
    let mut session = migrator(dir.path())
        .keep_backups(keep_one)
        .on(db.connect())
        .unwrap();
    session.up_to(1).unwrap();
    session.up_to(2).unwrap();
    let [pre_up] = &session.backups().unwrap()[..] else {
        panic!("one automatic backup kept")
    };
    let restored = session
        .restore(&RestoreFrom::File(pre_up.path.clone()))
        .unwrap();

    // The restored file is what a second restore (after the undo) would use: it stays, even
    // though the undo backup makes it the oldest automatic one beyond `keep_last`.
    assert!(pre_up.path.is_file(), "the backup just restored was pruned");
    assert!(restored.undo_backup.path.is_file());
    assert_eq!(files_in(dir.path()).len(), 2);
    assert_eq!(count(&mut db.client(), "public._migrate_applied"), 1);
    // A later run's retention prunes it as usual.
    session.up().unwrap();
    assert!(!pre_up.path.exists());
}

#[test]
fn session_backup_snapshot_list_and_restore_on_postgres() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut session = migrator(dir.path()).on(db.connect()).unwrap();
    session.up().unwrap();
    let manual = session.backup().unwrap();
    assert_eq!(manual.kind, BackupKind::Manual);
    session.snapshot("seeded").unwrap();
    assert!(matches!(
        session.snapshot("../escape").unwrap_err(),
        Error::InvalidSnapshotName(_)
    ));
    assert_eq!(session.backups().unwrap().len(), 3);
    let mut client = db.client();
    client
        .batch_execute("DELETE FROM notes; CREATE TABLE stray (x int)")
        .unwrap();

    let report = session
        .restore(&RestoreFrom::Snapshot("seeded".into()))
        .unwrap();

    assert_eq!(count(&mut client, "notes"), 1);
    assert!(!exists(&mut client, "public.stray"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
    assert!(report.undo_backup.path.is_file());
    assert_eq!(
        session.backups().unwrap().len(),
        4,
        "the undo backup is listed"
    );
    assert!(session.failed_states().unwrap().is_empty());
}

#[test]
fn without_a_backup_dir_the_session_says_how_to_set_one() {
    let Some(db) = db() else { return };
    let mut session = Migrator::new()
        .with_migrations(notes())
        .on(db.connect())
        .unwrap();
    let err = session.backup().unwrap_err();
    assert!(err.to_string().contains("Migrator::backup_dir"), "{err}");
    // And runs go on without one, saying in a failure's outcome that none was taken.
    session.up().unwrap();
    assert_eq!(count(&mut db.client(), "public._migrate_applied"), 3);
}

#[test]
fn a_role_that_cannot_read_every_table_is_refused_before_the_run_changes_anything() {
    let Some(db) = db() else { return };
    let role = format!("{}_migrator", db.name);
    let mut admin = db.client();
    admin
        .batch_execute(&format!(
            "CREATE TABLE secret (x int); INSERT INTO secret VALUES (1);
             CREATE ROLE {role} LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO {role};
             GRANT CREATE ON DATABASE {} TO {role}",
            db.name
        ))
        .unwrap();
    let mut config = db.config();
    config.user(&role);
    let conn = migrate_postgres::Connection::from_config(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let err = migrator(dir.path()).on(conn).unwrap().up().unwrap_err();

    let Error::BackupPrivileges { objects, .. } = &err else {
        panic!("expected BackupPrivileges, got {err:?}")
    };
    assert_eq!(objects, &["public.secret".to_owned()]);
    assert!(!exists(&mut admin, "public.notes"));
    assert!(!exists(&mut admin, "public._migrate_applied"));
    assert_eq!(count(&mut admin, "secret"), 1);
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_failed_transactional_run_names_its_backup_and_keeps_nothing() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut migrations = notes();
    migrations[2] = migrate_postgres::Migration::new(
        3,
        "seed",
        migrate_postgres::Step::sql("INSERT INTO notes (id, body) VALUES (1, 'a'), (1, 'b')"),
    );

    let err = Migrator::new()
        .with_migrations(migrations)
        .backup_dir(dir.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    let Error::MigrationFailed { outcome, .. } = &err else {
        panic!("expected MigrationFailed, got {err:?}")
    };
    let files = files_in(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let backup = dir.path().join(&files[0]);
    assert!(
        outcome.contains(&format!(
            "The pre-migration backup is kept at {}.",
            backup.display()
        )),
        "{outcome}"
    );
    let mut client = db.client();
    assert!(!exists(&mut client, "public.notes"));
    assert_eq!(count(&mut client, "public._migrate_applied"), 0);
}

#[test]
fn a_pg_dump_older_than_the_server_refuses_the_run_before_anything_changes() {
    use std::os::unix::fs::PermissionsExt;
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    migrator(dir.path())
        .on(db.connect())
        .unwrap()
        .up_to(1)
        .unwrap();
    db.client()
        .batch_execute("INSERT INTO notes (id, body) VALUES (1, 'kept')")
        .unwrap();
    // An installed 9.6 client, as far as the version check can tell.
    let old_tools = tempfile::tempdir().unwrap();
    let fake = old_tools.path().join("pg_dump");
    std::fs::write(&fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = files_in(dir.path());

    let err = migrator(dir.path())
        .backup_tool_dir(old_tools.path())
        .on(db.connect())
        .unwrap()
        .up()
        .unwrap_err();

    assert!(
        matches!(
            &err,
            Error::BackupToolVersion {
                tool: "pg_dump",
                ..
            }
        ),
        "{err:?}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "public._migrate_applied"), 1);
    assert_eq!(count(&mut client, "public._migrate_history"), 1);
    assert_eq!(count(&mut client, "notes"), 1);
    assert_eq!(files_in(dir.path()), before);
}

/// The one backup of `up --all-sets` locks every user table `IN EXCLUSIVE MODE`: behind an
/// application's open write transaction it waits at most the connection's `lock_timeout`
/// (as a run's own backup does), not until that transaction ends with every new writer queued
/// behind it.
#[test]
fn the_backup_for_a_run_over_several_sets_waits_at_most_the_lock_timeout() {
    let Some(db) = db() else { return };
    let dir = tempfile::tempdir().unwrap();
    migrator(dir.path()).on(db.connect()).unwrap().up().unwrap();
    let before = files_in(dir.path());
    // An application's write transaction, left open.
    let mut app = db.client();
    app.batch_execute("BEGIN; INSERT INTO notes (id, body) VALUES (9, 'open')")
        .unwrap();
    let mut watch = db.client();
    // It ends once the backup has waited ten times its lock_timeout: a backup without one
    // would then go through.
    let application = std::thread::spawn(move || {
        while watch
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_secs(2));
        app.batch_execute("ROLLBACK").unwrap();
    });
    let conn = db.connect().with_settings(Settings {
        lock_timeout: Duration::from_millis(200),
        ..Settings::default()
    });
    let taken = migrator(dir.path()).on(conn).unwrap().back_up_for_run();
    application.join().unwrap();
    let err = taken.expect_err("the backup waited past its lock_timeout");
    assert_eq!(err.sqlstate(), Some("55P03"), "{err}");
    assert_eq!(files_in(dir.path()), before, "no backup file left behind");
    let mut client = db.client();
    assert_eq!(count(&mut client, "notes WHERE id = 9"), 0);
    assert_eq!(count(&mut client, "public._migrate_applied"), 3);
}
