//! Restores that really restore, against the real server: a failed migration's table (with a
//! foreign key), column, index, schema and deleted rows are all undone; a damaged dump, a
//! replay that fails half-way and a restore that cannot get its locks each leave the live
//! database exactly as it was; snapshots and the newest backup are found by name.

use crate::backup::{APP, all_rows, automatic, files_in};
use crate::common::{count, db, exists};
use migrate_postgres::testing::TestDatabase;
use migrate_postgres::{BackupKind, Backups, Error, RestoreFrom};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// What a failed migration leaves behind: a new table with a foreign key, a new column, an
/// index, a new schema, deleted and changed rows.
const FAILED_MIGRATION: &str = "
CREATE TABLE audit (id bigint PRIMARY KEY, user_id bigint REFERENCES users, note text);
INSERT INTO audit VALUES (1, 1, 'half done');
ALTER TABLE users ADD COLUMN nick text;
CREATE INDEX orders_total ON orders (total);
CREATE SCHEMA scratch;
CREATE TABLE scratch.tmp (x int);
DELETE FROM orders WHERE id % 3 = 0;
UPDATE users SET name = 'renamed' WHERE id <= 10;
DROP VIEW reporting.big_orders;
";

/// The state the tests compare: the catalog, every row, and `public`'s owner, rights and
/// comment (the restore recreates that schema).
#[derive(Debug, PartialEq)]
struct State {
    objects: migrate_postgres::SchemaObjects,
    rows: std::collections::BTreeMap<String, Vec<String>>,
    public: Vec<String>,
    schemas: Vec<String>,
}

fn state(db: &TestDatabase) -> State {
    let mut client = db.client();
    let public = client
        .query_one(
            "SELECT nspowner::regrole::text, coalesce(nspacl::text, ''),
                    coalesce(obj_description(oid, 'pg_namespace'), '')
             FROM pg_namespace WHERE nspname = 'public'",
            &[],
        )
        .unwrap();
    let schemas = client
        .query(
            r"SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%'
              AND nspname <> 'information_schema' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    State {
        objects: db.connect().schema_objects().unwrap(),
        rows: all_rows(&mut client),
        public: (0..3).map(|i| public.get(i)).collect(),
        schemas,
    }
}

#[test]
fn a_failed_migration_is_fully_undone() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let before = state(&app);
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let mut conn = app.connect();
    let backup = backups.back_up(&mut conn, automatic()).unwrap();
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);
    assert_ne!(failed, before);

    let mut lock = conn.lock().unwrap();
    let report = backups
        .restore(&mut lock, &RestoreFrom::File(backup.path.clone()))
        .unwrap();
    drop(lock);

    assert_eq!(state(&app), before);
    let mut client = app.client();
    assert!(!exists(&mut client, "public.audit"));
    assert!(!exists(&mut client, "scratch.tmp"));
    assert!(exists(&mut client, "reporting.big_orders"));
    assert_eq!(count(&mut client, "orders"), 2000);
    // The identity goes on where it was, so new rows do not collide.
    client
        .batch_execute("INSERT INTO users (name) VALUES ('next')")
        .unwrap();
    assert_eq!(report.restored_from, backup.path);
    assert_eq!(
        report.undo_backup.kind,
        BackupKind::Automatic {
            reason: "pre-restore".into()
        }
    );
    // The undo backup holds the failed state: restoring it brings that back.
    client
        .batch_execute("DELETE FROM users WHERE name = 'next'")
        .unwrap();
    let mut conn = app.connect();
    let mut lock = conn.lock().unwrap();
    backups
        .restore(
            &mut lock,
            &RestoreFrom::File(report.undo_backup.path.clone()),
        )
        .unwrap();
    drop(lock);
    assert_eq!(state(&app), failed);
}

#[test]
fn a_damaged_dump_is_refused_and_the_database_is_left_as_it_was() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let mut conn = app.connect();
    let backup = backups.back_up(&mut conn, automatic()).unwrap();
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);
    let damaged = dir.path().join("damaged.dump");
    let mut bytes = std::fs::read(&backup.path).unwrap();
    let middle = bytes.len() * 2 / 3;
    bytes[middle..middle + 8].copy_from_slice(b"XXXXXXXX");
    std::fs::write(&damaged, &bytes).unwrap();
    let files = files_in(dir.path());

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::File(damaged.clone()))
        .unwrap_err();
    drop(lock);

    assert!(
        matches!(&err, Error::BackupDamaged { path, .. } if *path == damaged),
        "{err}"
    );
    assert_eq!(state(&app), failed);
    assert_eq!(
        files_in(dir.path()),
        files,
        "not even an undo backup was written"
    );
}

