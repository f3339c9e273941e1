//! Verified backups, retention, named snapshots and restore, on real files: every changing run
//! takes exactly one verified, private backup of the state before it; a backup that cannot be
//! written stops the run before anything changes; retention keeps the newest automatic backups
//! and every snapshot; snapshot names cannot leave the backup directory; a damaged backup is never
//! restored; a restore can be undone; a failure that a rollback cannot undo is undone by an
//! automatic restore.
#![cfg(unix)]

mod common;
use common::*;
use migrate_sqlite::{
    BackupKind, Error, Migration, Progress, RestoreFrom, RestoreOptions, RunReport, Session, Step,
    TxMode,
};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ----------------------------------------------------------------------------------------------
// Helpers

/// The default backup directory of `db`.
fn backups_dir(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".backups");
    PathBuf::from(name)
}

/// The names of the entries of `dir` (none if it does not exist).
fn listing(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    }
}

/// Every path under `root`, recursively.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.insert(path);
        }
    }
    found
}

/// A copy of a backup in a scratch directory of the test, so that opening it (which may create
/// `-wal`/`-shm` files) leaves the backup directory as the code under test made it.
fn scratch_copy(db: &TempDb, backup: &Path) -> PathBuf {
    let scratch = db.dir.path().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let mut name = backup.file_name().unwrap().to_owned();
    name.push(format!(".{}", listing(&scratch).len()));
    let copy = scratch.join(name);
    fs::copy(backup, &copy).unwrap();
    copy
}

