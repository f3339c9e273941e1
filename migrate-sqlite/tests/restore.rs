//! Restore, on real files: the restored database equals the backup (schema text, every row with
//! its rowid, `sqlite_sequence`, `user_version`, `application_id`) and passes `integrity_check`
//! and `foreign_key_check`; it keeps the live database's journal mode; a source that is the
//! live file, empty, not SQLite or another application's database is refused and the live file
//! is untouched; failed-state copies are never "the newest backup"; under `KeepApplied` the
//! automatic restore keeps what the run applied before the failing migration; retention never
//! deletes a backup the operation just wrote. (Restores against a concurrent writer in another
//! process: `tests/tests/restore_processes.rs`.)
#![cfg(unix)]

mod common;
use common::*;
use migrate_sqlite::{
    BackupKind, Error, FailurePolicy, Migration, RestoreFrom, RestoreOptions, Step, TxMode,
};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

// ----------------------------------------------------------------------------------------------
// Helpers

fn backups_dir(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".backups");
    PathBuf::from(name)
}

fn listing(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    }
}

/// A copy in a scratch directory, so that opening it leaves the original as it was.
fn scratch_copy(dir: &Path, file: &Path) -> PathBuf {
    let scratch = dir.join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let copy = scratch.join(format!("copy-{}.db", listing(&scratch).len()));
    fs::copy(file, &copy).unwrap();
    copy
}

fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn journal_mode(path: &Path) -> String {
    one(&Connection::open(path).unwrap(), "PRAGMA journal_mode")
}