/// Overwrites `from` with `to` (same length) where it first occurs in the file at `path`.
fn overwrite_in_file(path: &std::path::Path, from: &[u8], to: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the text is in the dump");
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn a_dump_whose_sql_text_was_overwritten_is_refused_by_its_checksum_before_anything_changes() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let mut conn = app.connect();
    let intact = backups.back_up(&mut conn, automatic()).unwrap();
    let damaged = backups.back_up(&mut conn, automatic()).unwrap();
    // Bytes of the SQL text in the middle of the dump (the table definitions are stored as
    // text): reading the archive back still succeeds, only the replay would fail.
    overwrite_in_file(&damaged.path, b"numeric(10,2)", b"numerix(10,2)");
    let read_back = std::process::Command::new(crate::backup::bin("pg_restore"))
        .args(["-f", "/dev/null"])
        .arg(&damaged.path)
        .status()
        .unwrap();
    assert!(read_back.success(), "pg_restore -f /dev/null accepts it");
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);
    let files = files_in(dir.path());

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::Latest)
        .unwrap_err();
    drop(lock);

    let Error::BackupChecksumMismatch {
        path,
        expected,
        found,
        instead,
    } = &err
    else {
        panic!("expected BackupChecksumMismatch, got {err:?}")
    };
    assert_eq!(*path, damaged.path);
    assert_ne!(expected, found);
    assert_eq!(instead.as_ref(), Some(&intact.path), "{err}");
    let text = err.to_string();
    assert!(text.contains("is damaged"), "{text}");
    assert!(
        text.contains(&format!("`migrate restore {}`", intact.path.display())),
        "{text}"
    );
    assert_eq!(state(&app), failed, "the database is as it was");
    assert_eq!(
        files_in(dir.path()),
        files,
        "not even an undo backup was written"
    );
    // `verify` says so too; the intact one passes; restoring it works.
    assert!(matches!(
        backups.verify(&mut conn, &damaged.path),
        Err(Error::BackupChecksumMismatch { .. })
    ));
    assert!(matches!(
        backups.integrity(&damaged.path).unwrap(),
        migrate_postgres::Integrity::Damaged { .. }
    ));
    assert_eq!(
        backups.integrity(&intact.path).unwrap(),
        migrate_postgres::Integrity::Intact
    );
    backups.verify(&mut conn, &intact.path).unwrap();
    let mut lock = conn.lock().unwrap();
    backups
        .restore(&mut lock, &RestoreFrom::File(intact.path.clone()))
        .unwrap();
    drop(lock);
    let mut client = app.client();
    assert!(!exists(&mut client, "public.audit"));
    assert_eq!(count(&mut client, "orders"), 2000);
}

#[test]
fn a_restore_that_fails_while_replaying_changes_nothing_and_names_the_undo_backup() {
    let Some(app) = db() else { return };
    let ghost = format!("{}_ghost", app.name);
    let mut admin = app.client();
    admin.batch_execute(APP).unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {ghost}; CREATE TABLE notes (id int PRIMARY KEY);
             INSERT INTO notes VALUES (1), (2); ALTER TABLE notes OWNER TO {ghost}"
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let mut conn = app.connect();
    let backup = backups.back_up(&mut conn, automatic()).unwrap();
    // The dump says `ALTER TABLE notes OWNER TO <ghost>`: replaying it fails once the role
    // is gone, after the schemas were dropped and most of the dump replayed.
    admin
        .batch_execute(&format!(
            "ALTER TABLE notes OWNER TO postgres; DROP ROLE {ghost}"
        ))
        .unwrap();
    admin.batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::File(backup.path.clone()))
        .unwrap_err();
    drop(lock);

    let Error::RestoreFailed {
        from,
        stderr,
        undo_backup,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(from, &backup.path);
    assert!(stderr.contains(&ghost), "{stderr}");
    assert!(undo_backup.is_file());
    assert!(
        err.to_string()
            .contains(&format!("migrate restore {}", backup.path.display())),
        "{err}"
    );
    assert_eq!(state(&app), failed);
    assert_eq!(count(&mut admin, "notes"), 2);
}

#[test]
fn a_pg_restore_that_dies_half_way_commits_nothing() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = Backups::new(&app.config(), dir.path())
        .back_up(&mut app.connect(), automatic())
        .unwrap();
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);
    // The real pg_restore, except that when it feeds psql it stops cleanly at a statement
    // boundary before the first row of data and exits 1: a plain `pg_restore | psql -1` would
    // commit the dropped schemas and empty tables.
    let tools = tempfile::tempdir().unwrap();
    let real = crate::backup::bin("pg_restore");
    let wrapper = tools.path().join("pg_restore");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh
