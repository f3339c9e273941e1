//! Backups that last (runbook 003 "manual backup before a major update"), through the real
//! binary on real files: a backup made by hand is a kind of its own that the automatic
//! retention never prunes; failed starts of an unchanged database do not pile up identical
//! automatic backups; a changed database gets a new one; `backup` and `up` say which file
//! holds the state and for how long, with the command that restores it.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::{Db, assert_runs_as_printed};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The backups whose name ends with `.<reason>.db`, oldest first.
fn with_reason(db: &Db, reason: &str) -> Vec<PathBuf> {
    db.backups()
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(&format!(".{reason}.db")))
        .collect()
}

fn books_in(path: &Path) -> i64 {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("SELECT count(*) FROM books", [], |r| r.get(0))
        .unwrap()
}

/// The path on the line of `text` that starts with `prefix`, up to the first space.
fn path_after(text: &str, prefix: &str) -> PathBuf {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {text}"));
    PathBuf::from(line.split(' ').next().unwrap())
}

#[test]
fn backup_says_where_it_wrote_how_long_it_is_kept_and_how_to_restore_it() {
    let db = Db::new();
    db.up();
    let out = db.run(&["backup"]).expect(0);
    let path = path_after(&out.stdout, "backup created: ");
    assert!(path.is_file(), "{out:#?}");
    assert!(path.to_string_lossy().ends_with(".manual.db"), "{path:?}");
    assert!(out.stdout.contains("kept until you delete it"), "{out:#?}");
    let restore = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("to restore it: "))
        .expect("the restore command");
    assert_eq!(restore, format!("migrate restore {}", path.display()));
    assert_runs_as_printed(restore);
    // Listed as manual, in text and JSON.
    let listed = db.run(&["backups"]).expect(0);
    let line = listed
        .stdout
        .lines()
        .find(|l| l.contains(&*path.to_string_lossy()))
        .unwrap_or_else(|| panic!("not listed: {listed:#?}"));
    assert!(line.starts_with("manual"), "{line}");
    let json = db.run(&["backups", "--json"]).expect(0).json();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"] == path.to_string_lossy().as_ref())
        .unwrap()
        .clone();
    assert_eq!(entry["kind"], "manual");
    // The command it printed restores that state.
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('later', 'x')", [])
        .unwrap();
    db.run(&["restore", &path.to_string_lossy(), "--yes"])
        .expect(0);
    assert_eq!(db.int("SELECT count(*) FROM books"), 0);
}

#[test]
fn five_failed_starts_keep_the_manual_backup_and_one_automatic_backup_of_the_state() {
    let mut db = Db::new();
    db.up();
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('Dune', '1')", [])
        .unwrap();
    let manual = path_after(&db.run(&["backup"]).expect(0).stdout, "backup created: ");
    let before_failures = with_reason(&db, "pre-up");
    db.env.push(("MIGRATE_CLI_BROKEN".into(), "1".into()));
    let mut named = Vec::new();
    for _ in 0..5 {
        let out = db.run(&["up"]).expect(1);
        assert!(out.stderr.contains("fails on purpose"), "{out:#?}");
        let pre_up = with_reason(&db, "pre-up");
        named.push(pre_up.last().unwrap().clone());
        // The one this start took is on disk, whatever its message names.
        assert!(pre_up.last().unwrap().is_file());
    }
    assert!(manual.is_file(), "the manual backup was pruned");
    assert_eq!(books_in(&manual), 1);
    let pre_up = with_reason(&db, "pre-up");
    // The backup before the first run (the empty database), and one of the failed starts'
    // identical states: the newest.
    assert_eq!(pre_up.len(), before_failures.len() + 1, "{pre_up:#?}");
    assert_eq!(pre_up.last(), named.last());
    assert_eq!(books_in(pre_up.last().unwrap()), 1);
    // Five different names were written, four of them replaced by the next.
    named.dedup();
    assert_eq!(named.len(), 5);
    // The live database is as it was.
    assert_eq!(db.int("SELECT count(*) FROM books"), 1);
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 3);
    assert_eq!(
        db.int("SELECT count(*) FROM _migrate_history WHERE outcome = 'failed'"),
        5
    );
}

#[test]
fn a_changed_database_gets_a_new_automatic_backup_beside_the_previous_one() {
    let mut db = Db::new();
    db.up();
    db.env.push(("MIGRATE_CLI_BROKEN".into(), "1".into()));
    db.run(&["up"]).expect(1);
    let first = with_reason(&db, "pre-up");
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('Emma', '2')", [])
        .unwrap();
    db.run(&["up"]).expect(1);
    let second = with_reason(&db, "pre-up");
    assert_eq!(second.len(), first.len() + 1, "{second:#?}");
    assert!(first.iter().all(|p| p.is_file()));
    assert_eq!(books_in(&second[second.len() - 2]), 0);
    assert_eq!(books_in(&second[second.len() - 1]), 1);
}

#[test]
fn up_prints_the_backup_it_took_and_the_command_to_go_back() {
    let db = Db::new();
    db.run(&["up", "--to", "1"]).expect(0);
    db.conn()
        .execute("INSERT INTO books (title) VALUES ('Ulysses')", [])
        .unwrap();
    let out = db.run(&["up"]).expect(0);
    let path = path_after(&out.stdout, "backup of the state before this run: ");
    assert!(path.is_file(), "{out:#?}");
    assert!(path.to_string_lossy().ends_with(".pre-up.db"));
    assert!(
        out.stdout
            .contains("while it is among the 5 newest automatic backups"),
        "{out:#?}"
    );
    let command = out
        .stdout
        .lines()
        .find_map(|l| l.split("to go back to it: ").nth(1))
        .unwrap();
    assert_eq!(command, format!("migrate restore {}", path.display()));
    assert_runs_as_printed(command);
    // It is the state before the run: seq 1, one book, no isbn column yet.
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let seq: i64 = conn
        .query_row("SELECT max(seq) FROM _migrate_applied", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seq, 1);
    assert_eq!(books_in(&path), 1);
    // Nothing to do: no backup, nothing said about one.
    let idle = db.run(&["up"]).expect(0);
    assert!(!idle.stdout.contains("backup"), "{idle:#?}");
}

#[test]
fn restore_before_picks_a_manual_backup_when_it_is_the_newest_before_that_migration() {
    let db = Db::new();
    db.run(&["up", "--to", "1"]).expect(0);
    db.conn()
        .execute("INSERT INTO books (title) VALUES ('Dune')", [])
        .unwrap();
    let manual = path_after(&db.run(&["backup"]).expect(0).stdout, "backup created: ");
    db.run(&["up", "--to", "2", "--no-backup"]).expect(0);
    db.conn()
        .execute("INSERT INTO books (title, isbn) VALUES ('Emma', '2')", [])
        .unwrap();
    let out = db.run(&["restore", "--before", "2", "--yes"]).expect(0);
    assert!(
        out.stdout
            .contains(&format!("restored from {}", manual.display())),
        "{out:#?}"
    );
    assert_eq!(db.int("SELECT count(*) FROM books"), 1);
    assert_eq!(db.int("SELECT max(seq) FROM _migrate_applied"), 1);
}