fn quick_check(path: &Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn history_len(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM _migrate_history", [], |r| r.get(0))
        .unwrap()
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn set_wal(path: &Path) {
    let mode: String = Connection::open(path)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// `20261122T104914.123Z` (UTC), the time format of backup names, computed independently of
/// the code under test (H. Hinnant's civil-from-days).
fn stamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap();
    let secs = since.as_secs() as i64;
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Runs `op`, which must change the database, and checks the one backup it took: named with
/// `reason`, private, verified, holding exactly the state before the run, listed with the
/// schema version before the run, and recorded in every history row of the run.
fn run_with_one_backup(
    db: &TempDb,
    session: &mut Session<'static>,
    reason: &str,
    op: impl FnOnce(&mut Session<'static>) -> migrate_sqlite::Result<RunReport>,
) -> PathBuf {
    let dir = backups_dir(&db.path);
    let files_before = listing(&dir);
    let dump_before = dump(&db.path);
    let version_before = session.status().unwrap().current;
    let history_before = session.history().unwrap().len();

    let report = op(session).unwrap();
    assert!(
        !report.steps.is_empty(),
        "{reason}: the run changed nothing"
    );

    let files_after = listing(&dir);
    let new: Vec<&String> = files_after.difference(&files_before).collect();
    assert_eq!(
        new.len(),
        1,
        "{reason}: not exactly one new backup: {new:?}"
    );
    assert!(
        files_before.is_subset(&files_after),
        "{reason}: a backup disappeared"
    );
    let name = new[0];
    assert!(
        name.starts_with("app.db.") && name.ends_with(&format!(".{reason}.db")),
        "{name}"
    );
    let path = dir.join(name);
    assert_eq!(mode(&path), 0o600, "{name} is not private");
    let copy = scratch_copy(db, &path);
    assert_eq!(quick_check(&copy), "ok", "{name}");
    assert_eq!(
        dump(&copy),
        dump_before,
        "{name} is not the state before the run"
    );

    let info = session
        .backups()
        .unwrap()
        .into_iter()
        .find(|b| b.path == path)
        .unwrap_or_else(|| panic!("{name} is not listed"));
    assert_eq!(
        info.kind,
        BackupKind::Automatic {
            reason: reason.into()
        }
    );
    assert_eq!(info.schema_version, version_before, "{name}");
    assert_eq!(info.size, fs::metadata(&path).unwrap().len());

    let history = session.history().unwrap();
    let rows = &history[history_before..];
    assert!(!rows.is_empty(), "{reason}: no history rows");
    for row in rows {
        assert_eq!(
            row.event.backup_path.as_deref(),
            Some(path.to_str().unwrap()),
            "{row:?}"
        );
    }
    path
}

// ----------------------------------------------------------------------------------------------
// Automatic backups of changing runs

#[test]
fn every_changing_run_takes_one_verified_private_backup_of_the_state_before_it() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(3)).open(&db.path).unwrap();
    run_with_one_backup(&db, &mut session, "pre-up", |s| s.up_to(2));
    let conn = Connection::open(&db.path).unwrap();
    conn.execute_batch(
        "INSERT INTO t1 (v) VALUES ('one'), ('two'); INSERT INTO t2 (v) VALUES ('x')",
    )
    .unwrap();
    run_with_one_backup(&db, &mut session, "pre-up", |s| s.up());
    conn.execute_batch("INSERT INTO t3 (v) VALUES ('three')")
        .unwrap();
    run_with_one_backup(&db, &mut session, "pre-down", |s| s.down(1));
    run_with_one_backup(&db, &mut session, "pre-redo", |s| s.redo());
    run_with_one_backup(&db, &mut session, "pre-down", |s| s.down_to(0));
    assert_eq!(session.status().unwrap().current, None);
    // Five runs, five backups (the default keeps five).
    assert_eq!(session.backups().unwrap().len(), 5);
}

#[test]
fn a_start_with_nothing_to_do_takes_no_backup_and_writes_nothing() {
    // Migrated without backups: a later no-op start with backups on creates no directory.
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    let bytes_before = bytes(&db.path);
    let files_before = listing(db.dir.path());
    let mut session = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    assert!(session.up().unwrap().steps.is_empty());
    assert!(session.up_to(2).unwrap().steps.is_empty());
    assert!(session.down(0).unwrap().steps.is_empty());
    drop(session);
    assert!(
        !backups_dir(&db.path).exists(),
        "a no-op start made a backup"
    );
    assert_eq!(bytes(&db.path), bytes_before, "a no-op start wrote");
    assert_eq!(listing(db.dir.path()), files_before);

    // With a backup directory already there: it is left exactly as it was.
    let db = temp_db();
    let mut session = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    let dir = backups_dir(&db.path);
    let backups_before = listing(&dir);
    assert_eq!(backups_before.len(), 1);
    let bytes_before = bytes(&db.path);
    let mut again = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    assert!(again.up().unwrap().steps.is_empty());
    assert!(session.up().unwrap().steps.is_empty());
    drop((session, again));
    assert_eq!(listing(&dir), backups_before);
    assert_eq!(bytes(&db.path), bytes_before);
}

/// A backup directory that cannot be written: read-only, or (when running as root, which
/// ignores permissions) a path below a regular file, which fails with ENOTDIR.
fn unwritable_backup_dir(db: &TempDb) -> PathBuf {
    let dir = db.dir.path().join("read-only");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
    let probe = dir.join("probe");
    if fs::File::create(&probe).is_err() {
        return dir;
    }
    // Root: the permissions do not hold.
    fs::remove_file(&probe).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let file = db.dir.path().join("a-regular-file");
    fs::write(&file, b"not a directory").unwrap();
    file.join("backups")
}

#[test]
fn a_backup_that_cannot_be_written_stops_the_run_before_anything_changes() {
    let db = temp_db();
    migrator(tables(3))
        .open(&db.path)
        .unwrap()
        .up_to(1)
        .unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("INSERT INTO t1 (v) VALUES ('kept')")
        .unwrap();
    let target = unwritable_backup_dir(&db);
    let bytes_before = bytes(&db.path);
    let tree_before = tree(db.dir.path());
    let history_before = history_len(&db.path);

    let migrator = migrator_with_backups(tables(3)).backup_dir(&target);
    let mut session = migrator.open(&db.path).unwrap();
    let err = session.up().unwrap_err();
    assert!(
        matches!(&err, Error::BackupFailed { dir, .. } if *dir == target),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("Nothing was migrated"), "{text}");
    assert!(text.contains(&target.display().to_string()), "{text}");
    // The other operations that write a backup fail the same way.
    for err in [
        session.down(1).unwrap_err(),
        session.backup().unwrap_err(),
        session.snapshot("v1").unwrap_err(),
    ] {
        assert!(matches!(err, Error::BackupFailed { .. }), "{err:?}");
    }
    drop(session);

    assert_eq!(bytes(&db.path), bytes_before, "the database file changed");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1]);
    assert!(!table_exists(&conn, "t2"));
    assert_eq!(history_len(&db.path), history_before);
    // No temp file, no journal, nothing anywhere.
    assert_eq!(tree(db.dir.path()), tree_before);
    drop(conn);

    // The lock was released: with a usable directory the same run goes through.
    fs::set_permissions(
        db.dir.path().join("read-only"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    migrator_with_backups(tables(3))
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap();
    assert_eq!(
        applied_seqs(&Connection::open(&db.path).unwrap()),
        [1, 2, 3]
    );
}

// ----------------------------------------------------------------------------------------------
// Retention

#[test]
fn retention_keeps_the_newest_automatic_backups_every_snapshot_and_every_manual_backup() {
    let db = temp_db();
    let dir = backups_dir(&db.path);
    let mut session = migrator_with_backups(tables(8))
        .keep_backups(3)
        .open(&db.path)
        .unwrap();
    let mut automatic: Vec<String> = Vec::new();
    let mut kept_always: Vec<String> = Vec::new();
    let mut record = |before: &BTreeSet<String>, always_kept: bool| {
        let after = listing(&dir);
        let new: Vec<String> = after.difference(before).cloned().collect();
        assert_eq!(new.len(), 1, "{new:?}");
        if always_kept {
            kept_always.push(new[0].clone());
        } else {
            automatic.push(new[0].clone());
        }
        let autos = after
            .iter()
            .filter(|n| !n.contains(".snapshot.") && !n.ends_with(".manual.db"))
            .count();
        assert!(autos <= 3, "retention did not prune: {after:?}");
    };
    for seq in 1..=8 {
        let before = listing(&dir);
        session.up_to(seq).unwrap();
        record(&before, false);
        if seq % 3 == 0 {
            let before = listing(&dir);
            session.snapshot(&format!("at-{seq}")).unwrap();
            record(&before, true);
        }
        if seq == 2 {
            // Taken by hand early: six later runs do not prune it.
            let before = listing(&dir);
            let manual = session.backup().unwrap();
            assert_eq!(manual.kind, BackupKind::Manual);
            record(&before, true);
        }
    }
    let before = listing(&dir);
    session.backup().unwrap();
    record(&before, true);
    let before = listing(&dir);
    session.down(2).unwrap();
    record(&before, false);
    assert_eq!(automatic.len(), 9);
    assert_eq!(kept_always.len(), 4, "2 snapshots, 2 manual backups");

    let newest: BTreeSet<String> = automatic[automatic.len() - 3..].iter().cloned().collect();
    let expected: BTreeSet<String> = newest
        .union(&kept_always.iter().cloned().collect())
        .cloned()
        .collect();
    assert_eq!(listing(&dir), expected);
    assert!(automatic[7].ends_with(".pre-up.db"));
    assert!(automatic[8].ends_with(".pre-down.db"));
    let manual: Vec<&String> = kept_always
        .iter()
        .filter(|n| n.ends_with(".manual.db"))
        .collect();
    assert_eq!(manual.len(), 2);
    let listed = session.backups().unwrap();
    assert_eq!(listed.len(), 7);
    let names: BTreeSet<String> = listed
        .iter()
        .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        listed
            .iter()
            .filter(|b| b.kind == BackupKind::Manual)
            .count(),
        2
    );
    assert_eq!(session.snapshots().unwrap().len(), 2);
}

#[test]
fn max_backup_age_prunes_automatic_backups_by_the_time_in_their_name() {
    let db = temp_db();
    let dir = backups_dir(&db.path);
    let migrator = migrator_with_backups(tables(1))
        .keep_backups(100)
        .max_backup_age(Duration::from_secs(3600));
    let session = migrator.open(&db.path).unwrap();
    session.snapshot("template").unwrap();
    let template = dir.join(listing(&dir).into_iter().next().unwrap());
    let now = SystemTime::now();
    let old = stamp(now - Duration::from_secs(2 * 3600));
    let recent = stamp(now - Duration::from_secs(10 * 60));
    let hand_made = [
        (format!("app.db.{old}.pre-up.db"), false),
        // A manual backup is never pruned, however old.
        ("app.db.20200101T000000.000Z.manual.db".to_owned(), true),
        (format!("app.db.{old}.snapshot.ancient.db"), true),
        (format!("app.db.{recent}.pre-down.db"), true),
        // Not backups of this database: never touched.
        (format!("other.db.{old}.pre-up.db"), true),
        (format!("app.db.{old}.pre-up.db.note"), true),
        (format!("app.db.{old}.Pre-Up.db"), true),
    ];
    for (name, _) in &hand_made {
        fs::copy(&template, dir.join(name)).unwrap();
    }
    // The file times say "new"; only the names say "old".
    let listed_before = session.backups().unwrap().len();
    assert_eq!(listed_before, 5, "template + 4 of this database");

    let fresh = session.backup().unwrap();
    let remaining = listing(&dir);
    for (name, kept) in &hand_made {
        assert_eq!(remaining.contains(name), *kept, "{name}: {remaining:?}");
    }
    assert!(remaining.contains(fresh.path.file_name().unwrap().to_str().unwrap()));
    assert!(template.exists(), "a snapshot was pruned");
}

// ----------------------------------------------------------------------------------------------
// Repeated states: an unchanged database does not pile up identical automatic backups

/// Tables t1 (one row) at seq 1, and a migration 2 that always fails.
fn failing_after_one(db: &TempDb) -> Session<'static> {
    let mut list = tables(1);
    list.push(Migration::new(
        2,
        "fails",
        Step::new(|tx| {
            tx.execute_batch("CREATE TABLE half (x)")?;
            Err(migrate_sqlite::Error::msg("fails on purpose"))
        }),
    ));
    let mut session = migrator_with_backups(list).open(&db.path).unwrap();
    session.up_to(1).unwrap();
    session
        .connection()
        .execute("INSERT INTO t1 (v) VALUES ('a')", [])
        .unwrap();
    session
}