if [ \"$1\" = --file=- ]; then
  {} \"$@\" | sed -n '/^COPY /q;p'
  \
             exit 1
fi
exec {} \"$@\"
",
            real.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backups = Backups::new(&app.config(), dir.path())
        .with_tool_dir(tools.path())
        .with_tool_dir(real.parent().unwrap());
    let mut conn = app.connect();

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::File(backup.path.clone()))
        .unwrap_err();
    drop(lock);

    assert!(matches!(err, Error::RestoreFailed { .. }), "{err}");
    assert_eq!(state(&app), failed);
    assert_eq!(count(&mut app.client(), "orders"), 1334);
}

#[test]
fn a_restore_waits_for_other_sessions_locks_only_up_to_lock_timeout() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let settings = migrate_postgres::Settings {
        lock_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let mut conn = app.connect().with_settings(settings);
    let backup = backups.back_up(&mut conn, automatic()).unwrap();
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    let failed = state(&app);
    // Another session reads orders in an open transaction.
    let mut reader = app.client();
    let mut reading = reader.transaction().unwrap();
    reading.query("SELECT count(*) FROM orders", &[]).unwrap();

    let mut lock = conn.lock().unwrap();
    let err = backups
        .restore(&mut lock, &RestoreFrom::File(backup.path.clone()))
        .unwrap_err();
    drop(lock);

    assert!(
        matches!(&err, Error::RestoreFailed { stderr, .. } if stderr.contains("lock timeout")),
        "{err}"
    );
    reading.commit().unwrap();
    assert_eq!(state(&app), failed);
}

#[test]
fn snapshots_and_the_newest_backup_are_restored_by_name() {
    let Some(app) = db() else { return };
    app.client().batch_execute(APP).unwrap();
    let v1 = state(&app);
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let mut conn = app.connect();
    backups.snapshot(&mut conn, "v1").unwrap();
    app.client()
        .batch_execute("DELETE FROM orders WHERE id > 1000")
        .unwrap();
    let v2 = state(&app);
    backups.back_up(&mut conn, automatic()).unwrap();
    app.client().batch_execute(FAILED_MIGRATION).unwrap();
    // A failed-state copy is newer, but never "the newest backup".
    backups.back_up(&mut conn, BackupKind::FailedState).unwrap();

    let mut lock = conn.lock().unwrap();
    let latest = backups.restore(&mut lock, &RestoreFrom::Latest).unwrap();
    assert_eq!(state(&app), v2);
    assert!(
        latest
            .restored_from
            .to_str()
            .unwrap()
            .ends_with(".pre-up.dump")
    );
    backups
        .restore(&mut lock, &RestoreFrom::Snapshot("v1".into()))
        .unwrap();
    assert_eq!(state(&app), v1);

    let err = backups
        .restore(&mut lock, &RestoreFrom::Snapshot("nope".into()))
        .unwrap_err();
    assert!(matches!(err, Error::NoBackup { .. }), "{err}");
    let err = backups
        .restore(&mut lock, &RestoreFrom::Snapshot("../v1".into()))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSnapshotName(_)), "{err}");
    drop(lock);
    assert_eq!(state(&app), v1);
}

#[test]
fn another_databases_dump_is_refused_unless_allowed_and_an_apps_dump_is_taken() {
    let (Some(app), Some(other)) = (db(), db()) else {
        return;
    };
    app.client().batch_execute(APP).unwrap();
    other
        .client()
        .batch_execute(
            "CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (1)",
        )
        .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = Backups::new(&other.config(), elsewhere.path())
        .back_up(&mut other.connect(), automatic())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::new(&app.config(), dir.path());
    let before = state(&app);
    let mut conn = app.connect();
    let mut lock = conn.lock().unwrap();
    let from = RestoreFrom::File(foreign.path.clone());

    let err = backups.restore(&mut lock, &from).unwrap_err();

    let Error::RestoreRefused { path, way_out, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, &foreign.path);
    assert!(way_out.contains("--allow-foreign-source"), "{err}");
    assert_eq!(state(&app), before);
    assert!(files_in(dir.path()).is_empty(), "not even an undo backup");

    // A dump of a database this set migrated (it holds public._migrate_applied) is accepted.
    {
        let mut other_conn = other.connect();
        let mut other_lock = other_conn.lock().unwrap();
        other_lock.begin().unwrap().commit().unwrap();
    }
    let migrated = Backups::new(&other.config(), elsewhere.path())
        .back_up(&mut other.connect(), automatic())
        .unwrap();
    backups
        .restore(&mut lock, &RestoreFrom::File(migrated.path))
        .unwrap();
    assert_eq!(state(&app), state(&other));

    // So is any dump, when asked explicitly.
    let options = migrate_postgres::RestoreOptions::default().allow_foreign_source();
    backups.restore_with(&mut lock, &from, options).unwrap();
    drop(lock);
    assert_eq!(count(&mut app.client(), "invoices"), 1);
    assert!(!exists(&mut app.client(), "public.users"));
}