/// Everything a restore must bring back, as text: every schema object's exact SQL, every row of
/// every table (SQLite's own and the framework's included) with its rowid where it has one,
/// `user_version` and `application_id`. The history's rows are left out (a restore appends
/// one): [`history_actions`] has them.
fn everything(path: &Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = String::new();
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
        .unwrap();
    let objects: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name, table, sql) in &objects {
        out.push_str(&format!("{kind} {name} on {table}: {sql:?}\n"));
    }
    let mut stmt = conn
        .prepare(
            "SELECT name, wr FROM pragma_table_list
             WHERE schema = 'main' AND type IN ('table', 'shadow')
             AND name NOT LIKE 'sqlite_%schema' AND name <> '_migrate_history' ORDER BY name",
        )
        .unwrap();
    let tables: Vec<(String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (table, without_rowid) in tables {
        let rowid = if without_rowid { "" } else { "_rowid_, " };
        let mut rows = conn
            .prepare(&format!("SELECT {rowid}* FROM \"{table}\" ORDER BY 1"))
            .unwrap();
        let columns = rows.column_count();
        let lines: Vec<String> = rows
            .query_map([], |r| {
                Ok((0..columns)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.push_str(&format!("rows of {table}:\n  {}\n", lines.join("\n  ")));
    }
    for pragma in ["user_version", "application_id"] {
        let value: i64 = one(&conn, &format!("PRAGMA {pragma}"));
        out.push_str(&format!("{pragma} = {value}\n"));
    }
    out
}

/// The history's actions, oldest first.
fn history_actions(path: &Path) -> Vec<String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT action FROM _migrate_history ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Equal texts, or a panic naming the first line that differs (the texts are long).
#[track_caller]
fn assert_same(actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    let at = a
        .iter()
        .zip(&e)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(e.len()));
    panic!(
        "they differ at line {at}:\n  actual:   {:?}\n  expected: {:?}",
        a.get(at),
        e.get(at)
    );
}

fn assert_sound(path: &Path) {
    let conn = Connection::open(path).unwrap();
    assert_eq!(one::<String>(&conn, "PRAGMA integrity_check"), "ok");
    let violations: i64 = one(&conn, "SELECT count(*) FROM pragma_foreign_key_check");
    assert_eq!(violations, 0);
}

/// A migration creating one of every kind of object a restore must carry.
fn rich_schema() -> Migration {
    sql(
        1,
        "rich",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
         CREATE TABLE child (id INTEGER PRIMARY KEY,
             parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,
             qty INTEGER, doubled INTEGER GENERATED ALWAYS AS (qty * 2) VIRTUAL,
             tripled INTEGER GENERATED ALWAYS AS (qty * 3) STORED);
         CREATE TABLE plain (a TEXT, b BLOB);
         CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
         CREATE INDEX child_parent ON child (parent_id);
         CREATE UNIQUE INDEX plain_a ON plain (a);
         CREATE VIEW totals AS SELECT parent_id, sum(qty) AS total FROM child GROUP BY parent_id;
         CREATE TRIGGER parent_named AFTER UPDATE OF name ON parent
             BEGIN INSERT INTO kv (k, v) VALUES ('renamed ' || new.id, new.name); END;
         CREATE VIRTUAL TABLE notes_fts USING fts5 (body);",
        "SELECT 1",
    )
}

fn fill_rich(conn: &Connection) {
    conn.execute_batch(
        "INSERT INTO parent (name) VALUES ('a'), ('b'), ('c');
         DELETE FROM parent WHERE name = 'c';
         INSERT INTO child (id, parent_id, qty) VALUES (10, 1, 5), (20, 2, 7), (30, 2, 1);
         INSERT INTO plain (rowid, a, b) VALUES (7, 'x', x'00ff'), (3, 'y', NULL);
         DELETE FROM plain WHERE a = 'z';
         INSERT INTO kv VALUES ('one', '1'), ('two', '2');
         UPDATE parent SET name = 'A' WHERE id = 1;
         INSERT INTO notes_fts (body) VALUES ('milk and honey'), ('bread');
         ANALYZE;
         PRAGMA user_version = 42;
         PRAGMA application_id = 1234;",
    )
    .unwrap();
}

// ----------------------------------------------------------------------------------------------
// What a restore brings back

#[test]
fn a_restored_database_equals_its_backup_and_is_sound() {
    let db = temp_db();
    let mut session = migrator_with_backups(vec![rich_schema()])
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    fill_rich(session.connection());
    let snapshot = session.snapshot("rich").unwrap();
    let snapshot_copy = scratch_copy(db.dir.path(), &snapshot.path);
    let expected = everything(&snapshot_copy);
    assert!(expected.contains("rows of sqlite_sequence"), "{expected}");
    assert!(expected.contains("rows of sqlite_stat1"), "{expected}");

    // Everything changed: rows, schema, sequences, header values.
    session
        .connection()
        .execute_batch(
            "INSERT INTO parent (name) VALUES ('later'), ('later too');
             DELETE FROM child WHERE id = 10;
             DROP VIEW totals; DROP TRIGGER parent_named; DROP INDEX plain_a;
             CREATE TABLE extra (x); INSERT INTO extra VALUES (1);
             INSERT INTO notes_fts (body) VALUES ('new');
             PRAGMA user_version = 7; PRAGMA application_id = 99;",
        )
        .unwrap();
    let changed = everything(&db.path);
    assert_ne!(changed, expected);

    let report = session
        .restore(&RestoreFrom::Snapshot("rich".into()))
        .unwrap();
    assert_same(&everything(&db.path), &expected);
    assert_sound(&db.path);
    let mut history = history_actions(&snapshot_copy);
    history.push("restore".into());
    assert_eq!(history_actions(&db.path), history);
    // Full-text search works on the restored index.
    let hits: i64 = one(
        session.connection(),
        "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'honey'",
    );
    assert_eq!(hits, 1);
    // AUTOINCREMENT goes on from the restored counter (3, not 5).
    session
        .connection()
        .execute("INSERT INTO parent (name) VALUES ('next')", [])
        .unwrap();
    assert_eq!(session.connection().last_insert_rowid(), 4);

    // The undo backup holds the state before the restore, exactly.
    let undo = scratch_copy(db.dir.path(), &report.undo_backup.path);
    assert_same(&everything(&undo), &changed);
}

/// Tables whose rows are copied as whole records (`SELECT *`) are those whose rowid is a
/// column; a primary key that only looks like one (`INTEGER PRIMARY KEY DESC`, a text key)
/// keeps its rowids too.
#[test]
fn a_restore_keeps_the_rowids_of_tables_whose_primary_key_is_not_the_rowid() {
    let db = temp_db();
    let schema = sql(
        1,
        "keys",
        "CREATE TABLE desc_pk (x INTEGER PRIMARY KEY DESC, y TEXT);
         CREATE TABLE text_pk (k TEXT PRIMARY KEY, v TEXT);
         CREATE TABLE two_pk (a INTEGER, b INTEGER, PRIMARY KEY (a, b));
         CREATE TABLE ipk (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE ipk_constraint (id INTEGER, v TEXT, PRIMARY KEY (id));",
        "SELECT 1",
    );
    let mut session = migrator_with_backups(vec![schema]).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch(
            "INSERT INTO desc_pk (rowid, x, y) VALUES (100, 1, 'a'), (50, 2, 'b');
             INSERT INTO text_pk (rowid, k, v) VALUES (900, 'k1', 'a'), (12, 'k2', 'b');
             INSERT INTO two_pk (rowid, a, b) VALUES (77, 1, 2), (33, 3, 4);
             INSERT INTO ipk (id, v) VALUES (5, 'a'), (2, 'b');
             INSERT INTO ipk_constraint (id, v) VALUES (8, 'a'), (4, 'b');",
        )
        .unwrap();
    let snapshot = session.snapshot("keys").unwrap();
    let expected = everything(&scratch_copy(db.dir.path(), &snapshot.path));
    assert!(expected.contains("100"), "{expected}");
    session
        .connection()
        .execute_batch(
            "DELETE FROM desc_pk; DELETE FROM text_pk; DELETE FROM two_pk; DELETE FROM ipk;
             DELETE FROM ipk_constraint; INSERT INTO desc_pk (x, y) VALUES (3, 'c');",
        )
        .unwrap();

    session
        .restore(&RestoreFrom::Snapshot("keys".into()))
        .unwrap();
    assert_same(&everything(&db.path), &expected);
    assert_sound(&db.path);
}

#[test]
fn a_restore_keeps_the_journal_mode_of_the_live_database() {
    // A rollback-journal database restored from a file whose header says WAL.
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('in the wal copy')")
        .unwrap();
    let wal_copy = db.dir.path().join("wal-copy.db");
    session
        .connection()
        .execute("VACUUM INTO ?1", [wal_copy.to_str().unwrap()])
        .unwrap();
    assert_eq!(
        one::<String>(
            &Connection::open(&wal_copy).unwrap(),
            "PRAGMA journal_mode = WAL"
        ),
        "wal"
    );
    let expected = dump(&scratch_copy(db.dir.path(), &wal_copy));
    session
        .connection()
        .execute_batch("DELETE FROM t1")
        .unwrap();
    assert_eq!(journal_mode(&db.path), "delete");

    session.restore(&RestoreFrom::File(wal_copy)).unwrap();
    drop(session);
    assert_eq!(journal_mode(&db.path), "delete");
    assert_eq!(
        fs::read(&db.path).unwrap()[18..20],
        [1, 1],
        "the header still says rollback journal"
    );
    assert!(!Path::new(&format!("{}-wal", db.path.display())).exists());
    assert_eq!(dump(&db.path), expected);
    assert_sound(&db.path);

    // A WAL database restored from a backup (backups are rollback-journal files) stays WAL.
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    assert_eq!(
        one::<String>(session.connection(), "PRAGMA journal_mode = WAL"),
        "wal"
    );
    session.up().unwrap();
    let backup = session.backup().unwrap();
    assert_eq!(fs::read(&backup.path).unwrap()[18..20], [1, 1]);
    session.restore(&RestoreFrom::Latest).unwrap();
    drop(session);
    assert_eq!(journal_mode(&db.path), "wal");
}

// ----------------------------------------------------------------------------------------------
// Sources that are refused

#[test]
fn sources_that_are_not_backups_of_this_database_are_refused_and_nothing_changes() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('live')")
        .unwrap();
    let dir = db.dir.path();
    let empty = dir.join("empty.db");
    fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.txt");
    fs::write(&text, "remember the milk\n".repeat(100)).unwrap();
    let other_app = dir.join("other-app.db");
    Connection::open(&other_app)
        .unwrap()
        .execute_batch(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY); INSERT INTO accounts VALUES (1)",
        )
        .unwrap();
    // A migrated database, but of another set.
    let other_set = dir.join("other-set.db");
    migrate_sqlite::Migrator::new()
        .set("billing")
        .with_migrations(tables(1).into_iter().map(|m| m.in_set("billing")))
        .without_backups()
        .open(&other_set)
        .unwrap()
        .up()
        .unwrap();
    let lock_file = migrate_sqlite::lock_path(&db.path);
    assert!(lock_file.is_file());

    let bytes_before = bytes(&db.path);
    let backups_before = listing(&backups_dir(&db.path));
    for (file, why) in [
        (&empty, "it is empty (0 bytes)"),
        (&lock_file, "it is empty (0 bytes)"),
        (&text, "it is not a SQLite database"),
        (
            &other_app,
            "it has no applied migrations of set \"default\"",
        ),
        (
            &other_set,
            "it has no applied migrations of set \"default\"",
        ),
    ] {
        let err = session
            .restore(&RestoreFrom::File(file.clone()))
            .unwrap_err();
        assert!(
            matches!(&err, Error::RestoreRefused { path, .. } if path == file),
            "{file:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(why), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert!(message.contains("--allow-foreign-source"), "{message}");
        assert!(
            bytes(&db.path) == bytes_before,
            "{file:?} changed the database"
        );
        assert_eq!(listing(&backups_dir(&db.path)), backups_before, "{file:?}");
    }
    assert_eq!(applied_seqs(session.connection()), [1]);

    // Said explicitly, another application's database is restored (with an undo backup).
    let report = session
        .restore_with(
            &RestoreFrom::File(other_app.clone()),
            RestoreOptions::default().allow_foreign_source(),
        )
        .unwrap();
    assert_eq!(dump(&db.path), dump(&scratch_copy(dir, &other_app)));
    // Nothing of this set is applied in it (the restore only added its history row).
    assert!(applied_seqs(session.connection()).is_empty());
    assert_eq!(history_actions(&db.path), ["restore"]);
    let undo = scratch_copy(dir, &report.undo_backup.path);
    assert_eq!(applied_seqs(&Connection::open(&undo).unwrap()), [1]);
}

#[test]
fn the_command_that_insists_on_a_refused_source_quotes_its_path() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    session.up().unwrap();
    let other_app = db.dir.path().join("other app's data.db");
    Connection::open(&other_app)
        .unwrap()
        .execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        .unwrap();
    let bytes_before = bytes(&db.path);
    let err = session
        .restore(&RestoreFrom::File(other_app.clone()))
        .unwrap_err();
    // One shell word, as a POSIX shell reads it: in single quotes, the quote escaped.
    let quoted = format!(
        "'{}'",
        other_app.display().to_string().replace('\'', "'\\''")
    );
    let command = format!("`migrate restore {quoted} --allow-foreign-source --yes`");
    assert!(err.to_string().contains(&command), "{err}");
    assert!(bytes(&db.path) == bytes_before);
}

#[test]
fn the_live_database_under_another_name_is_refused_at_once() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1))
        .busy_timeout(std::time::Duration::from_secs(600))
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('live')")
        .unwrap();
    let hard_link = db.dir.path().join("hard-link.db");
    fs::hard_link(&db.path, &hard_link).unwrap();
    let symlink = db.dir.path().join("symlink.db");
    std::os::unix::fs::symlink(&db.path, &symlink).unwrap();
    let dotted = db.dir.path().join(".").join("app.db");
    let bytes_before = bytes(&db.path);
    let backups_before = listing(&backups_dir(&db.path));
    for file in [&hard_link, &symlink, &dotted] {
        // With a 10-minute busy timeout: a wait would hang the test, not fail it.
        for options in [
            RestoreOptions::default(),
            RestoreOptions::default().allow_foreign_source(),
        ] {
            let err = session
                .restore_with(&RestoreFrom::File(file.clone()), options)
                .unwrap_err();
            assert!(matches!(err, Error::RestoreRefused { .. }), "{err:?}");
            assert!(err.to_string().contains("is the live database"), "{err}");
            assert!(bytes(&db.path) == bytes_before);
            assert_eq!(listing(&backups_dir(&db.path)), backups_before);
        }
    }
    assert_eq!(count_rows(&db.path, "t1"), 1);
}

