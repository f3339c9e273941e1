//! The database path as the caller gave it: a name that is not valid UTF-8 keeps the migration
//! lock, the backups and the automatic restore (only `:memory:` runs without them); commands
//! that only read never create a file at a mistyped path; a directory is named as such.

mod common;
use common::*;
use migrate_sqlite::{Error, Migration, Migrator, Step, TxMode, lock_path};
use rusqlite::Connection;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `app-\xff.db` in `dir`: a file name that is not valid UTF-8 (legal on Linux).
fn non_utf8_path(dir: &Path) -> PathBuf {
    let path = dir.join(OsStr::from_bytes(b"app-\xff.db"));
    assert!(path.to_str().is_none());
    path
}

/// 1 creates `notes` with three rows; 2 is `transaction = false`, adds a row, then fails.
fn notes_then_failing_non_transactional() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_notes",
            Step::sql(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
                 INSERT INTO notes (body) VALUES ('a'), ('b'), ('c');",
            ),
        ),
        Migration::new(
            2,
            "backfill",
            Step::sql("INSERT INTO notes (body) VALUES ('half'); SELECT * FROM no_such_table;"),
        )
        .with_mode(TxMode::NonTransactional),
    ]
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The whole protocol on a file whose name is not UTF-8: the lock file and the backup
/// directory sit beside it, and a failed `transaction = false` migration is undone from the
/// pre-migration backup (before the fix the session took the file for an in-memory database:
/// no lock, no backup, the half-done row stayed).
#[test]
fn a_name_that_is_not_utf8_keeps_the_lock_the_backups_and_the_automatic_restore() {
    let dir = tempfile::tempdir().unwrap();
    let path = non_utf8_path(dir.path());
    let migrator = Migrator::new().with_migrations(notes_then_failing_non_transactional());
    let mut db = migrator.open(&path).unwrap();
    db.up_to(1).unwrap();
    assert!(
        lock_path(&path).exists(),
        "no lock file beside the database"
    );

    let err = db.up().unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::MigrationFailed { seq: 2, .. }),
        "{err:?}"
    );
    assert!(text.contains("restored automatically"), "{text}");

    // Read back with a connection of our own: the half-done row is gone, 1 stays applied.
    let conn = Connection::open(&path).unwrap();
    let bodies: Vec<String> = conn
        .prepare("SELECT body FROM notes ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(bodies, ["a", "b", "c"]);
    assert_eq!(applied_seqs(&conn), [1]);
    // The backups beside the file, under the same (non-UTF-8) name.
    let mut backup_dir = path.as_os_str().to_owned();
    backup_dir.push(".backups");
    let backups = files_in(Path::new(&backup_dir));
    assert!(
        backups.len() >= 2,
        "a pre-up backup and the failed state: {backups:?}"
    );
    // Failed-state copies are listed apart from the backups.
    assert_eq!(
        db.backups().unwrap().len() + db.failed_states().unwrap().len(),
        backups.len()
    );
}

/// `on` has only the connection, and SQLite cannot report a non-UTF-8 name to Rust: it refuses
/// (changing nothing) rather than run without lock and backups; `on_file` takes the path.
#[test]
fn on_refuses_a_connection_whose_name_it_cannot_read_and_on_file_takes_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = non_utf8_path(dir.path());
    let mut conn = Connection::open(&path).unwrap();
    let migrator = Migrator::new().with_migrations(tables(2));

    let refused = migrator.on(&mut conn).err().expect("on must refuse");
    assert!(refused.to_string().contains("on_file"), "{refused}");
    assert!(!lock_path(&path).exists());
    assert!(!table_exists(&conn, "_migrate_applied"));

    let mut db = migrator.on_file(&mut conn, &path).unwrap();
    db.up().unwrap();
    assert!(lock_path(&path).exists());
    assert_eq!(db.backups().unwrap().len(), 1, "the pre-up backup");
    drop(db);
    assert_eq!(applied_seqs(&conn), [1, 2]);
}

/// `on_file` with a path that is not the connection's file would put the lock and the backups
/// beside the wrong database: refused, nothing written anywhere.
#[test]
fn on_file_refuses_a_path_that_is_not_the_connections_file() {
    let db = temp_db();
    let other = db.dir.path().join("other.db");
    std::fs::write(&other, b"").unwrap();
    let mut conn = Connection::open(&db.path).unwrap();
    let err = Migrator::new()
        .with_migrations(tables(1))
        .on_file(&mut conn, &other)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("is not open on"), "{err}");
    assert!(!lock_path(&other).exists() && !lock_path(&db.path).exists());
    assert!(!table_exists(&conn, "t1"));
}

/// `:memory:` is the one database without a file: it migrates, and says so when asked for a
/// backup.
#[test]
fn only_memory_runs_without_a_file() {
    let migrator = Migrator::new().with_migrations(tables(1));
    let mut db = migrator.open(":memory:").unwrap();
    db.up().unwrap();
    assert!(table_exists(db.connection(), "t1"));
    let err = db.backup().unwrap_err();
    assert!(err.to_string().contains("in memory"), "{err}");
    assert!(!Path::new(":memory:").exists());
}

/// `open_existing` (what the read-only commands use) on a mistyped path: "no database at PATH",
/// and no database, lock file or backup directory appears.
#[test]
fn open_existing_creates_nothing_at_a_missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("ap.db");
    let err = migrator(tables(2)).open_existing(&typo).err().unwrap();
    assert!(
        matches!(&err, Error::NoDatabase { path } if *path == typo),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("no database at {}", typo.display()))
    );
    assert_eq!(files_in(dir.path()), Vec::<PathBuf>::new());

    // An existing file opens and reads.
    let db = temp_db();
    migrator(tables(2)).open(&db.path).unwrap().up().unwrap();
    let status = migrator(tables(2))
        .open_existing(&db.path)
        .unwrap()
        .status()
        .unwrap();
    assert_eq!(status.current, Some(2));
}

/// A directory given as the database: named as such, with the fix, instead of SQLite's
/// "unable to open database file"; nothing is created in it.
#[test]
fn a_directory_is_named_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let opened = [
        migrator(tables(1)).open(dir.path()).err(),
        migrator(tables(1)).open_existing(dir.path()).err(),
    ];
    for err in opened {
        let err = err.expect("refused");
        assert!(matches!(err, Error::NotAFile { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("is a directory, not a database file"),
            "{text}"
        );
        assert!(text.contains("app.db"), "{text}");
    }
    assert_eq!(files_in(dir.path()), Vec::<PathBuf>::new());
    assert!(!lock_path(dir.path()).exists());
}