/// The `pre-up` backups in the directory, oldest first.
fn pre_up_backups(session: &Session<'_>) -> Vec<PathBuf> {
    session
        .backups()
        .unwrap()
        .into_iter()
        .filter(|b| {
            b.kind
                == BackupKind::Automatic {
                    reason: "pre-up".into(),
                }
        })
        .map(|b| b.path)
        .collect()
}

#[test]
fn failed_starts_of_an_unchanged_database_leave_one_backup_of_that_state() {
    let db = temp_db();
    let mut session = failing_after_one(&db);
    let first_run = pre_up_backups(&session);
    assert_eq!(first_run.len(), 1, "the backup before seq 1");
    let manual = session.backup().unwrap();
    let mut taken = Vec::new();
    for _ in 0..5 {
        let before = listing(&backups_dir(&db.path));
        assert!(session.up().is_err());
        let after = listing(&backups_dir(&db.path));
        let new: Vec<&String> = after.difference(&before).collect();
        assert_eq!(new.len(), 1, "each start takes its backup: {new:?}");
        taken.push(backups_dir(&db.path).join(new[0]));
    }
    // The empty database before seq 1, and the newest of the five identical states.
    let left = pre_up_backups(&session);
    assert_eq!(left, [first_run[0].clone(), taken[4].clone()]);
    assert!(manual.path.is_file(), "the manual backup is kept");
    // The one kept holds the state, and the run log of the four starts before it.
    let conn = Connection::open_with_flags(&taken[4], OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    assert_eq!(count(&conn, "t1"), 1);
    let failures: i64 = conn
        .query_row(
            "SELECT count(*) FROM _migrate_history WHERE outcome = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failures, 4);
    // Every history row of a failed start names a backup; the newest one's file exists.
    let history = session.history().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.event.outcome, "failed");
    assert_eq!(last.event.backup_path.as_deref(), taken[4].to_str());
    assert_eq!(count(session.connection(), "t1"), 1);
}

#[test]
fn a_changed_value_of_the_same_size_gets_a_backup_of_its_own() {
    let db = temp_db();
    let mut session = failing_after_one(&db);
    assert!(session.up().is_err());
    let first = pre_up_backups(&session);
    // Same row count, same size, same schema: only one value differs.
    session
        .connection()
        .execute("UPDATE t1 SET v = 'b'", [])
        .unwrap();
    assert!(session.up().is_err());
    let second = pre_up_backups(&session);
    assert_eq!(second.len(), first.len() + 1, "{second:?}");
    assert!(first.iter().all(|p| p.is_file()));
    let value = |path: &Path| -> String {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT v FROM t1", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(value(&second[second.len() - 2]), "a");
    assert_eq!(value(&second[second.len() - 1]), "b");
}

#[test]
fn a_rowid_or_a_user_version_that_differs_is_a_different_state() {
    let db = temp_db();
    let mut session = failing_after_one(&db);
    assert!(session.up().is_err());
    let count_before = pre_up_backups(&session).len();
    // The same values under another rowid.
    session
        .connection()
        .execute_batch("UPDATE t1 SET id = id + 10")
        .unwrap();
    assert!(session.up().is_err());
    assert_eq!(pre_up_backups(&session).len(), count_before + 1);
    session
        .connection()
        .execute_batch("PRAGMA user_version = 7")
        .unwrap();
    assert!(session.up().is_err());
    assert_eq!(pre_up_backups(&session).len(), count_before + 2);
    // And nothing changed since: the next start replaces the newest instead of adding one.
    assert!(session.up().is_err());
    assert_eq!(pre_up_backups(&session).len(), count_before + 2);
}

#[test]
fn a_run_log_that_lost_rows_is_a_different_state() {
    let db = temp_db();
    let mut session = failing_after_one(&db);
    assert!(session.up().is_err());
    assert!(session.up().is_err());
    let before = pre_up_backups(&session);
    // The log may only grow between two backups of one state: one that lost its first row is
    // not "the same state with more log", so the older backup (which has that row) stays.
    session
        .connection()
        .execute_batch(
            "DELETE FROM _migrate_history WHERE id = (SELECT min(id) FROM _migrate_history)",
        )
        .unwrap();
    assert!(session.up().is_err());
    let after = pre_up_backups(&session);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert!(before.iter().all(|p| p.is_file()));
}

// ----------------------------------------------------------------------------------------------
// Snapshots

#[test]
fn snapshot_names_that_could_leave_the_backup_directory_are_refused_and_create_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fs::create_dir(&data).unwrap();
    let path = data.join("app.db");
    let mut session = migrator_with_backups(tables(1)).open(&path).unwrap();
    session.up().unwrap();
    session.snapshot("good").unwrap();
    let before = tree(root.path());
    let absolute = root.path().join("escaped").display().to_string();
    let outside = std::env::temp_dir().join(format!("migrate-escape-{}", std::process::id()));
    let outside_name = outside.display().to_string();
    let bad = [
        "../x",
        "../../x",
        "a/b",
        ".hidden",
        "",
        ".",
        "..",
        "x.y",
        outside_name.as_str(),
        "a\\b",
        "a\0b",
        "new\nline",
        absolute.as_str(),
    ];
    for name in bad {
        let err = session.snapshot(name).unwrap_err();
        assert!(
            matches!(err, Error::InvalidSnapshotName(_)),
            "{name:?}: {err:?}"
        );
        let err = session
            .restore(&RestoreFrom::Snapshot(name.into()))
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidSnapshotName(_)),
            "{name:?}: {err:?}"
        );
        let err = session.delete_snapshot(name).unwrap_err();
        assert!(
            matches!(err, Error::InvalidSnapshotName(_)),
            "{name:?}: {err:?}"
        );
    }
    assert_eq!(
        tree(root.path()),
        before,
        "a refused name created or removed a file"
    );
    let escaped = fs::read_dir(outside.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(outside.file_name().unwrap().to_str().unwrap())
        });
    assert!(!escaped, "a file appeared beside {}", outside.display());
    assert_eq!(session.snapshots().unwrap().len(), 1);
}