#[test]
fn a_restore_that_fails_half_way_changes_nothing_says_so_and_leaves_no_undo_copy() {
    // The backup holds a row its table's CHECK refuses (written with ignore_check_constraints,
    // as an application may): putting the rows back fails after the live tables were dropped.
    let db = temp_db();
    let names = sql(
        1,
        "names",
        "CREATE TABLE names (n TEXT CHECK (length(n) < 5))",
        "DROP TABLE names",
    );
    let mut session = migrator_with_backups(vec![names]).open(&db.path).unwrap();
    session.up().unwrap();
    session
        .connection()
        .execute_batch(
            "PRAGMA ignore_check_constraints = 1;
             INSERT INTO names VALUES ('ann'), ('far too long');
             PRAGMA ignore_check_constraints = 0;",
        )
        .unwrap();
    session.snapshot("unchecked").unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO names VALUES ('bob')")
        .unwrap();
    let before = everything(&db.path);
    let history_before = history_actions(&db.path);
    let backups_before = listing(&backups_dir(&db.path));

    let err = session
        .restore(&RestoreFrom::Snapshot("unchecked".into()))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("CHECK constraint failed"), "{text}");
    assert!(
        text.contains("rolled back") && text.contains("nothing was changed"),
        "the message must say the database is as it was: {text}"
    );
    assert_same(&everything(&db.path), &before);
    assert_eq!(history_actions(&db.path), history_before);
    // No undo copy of an unchanged state: it would be "the newest backup" for the next
    // `migrate restore`, which would then restore the state that is already there.
    assert_eq!(listing(&backups_dir(&db.path)), backups_before);
    assert_eq!(count_rows(&db.path, "names"), 3);
}

