//! `Session::restore_table` on real files: the table's rows come back exactly as the backup
//! holds them (rowids included, for tables that have them), and the live database under another
//! name (a hard link) is refused at once, changing nothing, and so are the framework's own tables
//! and SQLite's (their rows alone would make the record disagree with the schema). (The CLI flows: `tests/tests/
//! cli_restore_table.rs`.)
#![cfg(unix)]

mod common;
use common::*;
use migrate_sqlite::{Error, RestoreFrom};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

fn backup_files(db: &Path) -> BTreeSet<String> {
    let mut dir = db.as_os_str().to_owned();
    dir.push(".backups");
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

fn rows_with_rowids(conn: &Connection, table: &str) -> Vec<(i64, String)> {
    let mut stmt = conn
        .prepare(&format!("SELECT rowid, body FROM {table} ORDER BY rowid"))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn notes() -> Vec<migrate_sqlite::Migration> {
    vec![sql(
        1,
        "notes",
        "CREATE TABLE notes (body TEXT); CREATE TABLE other (x)",
        "DROP TABLE notes; DROP TABLE other",
    )]
}

#[test]
fn a_restored_table_keeps_the_rowids_of_the_backup() {
    // A rowid table without INTEGER PRIMARY KEY: other data (an external-content full-text
    // index, the application's own references) knows its rows by rowid.
    let db = temp_db();
    let mut session = migrator_with_backups(notes()).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO notes (rowid, body) VALUES (5, 'five'), (9, 'nine')")
        .unwrap();
    session.snapshot("notes").unwrap();
    session
        .connection()
        .execute_batch("DELETE FROM notes; INSERT INTO notes (rowid, body) VALUES (1, 'new')")
        .unwrap();

    let report = session
        .restore_table("notes", &RestoreFrom::Snapshot("notes".into()))
        .unwrap();
    assert_eq!((report.rows_before, report.rows_after), (1, 2));
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(5, "five".to_owned()), (9, "nine".to_owned())]
    );
    // The undo backup holds the state before, rowid included.
    let undo = Connection::open(&report.undo_backup.path).unwrap();
    assert_eq!(
        rows_with_rowids(&undo, "notes"),
        vec![(1, "new".to_owned())]
    );
}

#[test]
fn the_live_database_under_another_name_is_refused_at_once_and_nothing_changes() {
    let db = temp_db();
    // A long timeout: waiting for the live file's own lock would take all of it.
    let mut session = migrator_with_backups(notes())
        .busy_timeout(Duration::from_secs(2))
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO notes (body) VALUES ('kept')")
        .unwrap();
    let link = db.dir.path().join("looks-like-a-backup.db");
    fs::hard_link(&db.path, &link).unwrap();
    let backups = backup_files(&db.path);

    let err = session
        .restore_table("notes", &RestoreFrom::File(link.clone()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported(m) if m.contains("is the live database itself")),
        "{err}"
    );
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(1, "kept".to_owned())]
    );
    assert_eq!(
        backup_files(&db.path),
        backups,
        "no undo backup for a refusal"
    );
    let restores: i64 = session
        .connection()
        .query_row(
            "SELECT count(*) FROM _migrate_history WHERE action = 'restore-table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(restores, 0);
    // Nothing is left attached to the connection.
    let attached: i64 = session
        .connection()
        .query_row(
            "SELECT count(*) FROM pragma_database_list WHERE name = 'migrate_backup'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(attached, 0);
}

#[test]
fn the_framework_s_own_tables_are_refused_and_nothing_changes() {
    // Putting back `_migrate_applied` from before migration 2 would record 2 as not applied
    // while its change is in the data: the next `up` would skip or repeat it.
    let db = temp_db();
    let first = sql(
        1,
        "prices",
        "CREATE TABLE prices (cents INTEGER); INSERT INTO prices VALUES (5)",
        "DROP TABLE prices",
    );
    let second = sql(
        2,
        "to_hundredths",
        "UPDATE prices SET cents = cents * 100",
        "UPDATE prices SET cents = cents / 100",
    );
    let mut session = migrator_with_backups(vec![first.clone()])
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session.snapshot("at-one").unwrap();
    drop(session);
    let mut session = migrator_with_backups(vec![first, second])
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    let backups = backup_files(&db.path);
    let history = |conn: &Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM _migrate_history", [], |r| r.get(0))
            .unwrap()
    };
    let events = history(session.connection());

    for table in ["_migrate_applied", "_MIGRATE_HISTORY", "sqlite_sequence"] {
        let err = session
            .restore_table(table, &RestoreFrom::Snapshot("at-one".into()))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported(m)
                if m.contains("nothing was changed") && m.contains("migrate restore")),
            "{table}: {err}"
        );
    }
    assert_eq!(applied_seqs(session.connection()), [1, 2]);
    assert_eq!(history(session.connection()), events);
    assert_eq!(
        backup_files(&db.path),
        backups,
        "no undo backup for a refusal"
    );
    let cents: i64 = session
        .connection()
        .query_row("SELECT cents FROM prices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(cents, 500);
}