#[test]
fn snapshots_are_listed_with_name_time_size_and_version_and_can_be_deleted() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    session.up_to(1).unwrap();
    let t0 = stamp(SystemTime::now());
    let v1 = session.snapshot("v1").unwrap();
    session.up().unwrap();
    let v2 = session.snapshot("release_2").unwrap();
    let t1 = stamp(SystemTime::now());

    let listed = session.snapshots().unwrap();
    assert_eq!(listed, [v1.clone(), v2.clone()], "oldest first");
    for (info, name, version) in [(&v1, "v1", 1), (&v2, "release_2", 2)] {
        assert_eq!(info.kind, BackupKind::Snapshot { name: name.into() });
        assert_eq!(info.schema_version, Some(version));
        assert!(t0 <= info.created_at && info.created_at <= t1, "{info:?}");
        assert_eq!(info.size, fs::metadata(&info.path).unwrap().len());
        assert!(info.size > 0);
        assert_eq!(mode(&info.path), 0o600);
        let file = info.path.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            file,
            format!("app.db.{}.snapshot.{name}.db", info.created_at)
        );
        assert_eq!(info.path.parent().unwrap(), backups_dir(&db.path));
    }
    // The automatic backups are listed too, but are not snapshots.
    let all = session.backups().unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all.iter()
            .filter(|b| matches!(b.kind, BackupKind::Automatic { .. }))
            .count(),
        2
    );

    session.delete_snapshot("v1").unwrap();
    assert!(!v1.path.exists());
    assert_eq!(session.snapshots().unwrap(), std::slice::from_ref(&v2));
    assert!(matches!(
        session.delete_snapshot("v1").unwrap_err(),
        Error::NoBackup { .. }
    ));

    // Restoring what is not there changes nothing.
    let bytes_before = bytes(&db.path);
    let files_before = listing(&backups_dir(&db.path));
    for from in [
        RestoreFrom::Snapshot("v1".into()),
        RestoreFrom::Snapshot("never-taken".into()),
        RestoreFrom::File(db.dir.path().join("no-such-file.db")),
    ] {
        let err = session.restore(&from).unwrap_err();
        assert!(matches!(err, Error::NoBackup { .. }), "{from:?}: {err:?}");
        assert!(err.to_string().contains("nothing was changed"), "{err}");
    }
    assert_eq!(bytes(&db.path), bytes_before);
    assert_eq!(listing(&backups_dir(&db.path)), files_before);
}