#[test]
fn a_restore_whose_commit_a_reader_keeps_waiting_changes_nothing_and_leaves_no_undo_copy() {
    // Rollback-journal mode: a commit waits until every open read has finished.
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1))
        .busy_timeout(std::time::Duration::from_millis(300))
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    session.snapshot("empty").unwrap();
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('kept')")
        .unwrap();
    let before = everything(&db.path);
    let backups_before = listing(&backups_dir(&db.path));
    let reader = Connection::open(&db.path).unwrap();
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM t1;")
        .unwrap();

    let err = session
        .restore(&RestoreFrom::Snapshot("empty".into()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Busy { .. } | Error::Locked { .. }),
        "the stayed-locked error (exit 4): {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("Nothing was changed"), "{text}");
    reader.execute_batch("COMMIT").unwrap();
    assert_same(&everything(&db.path), &before);
    assert_eq!(listing(&backups_dir(&db.path)), backups_before);
    assert_eq!(count_rows(&db.path, "t1"), 1);
}

fn count_rows(db: &Path, table: &str) -> i64 {
    one(
        &Connection::open(db).unwrap(),
        &format!("SELECT count(*) FROM {table}"),
    )
}

// ----------------------------------------------------------------------------------------------
// Failed-state copies, restore points, retention

/// Seqs 1..=2 create t1, t2; 3 is `transaction = false` and fails after creating `partial`
/// and emptying t1.
fn failing_after_two() -> Vec<Migration> {
    let mut list = tables(2);
    list.push(
        Migration::new(
            3,
            "backfill",
            Step::sql("CREATE TABLE partial (x); DELETE FROM t1; INSERT INTO missing VALUES (1);"),
        )
        .with_mode(TxMode::NonTransactional),
    );
    list
}

