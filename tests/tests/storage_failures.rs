//! When the storage refuses writes in the middle of a migration: the disk fills up (a real
//! 1 MiB tmpfs in a private mount namespace of the `migrate-cli` child, so the write fails
//! with ENOSPC, which SQLite reports as SQLITE_FULL; a `ulimit -f` limit gives EFBIG, which
//! SQLite reports as an I/O error instead), or the database's directory is not writable (the
//! child runs as the unprivileged user `nobody` through `runuser`, since root writes anywhere).
//! Both need root, as the tests run here. The
//! message says what happened and how to fix it, what was kept is read back, and nothing is
//! restored over a database that a rollback already protected.
#![cfg(unix)]

use rusqlite::Connection;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cli() -> &'static str {
    env!("CARGO_BIN_EXE_migrate-cli")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn migrate(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(cli())
        .args(args)
        .env("MIGRATE_CLI_DB", db)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn int(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// The library set applied (3 migrations) in a fresh temp dir.
fn migrated() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("library.db");
    let out = migrate(&db, &["up"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    (dir, db)
}

/// Runs `migrate-cli up` (with migration 4 growing the database by 8 MiB) on a copy of `db`
/// placed on a 1 MiB tmpfs, mounted in a private mount namespace of the child (`unshare -m`:
/// nothing outside the child ever sees it, and it vanishes with the child). Afterwards the
/// child copies everything the run left on the small disk into `after/` for inspection.
/// Returns the run's output and the `after/` directory.
fn up_on_a_small_disk(dir: &Path, db: &Path) -> (Output, PathBuf) {
    let disk = dir.join("disk");
    let after = dir.join("after");
    std::fs::create_dir(&disk).unwrap();
    std::fs::create_dir(&after).unwrap();
    let script = r#"
        mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
        cp "$2" "$1/library.db" || exit 98
        MIGRATE_CLI_DB="$1/library.db" MIGRATE_CLI_GROW=1 "$4" up
        code=$?
        cp -a "$1/." "$3/" || exit 97
        exit $code
    "#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&disk)
        .arg(db)
        .arg(&after)
        .arg(cli())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out, after)
}

/// Disk full (ENOSPC, SQLITE_FULL) while migration 4 grows the database by 8 MiB. The error
/// says "disk full", reads back that nothing was kept, names the pre-up backup and the
/// directory to free space in, and restores nothing: no failed-state copy, no restore over
/// the live file (before the fix it blamed the migration for ending the transaction and tried
/// to restore over the database).
#[test]
fn disk_full_during_a_migration_says_so_and_restores_nothing() {
    let (dir, db) = migrated();
    let (out, after) = up_on_a_small_disk(dir.path(), &db);
    assert_ne!(
        out.status.code(),
        Some(99),
        "cannot mount a tmpfs: {}",
        text(&out)
    );
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(message.contains("database or disk is full"), "{message}");
    assert!(message.contains("The disk is full"), "{message}");
    assert!(
        message.contains(
            "Nothing from this run was kept: the database is as it was before the run (seq 3)"
        ),
        "{message}"
    );
    assert!(
        !message.contains("ended the runner's transaction"),
        "{message}"
    );
    assert!(
        message.contains("nothing was restored over it"),
        "{message}"
    );
    assert!(!message.contains("restored from"), "{message}");
    assert!(!message.contains("restoring"), "{message}");
    assert!(
        message.contains(&format!(
            "Free space on the file system holding {}",
            dir.path().join("disk").display()
        )),
        "{message}"
    );

    // Read back what the run left on the small disk: 3 applied, no trace of 4, intact; one
    // backup (the pre-up one the message names), no failed-state copy; the failure recorded.
    let left = after.join("library.db");
    assert_eq!(
        int(
            &left,
            "SELECT count(*) FROM _migrate_applied WHERE state = 'applied'"
        ),
        3
    );
    assert_eq!(
        int(
            &left,
            "SELECT count(*) FROM sqlite_schema WHERE name = 'covers'"
        ),
        0
    );
    let integrity: String = Connection::open(&left)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let backups: Vec<String> = listing(&after.join("library.db.backups"))
        .into_iter()
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].ends_with(".pre-up.db"), "{backups:?}");
    assert!(message.contains(&backups[0]), "{message}");
    assert_eq!(
        int(
            &left,
            "SELECT count(*) FROM _migrate_history WHERE seq = 4 AND outcome = 'failed'"
        ),
        1,
        "the failure is in the history"
    );

    // With room, the same command succeeds on that file.
    let out = migrate(&left, &["up"], &[("MIGRATE_CLI_GROW", "1")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(int(&left, "SELECT count(*) FROM covers"), 2048);
}

/// True when `runuser -u nobody` can run a command here (root, util-linux present).
fn can_run_as_nobody() -> bool {
    Command::new("runuser")
        .args(["-u", "nobody", "--", "true"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The database file is writable by `nobody`, its directory is not: SQLite cannot create its
/// journal there. The error names the directory and the fix instead of "attempt to write a
/// readonly database ... fix the migration"; nothing changed; as the directory's owner the
/// same command succeeds.
#[test]
fn a_directory_that_is_not_writable_is_named_with_the_fix() {
    assert!(
        can_run_as_nobody(),
        "this test runs the child as `nobody` with runuser (tests run as root)"
    );
    // Under /tmp with every parent traversable by nobody, and the binary reachable.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("library.db");
    let backups = tempfile::tempdir().unwrap();
    std::fs::set_permissions(backups.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let backup_dir = backups.path().to_str().unwrap();
    let out = migrate(&db, &["up", "--to", "1", "--backup-dir", backup_dir], &[]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(
        migrate_sqlite::lock_path(&db),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();
    let files_before = listing(dir.path());

    let out = Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            cli(),
            "up",
            "--backup-dir",
            backup_dir,
        ])
        .env("MIGRATE_CLI_DB", &db)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!message.contains("fix the migration"), "{message}");
    assert!(
        message.contains(&format!("in the directory {}", dir.path().display())),
        "{message}"
    );
    assert!(
        message.contains("Make that directory writable"),
        "{message}"
    );
    assert!(
        message.contains("Nothing from this run was kept"),
        "{message}"
    );
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the database changed"
    );
    assert_eq!(
        listing(dir.path()),
        files_before,
        "files appeared beside the database"
    );

    // As root (the directory's owner) the same command succeeds.
    let out = migrate(&db, &["up", "--backup-dir", backup_dir], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(int(&db, "SELECT count(*) FROM _migrate_applied"), 3);
}

/// The database file itself is read-only for `nobody` (its directory is writable): SQLite
/// opens it read-only without a word and refuses the first write. The error names the file
/// and the fix; nothing changed.
#[test]
fn a_database_file_that_is_not_writable_is_named_with_the_fix() {
    assert!(
        can_run_as_nobody(),
        "this test runs the child as `nobody` with runuser (tests run as root)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let db = dir.path().join("library.db");
    let out = migrate(&db, &["up", "--to", "1"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    for path in [
        migrate_sqlite::lock_path(&db),
        dir.path().join("library.db.backups"),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let before = std::fs::read(&db).unwrap();

    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", cli(), "up"])
        .env("MIGRATE_CLI_DB", &db)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        message.contains(&format!(
            "the database file {} is read-only for the user running the migration",
            db.display()
        )),
        "{message}"
    );
    assert!(message.contains("Make the file writable"), "{message}");
    assert!(!message.contains("fix the migration"), "{message}");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the database changed"
    );
    assert_eq!(int(&db, "SELECT count(*) FROM _migrate_applied"), 1);
}