// ----------------------------------------------------------------------------------------------
// Restore

/// Fills `t1` with enough rows to span many pages.
fn fill(conn: &Connection, rows: u32) {
    conn.execute_batch(&format!(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows})
         INSERT INTO t1 (v) SELECT printf('%0500d', i) FROM c"
    ))
    .unwrap();
}

#[test]
fn a_damaged_backup_is_refused_and_the_database_is_not_touched() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    fill(session.connection(), 600);
    let page_size = pragma(session.connection(), "page_size") as usize;
    let middle = session.snapshot("middle").unwrap();
    let cut = session.snapshot("cut").unwrap();
    let garbage = db.dir.path().join("garbage.db");
    fs::write(
        &garbage,
        b"this is not a database, it only looks like a file",
    )
    .unwrap();
    session
        .connection()
        .execute_batch("DELETE FROM t1")
        .unwrap();

    // A page in the middle overwritten.
    let mut data = fs::read(&middle.path).unwrap();
    let pages = data.len() / page_size;
    assert!(pages > 50, "{pages} pages");
    let at = pages / 2 * page_size;
    data[at..at + page_size].fill(0xA5);
    fs::write(&middle.path, &data).unwrap();
    // A copy cut short.
    let data = fs::read(&cut.path).unwrap();
    fs::write(&cut.path, &data[..data.len() / 2]).unwrap();

    let bytes_before = bytes(&db.path);
    let files_before = listing(&backups_dir(&db.path));
    for (from, path) in [
        (RestoreFrom::Snapshot("middle".into()), &middle.path),
        (RestoreFrom::Snapshot("cut".into()), &cut.path),
        (RestoreFrom::File(middle.path.clone()), &middle.path),
        (RestoreFrom::File(garbage.clone()), &garbage),
        (RestoreFrom::Latest, &cut.path),
    ] {
        // Refused even when the caller insists on a file that is not a backup of this database.
        let insisting = RestoreOptions::default().allow_foreign_source();
        let err = session.restore_with(&from, insisting).unwrap_err();
        assert!(
            matches!(&err, Error::BackupDamaged { path: p, .. } if p == path),
            "{from:?}: {err:?}"
        );
        assert!(err.to_string().contains("not touched"), "{err}");
    }
    assert_eq!(bytes(&db.path), bytes_before, "the database changed");
    // Refused before anything was done: not even the undo backup was taken.
    assert_eq!(listing(&backups_dir(&db.path)), files_before);
    assert_eq!(count(session.connection(), "t1"), 0);
}

#[test]
fn a_restore_takes_an_undo_backup_and_restoring_that_brings_the_state_back() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    session.up_to(1).unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('snapshotted')")
        .unwrap();
    let at_snapshot = dump(&db.path);
    session.snapshot("s").unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('later'); INSERT INTO t2 (v) VALUES ('x')")
        .unwrap();
    let before_restore = dump(&db.path);
    assert_ne!(before_restore, at_snapshot);

    let report = session.restore(&RestoreFrom::Snapshot("s".into())).unwrap();
    assert_eq!(dump(&db.path), at_snapshot);
    assert_eq!(session.status().unwrap().current, Some(1));
    assert_eq!(
        report.undo_backup.kind,
        BackupKind::Automatic {
            reason: "pre-restore".into()
        }
    );
    assert!(
        report
            .restored_from
            .to_string_lossy()
            .ends_with(".snapshot.s.db")
    );
    let undo = report.undo_backup.path.clone();
    assert_eq!(mode(&undo), 0o600);
    assert_eq!(report.undo_backup.schema_version, Some(2));
    assert_eq!(dump(&scratch_copy(&db, &undo)), before_restore);
    // The restored database says what happened.
    let last = session.history().unwrap().pop().unwrap();
    assert_eq!(last.event.action, "restore");
    assert_eq!(last.event.backup_path.as_deref(), undo.to_str());

    let again = session.restore(&RestoreFrom::File(undo.clone())).unwrap();
    assert_eq!(dump(&db.path), before_restore);
    assert_eq!(session.status().unwrap().current, Some(2));
    assert_eq!(again.restored_from, undo);
    assert_eq!(quick_check(&db.path), "ok");
}