#[test]
fn a_failed_state_copy_is_never_the_newest_backup_and_is_listed_apart() {
    let db = temp_db();
    let mut first = migrator_with_backups(tables(1)).open(&db.path).unwrap();
    first.up().unwrap();
    first
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('kept')")
        .unwrap();
    drop(first);
    let before = dump(&db.path);
    let session = migrator_with_backups(failing_after_two())
        .open(&db.path)
        .unwrap();
    let mut session = session;
    session.up().unwrap_err();
    assert_eq!(dump(&db.path), before);

    let failed = session.failed_states().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].kind, BackupKind::FailedState);
    assert!(
        failed[0]
            .path
            .to_string_lossy()
            .ends_with(".failed-state.db")
    );
    let backups = session.backups().unwrap();
    assert!(
        backups.iter().all(|b| b.kind != BackupKind::FailedState),
        "{backups:?}"
    );
    let pre_up = backups.last().unwrap().clone();
    assert_eq!(
        pre_up.kind,
        BackupKind::Automatic {
            reason: "pre-up".into()
        }
    );
    // The failed state is newer, yet "the newest backup" is the pre-up one.
    assert!(failed[0].created_at >= pre_up.created_at);
    session
        .connection()
        .execute_batch("INSERT INTO t1 (v) VALUES ('after the failure')")
        .unwrap();
    let report = session.restore(&RestoreFrom::Latest).unwrap();
    assert_eq!(report.restored_from, pre_up.path);
    assert_eq!(dump(&db.path), before);
    assert!(!table_exists(session.connection(), "partial"));
}