#[test]
fn rows_today_s_indexes_refuse_are_rolled_back_and_the_message_says_nothing_changed() {
    // A migration after the backup deduplicated the emails and made them unique: the backup's
    // rows no longer fit (the table's own definition is the same, so the shape check passes).
    let db = temp_db();
    let users = sql(
        1,
        "users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)",
        "DROP TABLE users",
    );
    let unique = sql(
        2,
        "unique_email",
        "DELETE FROM users WHERE id NOT IN (SELECT min(id) FROM users GROUP BY email);
         CREATE UNIQUE INDEX users_email ON users (email);",
        "DROP INDEX users_email",
    )
    .with_flags(migrate_sqlite::Flags::NONE.with_destructive(true));
    let mut session = migrator_with_backups(vec![users.clone()])
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO users (email) VALUES ('a@x'), ('a@x'), ('b@x')")
        .unwrap();
    session.snapshot("duplicates").unwrap();
    drop(session);
    let mut session = migrator_with_backups(vec![users, unique])
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    let backups = backup_files(&db.path);

    let err = session
        .restore_table("users", &RestoreFrom::Snapshot("duplicates".into()))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("UNIQUE constraint failed"), "{text}");
    assert!(
        text.contains("users") && text.contains("nothing was changed"),
        "the message must say the table is as it was: {text}"
    );
    let emails: Vec<String> = session
        .connection()
        .prepare("SELECT email FROM users ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(emails, ["a@x", "b@x"]);
    assert_eq!(
        backup_files(&db.path),
        backups,
        "no undo copy of an unchanged state"
    );
}

#[test]
fn a_commit_kept_waiting_by_a_reader_is_the_stayed_locked_error_and_nothing_changes() {
    // Rollback-journal mode: a commit waits until every open read has finished.
    let db = temp_db();
    let mut session = migrator_with_backups(notes())
        .busy_timeout(Duration::from_millis(300))
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO notes (body) VALUES ('then')")
        .unwrap();
    session.snapshot("then").unwrap();
    session
        .connection()
        .execute_batch("UPDATE notes SET body = 'now'")
        .unwrap();
    let backups = backup_files(&db.path);
    let reader = Connection::open(&db.path).unwrap();
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM notes;")
        .unwrap();

    let err = session
        .restore_table("notes", &RestoreFrom::Snapshot("then".into()))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::Busy { .. } | Error::Locked { .. }),
        "the stayed-locked error (exit 4): {err:?}"
    );
    assert!(
        text.contains("nothing was changed") || text.contains("Nothing was changed"),
        "{text}"
    );
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(1, "now".to_owned())]
    );
    assert_eq!(
        backup_files(&db.path),
        backups,
        "no undo copy of an unchanged state"
    );
    // Once the reader is done, the same command works.
    session
        .restore_table("notes", &RestoreFrom::Snapshot("then".into()))
        .unwrap();
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(1, "then".to_owned())]
    );
}

#[test]
fn a_full_text_index_s_shadow_table_is_refused_and_its_virtual_table_named() {
    // Rows of `notes_content` alone would no longer match the index in `notes_data`: the
    // full-text table reports itself malformed.
    let db = temp_db();
    let notes = sql(
        1,
        "notes",
        "CREATE VIRTUAL TABLE notes USING fts5 (body)",
        "DROP TABLE notes",
    );
    let mut session = migrator_with_backups(vec![notes]).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO notes (rowid, body) VALUES (3, 'milk and honey'), (8, 'bread')")
        .unwrap();
    session.snapshot("notes").unwrap();
    session
        .connection()
        .execute_batch("DELETE FROM notes; INSERT INTO notes (body) VALUES ('other')")
        .unwrap();
    let backups = backup_files(&db.path);

    let err = session
        .restore_table("notes_content", &RestoreFrom::Snapshot("notes".into()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported(m)
            if m.contains("nothing was changed") && m.contains("`migrate restore-table notes`")),
        "{err}"
    );
    assert_eq!(
        backup_files(&db.path),
        backups,
        "no undo backup for a refusal"
    );
    session
        .connection()
        .execute_batch("INSERT INTO notes (notes) VALUES ('integrity-check')")
        .unwrap();
    // The virtual table itself comes back whole, with its rowids, and its index works.
    session
        .restore_table("notes", &RestoreFrom::Snapshot("notes".into()))
        .unwrap();
    assert_eq!(
        rows_with_rowids(session.connection(), "notes"),
        vec![(3, "milk and honey".to_owned()), (8, "bread".to_owned())]
    );
    session
        .connection()
        .execute_batch("INSERT INTO notes (notes) VALUES ('integrity-check')")
        .unwrap();
    let hits: i64 = session
        .connection()
        .query_row(
            "SELECT rowid FROM notes WHERE notes MATCH 'honey'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 3);
}