#[test]
fn a_restore_works_on_a_wal_database_while_another_connection_is_open() {
    let db = temp_db();
    set_wal(&db.path);
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    fill(session.connection(), 300);
    session.snapshot("s").unwrap();
    let at_snapshot = dump(&db.path);

    let other = Connection::open(&db.path).unwrap();
    other
        .execute_batch("DELETE FROM t1 WHERE id % 2 = 0; INSERT INTO t1 (v) VALUES ('after')")
        .unwrap();
    assert_eq!(count(&other, "t1"), 151);
    assert!(Path::new(&format!("{}-wal", db.path.display())).exists());

    session.restore(&RestoreFrom::Snapshot("s".into())).unwrap();
    // The open connection sees the restored database, intact and still in WAL mode.
    assert_eq!(count(&other, "t1"), 300);
    let integrity: String = other
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mode: String = other
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    other
        .execute_batch("INSERT INTO t1 (v) VALUES ('written after the restore')")
        .unwrap();
    drop(other);
    assert_eq!(count(session.connection(), "t1"), 301);
    drop(session);
    let mut expected = at_snapshot;
    expected.push_str("  301|\"written after the restore\"\n");
    assert_eq!(dump(&db.path), expected);
}

#[test]
fn a_restore_that_cannot_get_the_database_in_time_fails_and_changes_nothing() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1))
        .busy_timeout(Duration::from_millis(200))
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session.snapshot("empty").unwrap();
    fill(session.connection(), 50);
    let before = dump(&db.path);

    // A reader in the middle of a read transaction (rollback journal: it blocks writers).
    let reader = Connection::open(&db.path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    assert_eq!(count(&reader, "t1"), 50);
    let err = session
        .restore(&RestoreFrom::Snapshot("empty".into()))
        .unwrap_err();
    // The commit waited for the reader: the stayed-locked error names readers (exit 4).
    assert!(matches!(err, Error::Busy { .. }), "{err:?}");
    assert!(err.to_string().contains("still reading"), "{err}");
    assert_eq!(count(&reader, "t1"), 50);
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert_eq!(dump(&db.path), before);
    assert_eq!(quick_check(&db.path), "ok");

    session
        .restore(&RestoreFrom::Snapshot("empty".into()))
        .unwrap();
    assert_eq!(count(session.connection(), "t1"), 0);
}

// ----------------------------------------------------------------------------------------------
// Automatic restore after a failure a rollback cannot undo

/// The new files of `dir` since `before` whose name ends with `suffix`.
fn new_files(dir: &Path, before: &BTreeSet<String>, suffix: &str) -> Vec<PathBuf> {
    listing(dir)
        .difference(before)
        .filter(|n| n.ends_with(suffix))
        .map(|n| dir.join(n))
        .collect()
}

#[test]
fn a_failed_non_transactional_migration_in_wal_mode_is_undone_by_the_automatic_restore() {
    let db = temp_db();
    set_wal(&db.path);
    migrator(tables(1)).open(&db.path).unwrap().up().unwrap();
    // Another connection stays open through the whole run.
    let other = Connection::open(&db.path).unwrap();
    other
        .execute_batch("INSERT INTO t1 (v) VALUES ('precious'), ('also precious')")
        .unwrap();
    let before = dump(&db.path);
    let dir = backups_dir(&db.path);

    let broken = Migration::new(
        3,
        "backfill",
        Step::sql("CREATE TABLE partial (x); DELETE FROM t1; INSERT INTO missing VALUES (1);"),
    )
    .with_mode(TxMode::NonTransactional);
    let mut list = tables(2);
    list.push(broken);
    let err = migrator_with_backups(list)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    let pre_up = new_files(&dir, &BTreeSet::new(), ".pre-up.db");
    assert_eq!(pre_up.len(), 1, "{:?}", listing(&dir));
    assert!(text.contains("restored automatically from"), "{text}");
    assert!(text.contains(&pre_up[0].display().to_string()), "{text}");
    assert!(
        text.contains("exactly as it was before the run (seq 1)"),
        "{text}"
    );
    let failed_state = new_files(&dir, &BTreeSet::new(), ".failed-state.db");
    assert_eq!(failed_state.len(), 1, "{:?}", listing(&dir));
    assert!(
        text.contains(&failed_state[0].display().to_string()),
        "{text}"
    );
    let failed = Connection::open(scratch_copy(&db, &failed_state[0])).unwrap();
    assert!(table_exists(&failed, "partial"));
    assert_eq!(count(&failed, "t1"), 0);

    // The connection that stayed open sees the state before the run.
    assert_eq!(count(&other, "t1"), 2);
    assert!(!table_exists(&other, "partial") && !table_exists(&other, "t2"));
    let mode: String = other
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(other);
    assert_eq!(dump(&db.path), before);
    assert_eq!(quick_check(&db.path), "ok");
    assert_eq!(applied_seqs(&Connection::open(&db.path).unwrap()), [1]);
}