#[test]
fn under_keep_applied_a_failed_non_transactional_migration_keeps_what_ran_before_it() {
    let db = temp_db();
    let err = migrator_with_backups(failing_after_two())
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    let conn = Connection::open(&db.path).unwrap();
    // 1 and 2 succeeded in this run and stay; 3's work is undone.
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert!(table_exists(&conn, "t1") && table_exists(&conn, "t2"));
    assert!(!table_exists(&conn, "partial"));
    assert_sound(&db.path);
    let dir = backups_dir(&db.path);
    let named = |suffix: &str| -> Vec<String> {
        listing(&dir)
            .into_iter()
            .filter(|n| n.ends_with(suffix))
            .collect()
    };
    let pre_step = named(".pre-step.db");
    assert_eq!(pre_step.len(), 1, "{:?}", listing(&dir));
    assert!(text.contains(&pre_step[0]), "{text}");
    assert!(text.contains("stay applied"), "{text}");
    assert!(text.contains("(seq 2)"), "{text}");
    let failed = named(".failed-state.db");
    assert_eq!(failed.len(), 1);
    let failed = Connection::open(scratch_copy(db.dir.path(), &dir.join(&failed[0]))).unwrap();
    assert!(table_exists(&failed, "partial"));
    // The failure is in the history of the restored database.
    let failures: i64 = one(
        &conn,
        "SELECT count(*) FROM _migrate_history WHERE seq = 3 AND outcome = 'failed'",
    );
    assert_eq!(failures, 1);
}

