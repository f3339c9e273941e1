//! `migrate verify` through the real binary: foreign keys are checked and named, and a damaged
//! file (pages overwritten in the middle, or the header smashed) is a verify problem (exit 3)
//! naming the damage and the restore command, never a raw SQLite error; verify changes nothing.

#[path = "common/runbook.rs"]
mod runbook;

use runbook::Db;
use std::fs;
use std::io::{Seek, SeekFrom, Write};

/// A lending database, migrated, with some rows.
fn lending_with_rows() -> Db {
    let db = Db::lending();
    db.up();
    db.conn()
        .execute_batch(
            "INSERT INTO books (id, title, isbn) VALUES (1, 'Dune', '1'), (2, 'Emma', '2');
             INSERT INTO members (id, name) VALUES (1, 'Ann');
             INSERT INTO loans (book_id, member_id) VALUES (1, 1);",
        )
        .unwrap();
    db
}

#[test]
fn verify_names_an_orphan_row_and_exits_3() {
    let db = lending_with_rows();
    let out = db.run(&["verify"]).expect(0);
    assert!(out.stdout.contains("foreign keys ok"), "{out:#?}");

    // A row whose book does not exist (written with enforcement off, as an app might).
    db.conn()
        .execute_batch(
            "PRAGMA foreign_keys = OFF; INSERT INTO loans (book_id, member_id) VALUES (99, 1);",
        )
        .unwrap();
    let before = db.bytes();
    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout
            .contains("1 foreign key violation(s): loans rowid 2 -> books"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("`migrate restore-table loans`"),
        "{out:#?}"
    );
    assert!(!out.stdout.contains("ok:"), "{out:#?}");
    // verify only reads: the file, the rows and the backups are as they were.
    assert_eq!(db.bytes(), before);
    assert_eq!(db.int("SELECT count(*) FROM loans"), 2);
}

#[test]
fn a_foreign_key_that_names_no_unique_parent_column_is_a_verify_problem() {
    // SQLite accepts the schema, but cannot check (or, with enforcement on, write) the child:
    // `PRAGMA foreign_key_check` fails with "foreign key mismatch".
    let db = lending_with_rows();
    db.conn()
        .execute_batch("CREATE TABLE reviews (book_title TEXT REFERENCES books (title));")
        .unwrap();
    let before = db.bytes();
    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout.contains("foreign key mismatch")
            && out
                .stdout
                .contains("PRIMARY KEY or columns with a UNIQUE index"),
        "{out:#?}"
    );
    assert!(!out.text().contains("error: SQLite"), "{out:#?}");
    assert_eq!(db.bytes(), before, "verify only reads");
}

/// Overwrites `len` bytes at `offset` with a pattern.
fn smash(path: &std::path::Path, offset: u64, len: usize) {
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&vec![0xA5; len]).unwrap();
    file.sync_all().unwrap();
}

/// A database of several pages, with a backup taken while it was sound.
fn big_with_backup() -> Db {
    let db = lending_with_rows();
    db.conn()
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
             INSERT INTO books (id, title, isbn) SELECT i, printf('%.300c', 'x'), i FROM n;",
        )
        .unwrap();
    db.run(&["backup"]).expect(0);
    db
}

#[test]
fn pages_overwritten_in_the_middle_are_a_verify_problem_with_the_restore_command() {
    let db = big_with_backup();
    let size = fs::metadata(&db.path).unwrap().len();
    assert!(
        size > 16 * 4096,
        "the database should span many pages: {size}"
    );
    // Pages in the middle of the file (the books table's b-tree), header untouched.
    smash(&db.path, size / 2 - 4096, 3 * 4096);
    let before = db.bytes();
    let backups = db.backups();

    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout.contains("problem: the database file is damaged"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("`migrate restore`"), "{out:#?}");
    assert!(!out.text().contains("error: SQLite"), "{out:#?}");
    let commands = runbook::printed_commands(&out.stdout);
    assert!(commands.len() >= 2, "{commands:?}");
    for command in &commands {
        runbook::assert_runs_as_printed(command);
    }
    assert_eq!(
        db.bytes(),
        before,
        "verify must not write to a damaged file"
    );
    assert_eq!(db.backups(), backups, "verify takes no backup");
}

#[test]
fn a_smashed_header_is_a_verify_problem_not_a_raw_error() {
    let db = big_with_backup();
    smash(&db.path, 0, 100);
    let before = db.bytes();

    let out = db.run(&["verify"]).expect(3);
    assert!(
        out.stdout.contains("problem: the database file is damaged"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("not a database"), "{out:#?}");
    assert!(out.stdout.contains("`migrate restore`"), "{out:#?}");
    assert_eq!(db.bytes(), before);

    db.run(&["restore", "--yes"]).expect(0);
    db.run(&["verify"]).expect(0);
    assert_eq!(db.int("SELECT count(*) FROM loans"), 1);
}

#[test]
fn restoring_over_a_damaged_database_reports_json_under_json() {
    let db = big_with_backup();
    smash(&db.path, 0, 100);
    let out = db.run(&["restore", "--yes", "--json"]).expect(0);
    // It did restore, keeping the damaged file aside.
    assert_eq!(db.int("SELECT count(*) FROM loans"), 1);
    let kept: Vec<_> = fs::read_dir(db.path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let report = out.json();
    assert!(
        report["damaged_kept"]
            .as_str()
            .is_some_and(|p| p.ends_with(&kept[0])),
        "{report}"
    );
}
