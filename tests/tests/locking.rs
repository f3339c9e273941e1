//! Waiting for other processes: the configured busy timeout applies from the first statement of
//! every command, and a database that stays locked past it ends as the documented "stayed
//! locked" error with exit code 4, whatever statement hit SQLITE_BUSY, naming who held it. Real
//! child processes (`migrate-cli`, `migrate-child`) against a lock held by this test process or
//! by another child.

mod child;

use child::{State, arg, spawn};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound of any child's run; a hang fails the test instead of blocking it.
const PATIENCE: Duration = Duration::from_secs(60);

/// Longer than rusqlite's default busy timeout (5 s) of a fresh connection: a command that
/// waited with that default instead of the configured timeout fails within this hold.
const LONGER_THAN_THE_DEFAULT: Duration = Duration::from_secs(6);

struct Out {
    code: i32,
    stderr: String,
    stdout: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Starts `migrate-cli ARGS...` on `db` (the `library` set: 3 migrations).
fn start_cli(db: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_migrate-cli"))
        .args(args)
        .env("MIGRATE_CLI_DB", db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start migrate-cli")
}

/// Waits (bounded) for a child started by [`start_cli`].
fn finish(mut child: Child) -> Out {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("migrate-cli did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cli(db: &Path, args: &[&str]) -> Out {
    finish(start_cli(db, args))
}

/// A database with migration 1 of the library set applied, in a temp dir.
fn library_at_1() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("library.db");
    let out = cli(&db, &["up", "--to", "1"]);
    assert_eq!(out.code, 0, "{out:?}");
    (dir, db)
}

fn applied(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM _migrate_applied WHERE state = 'applied'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn backups(db: &Path) -> usize {
    let dir = db.with_file_name("library.db.backups");
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// `BEGIN EXCLUSIVE` on a connection of this process: nobody else can even read.
fn hold_exclusive(db: &Path) -> Connection {
    let holder = Connection::open(db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    holder
}

/// The very first read of `up` waits the configured timeout, not rusqlite's 5 s default: held
/// off for 6 s by another process's `BEGIN EXCLUSIVE`, `up --busy-timeout-ms 120000` waits and
/// then migrates (before the fix it failed after 5 s with a raw "database is locked", exit 1).
#[test]
fn up_waits_the_configured_timeout_from_its_first_statement() {
    let (_dir, db) = library_at_1();
    let backups_before = backups(&db);
    let holder = hold_exclusive(&db);
    let up = start_cli(&db, &["up", "--busy-timeout-ms", "120000"]);
    std::thread::sleep(LONGER_THAN_THE_DEFAULT);
    holder.execute_batch("COMMIT").unwrap();
    let out = finish(up);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(applied(&db), 3);
    assert_eq!(backups(&db), backups_before + 1, "the pre-up backup");
}

/// `status` likewise: it reads once the holder lets go.
#[test]
fn status_waits_the_configured_timeout() {
    let (_dir, db) = library_at_1();
    let holder = hold_exclusive(&db);
    let status = start_cli(&db, &["status", "--busy-timeout-ms", "120000"]);
    std::thread::sleep(LONGER_THAN_THE_DEFAULT);
    holder.execute_batch("COMMIT").unwrap();
    let out = finish(status);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("create_books"), "{out:?}");
}

/// Locked past the timeout at any statement: exit 4 and the "stayed locked" message naming
/// who held the database; nothing changed, no backup taken.
#[test]
fn every_command_held_off_past_its_timeout_exits_4() {
    let (_dir, db) = library_at_1();
    let before = std::fs::read(&db).unwrap();
    let backups_before = backups(&db);
    let holder = hold_exclusive(&db);
    for args in [
        &["up"][..],
        &["status"],
        &["history"],
        &["verify"],
        &["down", "--yes"],
        &["resolve", "1", "--applied"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--busy-timeout-ms", "200"]);
        let out = cli(&db, &all);
        assert_eq!(out.code, 4, "{args:?}: {out:?}");
        assert!(out.stderr.contains("stayed locked"), "{args:?}: {out:?}");
        assert!(out.stderr.contains("200 ms"), "{args:?}: {out:?}");
        assert!(
            !out.stderr.contains("SQLite: database is locked"),
            "{out:?}"
        );
    }
    holder.execute_batch("COMMIT").unwrap();
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the database changed"
    );
    assert_eq!(applied(&db), 1);
    assert_eq!(backups(&db), backups_before, "a backup was taken");
}

/// Rollback-journal mode: a COMMIT waits for every reader. A reader that stays past the
/// timeout makes `up` end with exit 4, naming the readers and what was kept (nothing: the
/// run rolled back), and the database is as before.
#[test]
fn a_commit_held_off_by_a_long_reader_exits_4_and_keeps_nothing() {
    let (_dir, db) = library_at_1();
    let reader = Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM books", [], |r| r.get(0))
        .unwrap();
    let out = cli(&db, &["up", "--busy-timeout-ms", "300"]);
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("stayed locked"), "{out:?}");
    assert!(out.stderr.contains("while committing the run"), "{out:?}");
    assert!(out.stderr.contains("still reading"), "{out:?}");
    assert!(
        out.stderr.contains("Nothing from this run was kept"),
        "{out:?}"
    );
    assert_eq!(applied(&db), 1);
    let conn = Connection::open(&db).unwrap();
    let isbn: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('books') WHERE name = 'isbn'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(isbn, 0, "migration 2's column is not there");
    // Then, with the reader gone, the same command succeeds.
    let out = cli(&db, &["up", "--busy-timeout-ms", "300"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(applied(&db), 3);
}

/// Ten starts 0.6 s apart while one process runs a 7 s migration: all exit 0, the migration
/// runs once, and the later ones find nothing to do.
#[test]
fn ten_starts_during_a_long_migration_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("long.db");
    let mut long = spawn(&["plain", arg(&db), "--up-to", "1", "--sleep-ms", "7000"]);
    long.wait_for("step 1");
    let mut later = Vec::new();
    for _ in 0..10 {
        later.push(spawn(&["plain", arg(&db), "--up-to", "1"]));
        std::thread::sleep(Duration::from_millis(600));
    }
    let first = long.finish();
    first.assert_success();
    assert_eq!(first.applied(), 1);
    for child in later {
        let outcome = child.finish();
        outcome.assert_success();
        assert_eq!(outcome.applied(), 0, "{outcome:#?}");
    }
    let state = State::read(&db);
    assert_eq!(state.applied(), [1].into_iter().collect());
    assert_eq!(state.ups.get(&1), Some(&1), "{state:#?}");
    assert_eq!(state.failures, 0, "{state:#?}");
}