#[test]
fn under_keep_applied_a_restore_point_that_cannot_be_written_keeps_the_run_and_restores_nothing() {
    let db = temp_db();
    let dir = backups_dir(&db.path);
    let moved = db.dir.path().join("backups-moved-away");
    let (from, to) = (dir.clone(), moved.clone());
    let mut list = tables(1);
    // Migration 2 leaves a regular file where the backup directory was: the backup taken just
    // before migration 3 cannot be written.
    list.push(Migration::new(
        2,
        "break_the_backup_dir",
        Step::new(move |tx| {
            tx.execute_batch("CREATE TABLE t2 (x)")?;
            fs::rename(&from, &to).map_err(|e| Error::msg(e.to_string()))?;
            fs::write(&from, b"not a directory").map_err(|e| Error::msg(e.to_string()))?;
            Ok(())
        }),
    ));
    list.push(
        Migration::new(3, "never_runs", Step::sql("CREATE TABLE partial (x)"))
            .with_mode(TxMode::NonTransactional),
    );
    let err = migrator_with_backups(list)
        .failure_policy(FailurePolicy::KeepApplied)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Nothing needs restoring"), "{text}");
    assert!(text.contains("so it was not run"), "{text}");
    assert!(!text.contains("Nothing was migrated"), "{text}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(applied_seqs(&conn), [1, 2]);
    assert!(table_exists(&conn, "t2") && !table_exists(&conn, "partial"));
    assert_sound(&db.path);
    let failures: i64 = one(
        &conn,
        "SELECT count(*) FROM _migrate_history WHERE seq = 3 AND outcome = 'failed'",
    );
    assert_eq!(failures, 1);
    // Only the pre-up backup exists (moved away with its directory): nothing was restored.
    let left = listing(&moved);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left.iter().all(|n| n.ends_with(".pre-up.db")), "{left:?}");
}

/// A backup file of `db` named as taken at `stamp` (a clock that was ahead).
fn future_backup(db: &Path, source: &Path, stamp: &str, reason: &str) -> PathBuf {
    let path = backups_dir(db).join(format!("app.db.{stamp}.{reason}.db"));
    fs::copy(source, &path).unwrap();
    path
}

#[test]
fn retention_never_deletes_a_backup_the_operation_just_wrote_even_after_the_clock_went_back() {
    let db = temp_db();
    let mut session = migrator_with_backups(tables(1))
        .keep_backups(1)
        .open(&db.path)
        .unwrap();
    session.up().unwrap();
    let real = session.backups().unwrap().pop().unwrap().path;
    // Backups named in the future: every new one looks older than them.
    let future = [
        future_backup(&db.path, &real, "20990101T000000.000Z", "pre-up"),
        future_backup(&db.path, &real, "20990101T000000.001Z", "failed-state"),
    ];

    // A manual backup survives its own operation.
    let manual = session.backup().unwrap();
    assert!(manual.path.is_file());

    // A restore's undo backup survives it.
    let report = session
        .restore(&RestoreFrom::File(manual.path.clone()))
        .unwrap();
    assert!(report.undo_backup.path.is_file());
    drop(session);

    // A failed run: the pre-up backup its message names and the failed-state copy survive.
    let mut list = tables(1);
    list.push(
        Migration::new(
            2,
            "broken",
            Step::sql("CREATE TABLE partial (x); SELECT * FROM missing;"),
        )
        .with_mode(TxMode::NonTransactional),
    );
    let err = migrator_with_backups(list)
        .keep_backups(1)
        .open(&db.path)
        .unwrap()
        .up()
        .unwrap_err();
    let text = err.to_string();
    let dir = backups_dir(&db.path);
    let pre_up: Vec<PathBuf> = listing(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".pre-up.db") && !n.contains(".2099"))
        .map(|n| dir.join(n))
        .collect();
    assert_eq!(pre_up.len(), 1, "{:?}", listing(&dir));
    assert!(text.contains(&pre_up[0].display().to_string()), "{text}");
    let failed: Vec<String> = listing(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".failed-state.db") && !n.contains(".2099"))
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", listing(&dir));
    assert!(text.contains(&failed[0]), "{text}");
    for path in &future {
        assert!(path.is_file());
    }
    assert!(!table_exists(
        &Connection::open(&db.path).unwrap(),
        "partial"
    ));
}

// ----------------------------------------------------------------------------------------------
// A damaged live database