#[test]
fn a_failed_non_transactional_down_migration_is_undone_by_the_automatic_restore() {
    let db = temp_db();
    let reversible = |fail: bool| {
        let down = if fail {
            "DELETE FROM t1; DROP TABLE extra; INSERT INTO missing VALUES (1);"
        } else {
            "DROP TABLE extra"
        };
        Migration::new(
            2,
            "extra",
            Step::sql("CREATE TABLE extra (x); INSERT INTO extra VALUES (7)"),
        )
        .with_down(Step::sql(down))
        .with_mode(TxMode::NonTransactional)
    };
    let list = |fail: bool| {
        let mut list = tables(1);
        list.push(reversible(fail));
        list
    };
    migrator(list(false)).open(&db.path).unwrap().up().unwrap();
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("INSERT INTO t1 (v) VALUES ('precious')")
        .unwrap();
    let before = dump(&db.path);
    let dir = backups_dir(&db.path);

    let err = migrator_with_backups(list(true))
        .open(&db.path)
        .unwrap()
        .down(1)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::MigrationFailed { seq: 2, direction, .. } if direction.to_string() == "down"),
        "{err:?}"
    );
    let pre_down = new_files(&dir, &BTreeSet::new(), ".pre-down.db");
    assert_eq!(pre_down.len(), 1, "{:?}", listing(&dir));
    assert!(text.contains(&pre_down[0].display().to_string()), "{text}");
    assert!(
        text.contains("exactly as it was before the run (seq 2)"),
        "{text}"
    );
    assert!(text.contains("migrate down"), "{text}");
    let failed_state = new_files(&dir, &BTreeSet::new(), ".failed-state.db");
    assert_eq!(failed_state.len(), 1, "{:?}", listing(&dir));
    let failed = Connection::open(scratch_copy(&db, &failed_state[0])).unwrap();
    assert!(!table_exists(&failed, "extra"));
    assert_eq!(count(&failed, "t1"), 0);

    assert_eq!(dump(&db.path), before);
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    let detail: String = conn
        .query_row(
            "SELECT detail FROM _migrate_history WHERE seq = 2 AND outcome = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("database restored from"), "{detail}");
}

// ----------------------------------------------------------------------------------------------
// Progress

#[test]
fn the_progress_callback_counts_up_to_the_total() {
    let db = temp_db();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let mut session = migrator_with_backups(tables(2))
        .on_progress(move |p| sink.lock().unwrap().push(p))
        .open(&db.path)
        .unwrap();
    session.up_to(1).unwrap();
    // About 20 MB, more than one step of the copy.
    session
        .connection()
        .execute_batch(
            "CREATE TABLE blobs (b BLOB);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20)
             INSERT INTO blobs SELECT randomblob(1000000) FROM c;",
        )
        .unwrap();
    let check = |what: &str, size: u64| {
        let calls = std::mem::take(&mut *seen.lock().unwrap());
        assert!(!calls.is_empty(), "{what}: never called");
        for pair in calls.windows(2) {
            assert!(pair[0].done <= pair[1].done, "{what}: went back {calls:?}");
        }
        for p in &calls {
            assert!(p.done <= p.total, "{what}: {p:?}");
        }
        let last = calls.last().unwrap();
        assert_eq!(last.done, last.total, "{what}: {calls:?}");
        assert_eq!(last.total, size, "{what}: {calls:?}");
    };
    seen.lock().unwrap().clear();
    let manual = session.backup().unwrap();
    assert!(manual.size > 20_000_000);
    check("backup", manual.size);
    session.up().unwrap();
    let pre_up = session.backups().unwrap().pop().unwrap();
    assert!(pre_up.path.to_string_lossy().ends_with(".pre-up.db"));
    check("migrating run", pre_up.size);
}

// ----------------------------------------------------------------------------------------------
// WAL-mode databases

/// Backups of a WAL-mode database must leave nothing but finished backups in the directory:
/// no `-wal`/`-shm` files beside them (and none orphaned when retention deletes a backup, or
/// named after the hidden temp file).
#[test]
fn backups_of_a_wal_database_leave_nothing_but_backups_in_the_directory() {
    let db = temp_db();
    set_wal(&db.path);
    let mut session = migrator_with_backups(tables(3))
        .keep_backups(1)
        .open(&db.path)
        .unwrap();
    session.up_to(1).unwrap();
    session.backup().unwrap();
    session.snapshot("s").unwrap();
    session.up().unwrap();
    // The newest automatic backup (the one before seq 1 was pruned), the manual backup and
    // the snapshot.
    assert_eq!(session.backups().unwrap().len(), 3);
    let files = listing(&backups_dir(&db.path));
    let stray: Vec<&String> = files.iter().filter(|n| !n.ends_with(".db")).collect();
    assert!(
        stray.is_empty(),
        "stray files in the backup directory: {files:#?}"
    );
    assert_eq!(files.len(), 3, "{files:#?}");
}

/// A backup taken by hand is a state of the database like the automatic ones: `backup_before`
/// picks it (here the only backup: the runs take none).
#[test]
fn backup_before_picks_a_manual_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let list = vec![
        Migration::new(1, "a", Step::sql("CREATE TABLE a (x)")),
        Migration::new(2, "b", Step::sql("CREATE TABLE b (x)")),
    ];
    let mut db = migrate_sqlite::Migrator::new()
        .with_migrations(list)
        .without_backups()
        .open(&path)
        .unwrap();
    db.up_to(1).unwrap();
    let manual = db.backup().unwrap();
    assert_eq!(manual.kind, BackupKind::Manual);
    db.up().unwrap();
    let chosen = db.backup_before(2).unwrap().expect("the manual backup");
    assert_eq!(chosen.path, manual.path);
    assert_eq!(chosen.schema_version, Some(1));
    assert!(db.backup_before(1).unwrap().is_none(), "no backup before 1");
}