#[test]
fn the_restore_command_a_damaged_database_refusal_names_quotes_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("my data");
    fs::create_dir(&folder).unwrap();
    let path = folder.join("app.db");
    let migrator = migrator_with_backups(tables(1));
    let mut session = migrator.open(&path).unwrap();
    session.up().unwrap();
    let good = session.snapshot("good").unwrap();
    drop(session);
    fs::write(&path, b"not a database any more, the header is gone").unwrap();
    let before = bytes(&path);
    let err = migrator
        .open(&path)
        .unwrap()
        .restore(&RestoreFrom::Snapshot("good".into()))
        .unwrap_err();
    assert!(matches!(err, Error::LiveDatabaseDamaged { .. }), "{err:?}");
    let command = format!("`migrate restore '{}' --yes`", good.path.display());
    assert!(err.to_string().contains(&command), "{err}");
    assert!(bytes(&path) == before, "nothing was changed");
}

#[test]
fn a_damaged_live_database_is_kept_aside_and_never_restored_over_in_place() {
    let db = temp_db();
    let migrator = migrator_with_backups(tables(1));
    let mut session = migrator.open(&db.path).unwrap();
    assert_eq!(
        one::<String>(session.connection(), "PRAGMA journal_mode = WAL"),
        "wal"
    );
    session.up().unwrap();
    session
        .connection()
        .execute_batch(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200)
             INSERT INTO t1 (v) SELECT printf('%0500d', i) FROM c;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    session.snapshot("good").unwrap();
    let expected = dump(&scratch_copy(
        db.dir.path(),
        &session.snapshots().unwrap()[0].path,
    ));

    // Healthy: restore_damaged refuses and changes nothing.
    let bytes_before = bytes(&db.path);
    let from = RestoreFrom::Snapshot("good".into());
    let err = migrator
        .open(&db.path)
        .unwrap()
        .restore_damaged(&from, RestoreOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("is not damaged"), "{err}");
    assert!(bytes(&db.path) == bytes_before);

    // A committed row still in the WAL (another connection keeps the WAL from being
    // checkpointed away), then a page in the middle of the main file overwritten.
    let other = Connection::open(&db.path).unwrap();
    assert_eq!(one::<i64>(&other, "SELECT count(*) FROM t1"), 200);
    session
        .connection()
        .execute_batch("PRAGMA wal_autocheckpoint = 0; INSERT INTO t1 (v) VALUES ('in the wal')")
        .unwrap();
    drop(session);
    let wal = PathBuf::from(format!("{}-wal", db.path.display()));
    assert!(wal.is_file());
    let mut damaged = bytes(&db.path);
    let middle = damaged.len() / 4096 / 2 * 4096;
    damaged[middle..middle + 4096].fill(0xa5);
    fs::write(&db.path, &damaged).unwrap();
    let wal_bytes = bytes(&wal);
    let backups_before = listing(&backups_dir(&db.path));

    let session = migrator.open(&db.path).unwrap();
    let err = session.restore(&from).unwrap_err();
    assert!(matches!(err, Error::LiveDatabaseDamaged { .. }), "{err:?}");
    let command = format!(
        "`migrate restore {} --yes`",
        session.snapshots().unwrap()[0].path.display()
    );
    assert!(err.to_string().contains(&command), "{err}");
    assert!(bytes(&db.path) == damaged, "refused, yet the file changed");
    assert_eq!(listing(&backups_dir(&db.path)), backups_before);

    let report = session
        .restore_damaged(&from, RestoreOptions::default())
        .unwrap();
    // Kept aside, byte for byte, with its WAL (the committed row is in there).
    assert_eq!(report.damaged_kept.parent(), db.path.parent());
    assert!(bytes(&report.damaged_kept) == damaged);
    let kept_wal = PathBuf::from(format!("{}-wal", report.damaged_kept.display()));
    assert!(report.moved.contains(&kept_wal));
    assert!(bytes(&kept_wal) == wal_bytes);
    // (A connection left open keeps using the kept file: programs must be stopped first.)
    drop(other);
    // The database is the snapshot, sound, still in WAL mode.
    assert_eq!(dump(&db.path), expected);
    assert_sound(&db.path);
    assert_eq!(journal_mode(&db.path), "wal");
    assert_eq!(
        migrator.open(&db.path).unwrap().status().unwrap().current,
        Some(1)
    );
    assert_eq!(
        history_actions(&db.path).last().map(String::as_str),
        Some("restore")
    );
}