/// The copy of a rollback-journal database is checked while it is written (`quick_check` of the
/// state being copied): a database with a damaged page gets no backup, and no file is left in
/// the backup directory, not even the temp file.
#[test]
fn a_backup_of_a_damaged_database_is_refused_and_leaves_no_file() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    fill(session.connection(), 2000);
    let page_size = pragma(session.connection(), "page_size") as usize;
    drop(session);

    // A page of t1 in the middle of the file overwritten.
    let mut data = fs::read(&db.path).unwrap();
    let pages = data.len() / page_size;
    assert!(pages > 50, "{pages} pages");
    let at = pages / 2 * page_size;
    data[at..at + page_size].fill(0xA5);
    fs::write(&db.path, &data).unwrap();
    let files_before = listing(&backups_dir(&db.path));

    let session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    let err = session.backup().unwrap_err();
    // The live database is named as damaged, not the backup directory (whose advice, free
    // space or permissions, would send the operator the wrong way).
    assert!(
        matches!(&err, Error::DatabaseDamaged { path, .. } if *path == db.path),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("is damaged"), "{text}");
    assert!(text.contains("`migrate restore --yes`"), "{text}");
    assert!(!text.contains("Free some space"), "{text}");
    assert_eq!(listing(&backups_dir(&db.path)), files_before);
    assert_eq!(bytes(&db.path), data, "the database changed");
}

/// In WAL mode the database file alone is not the state (commits wait in the `-wal` file until
/// a checkpoint): the backup holds them all, and is a rollback-journal file.
#[test]
fn a_backup_of_a_wal_database_holds_the_commits_not_yet_checkpointed() {
    let db = temp_db();
    set_wal(&db.path);
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    let writer = Connection::open(&db.path).unwrap();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint = 0")
        .unwrap();
    fill(&writer, 500);
    let wal = PathBuf::from(format!("{}-wal", db.path.display()));
    assert!(
        fs::metadata(&wal).unwrap().len() > 0,
        "nothing in the -wal file"
    );

    let backup = session.backup().unwrap();
    let copy = Connection::open(scratch_copy(&db, &backup.path)).unwrap();
    assert_eq!(count(&copy, "t1"), 500);
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    assert_eq!(quick_check(&backup.path), "ok");
    drop(writer);
}

/// A backup of a rollback-journal database is the file's content at that moment, every row of
/// it, and it passes `quick_check` on its own.
#[test]
fn a_backup_holds_every_row_and_passes_quick_check() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(2)).open(&db.path).unwrap();
    session.up().unwrap();
    fill(session.connection(), 3000);
    let state = dump(&db.path);
    let backup = session.backup().unwrap();
    assert_eq!(backup.size, fs::metadata(&db.path).unwrap().len());
    assert_eq!(quick_check(&backup.path), "ok");
    assert_eq!(mode(&backup.path), 0o600);
    assert_eq!(dump(&scratch_copy(&db, &backup.path)), state);
}

// ----------------------------------------------------------------------------------------------
// Databases sharing one backup directory

#[test]
fn databases_sharing_a_backup_directory_never_see_each_others_backups() {
    let root = tempfile::tempdir().unwrap();
    let shared = root.path().join("backups");
    // Two files of one name in different directories, and a name that a sanitizing stem would
    // have mapped onto `app.db`.
    let dbs = [
        root.path().join("one/app.db"),
        root.path().join("two/app.db"),
        root.path().join("one/app_db"),
    ];
    let migrator = |list| {
        migrator_with_backups(list)
            .backup_dir(&shared)
            .keep_backups(1)
    };
    for (i, db) in dbs.iter().enumerate() {
        fs::create_dir_all(db.parent().unwrap()).unwrap();
        let conn = Connection::open(db).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE marker (who INTEGER); INSERT INTO marker VALUES ({i})"
        ))
        .unwrap();
    }
    // Each database: one run (a pre-up backup); the first takes two more runs, so retention
    // (keep 1) prunes its own older backups, and its newest is the newest of the directory.
    for db in &dbs[1..] {
        migrator(tables(1)).open(db).unwrap().up().unwrap();
    }
    for n in 1..=3 {
        migrator(tables(n)).open(&dbs[0]).unwrap().up().unwrap();
    }

    let listed: Vec<Vec<PathBuf>> = dbs
        .iter()
        .map(|db| {
            migrator(tables(3))
                .open(db)
                .unwrap()
                .backups()
                .unwrap()
                .into_iter()
                .map(|b| b.path)
                .collect()
        })
        .collect();
    for own in &listed {
        assert_eq!(own.len(), 1, "{listed:?}");
    }
    let all: BTreeSet<PathBuf> = listed.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 3, "each database's own backup: {listed:?}");
    assert_eq!(
        listing(&shared).len(),
        3,
        "retention of one database left the others' backups: {:?}",
        listing(&shared)
    );
    // Each backup holds its own database's rows.
    for (i, own) in listed.iter().enumerate() {
        let conn = Connection::open_with_flags(&own[0], OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let who: i64 = conn
            .query_row("SELECT who FROM marker", [], |r| r.get(0))
            .unwrap();
        assert_eq!(who, i as i64, "{}", own[0].display());
    }

    // "The latest" of the second database is its own backup, not the newer one of the first.
    Connection::open(&dbs[1])
        .unwrap()
        .execute_batch("UPDATE marker SET who = 99")
        .unwrap();
    let report = migrator(tables(1))
        .open(&dbs[1])
        .unwrap()
        .restore(&RestoreFrom::Latest)
        .unwrap();
    assert_eq!(report.restored_from, listed[1][0]);
    let who: i64 = Connection::open(&dbs[1])
        .unwrap()
        .query_row("SELECT who FROM marker", [], |r| r.get(0))
        .unwrap();
    assert_eq!(who, 1);
}
