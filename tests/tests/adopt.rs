//! `migrate adopt --from diesel|sqlx|refinery|rusqlite-migration`: a database another tool
//! migrated, built here exactly as each tool writes its tracking table (see
//! `common/imported.rs` for the table definitions used), is matched to the migrations imported
//! from the same history, checked against the schema they build, recorded as applied after a
//! verified backup, and then continues with the framework's own `up`. Every refusal leaves the
//! database file byte-identical and takes no backup.

#[path = "common/imported.rs"]
mod imported;

use imported::*;
use migrate_sqlite::{Error, Migration, Migrator, Step, Tool};
use rusqlite::Connection;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOOLS: [Tool; 4] = [
    Tool::Diesel,
    Tool::Sqlx,
    Tool::Refinery,
    Tool::RusqliteMigration,
];

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    Db { _dir: dir, path }
}

fn backups(path: &Path) -> Vec<PathBuf> {
    let dir = PathBuf::from(format!("{}.backups", path.display()));
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The migrations imported into `set`, plus the framework's own next migration (seq 4).
fn with_own_migration(set: &str) -> Migrator {
    let _ = migrator(set); // links the generated migrations
    let mut list = migrate_sqlite::registered(set);
    list.push(
        Migration::new(
            4,
            "create_tags",
            Step::sql("CREATE TABLE tags (label TEXT NOT NULL)"),
        )
        .in_set(set),
    );
    Migrator::new().set(set).with_migrations(list)
}

/// Runs `adopt` and asserts it was refused without changing the file or taking a backup;
/// returns the message.
#[track_caller]
fn refused(path: &Path, migrator: Migrator, tool: Tool) -> String {
    let before = fs::read(path).unwrap();
    let err = migrator.open(path).unwrap().adopt(tool).unwrap_err();
    assert!(matches!(err, Error::AdoptionRefused { .. }), "{err:?}");
    assert_eq!(
        fs::read(path).unwrap(),
        before,
        "the file is byte-identical"
    );
    assert!(
        backups(path).is_empty(),
        "no backup taken: {:?}",
        backups(path)
    );
    let conn = Connection::open(path).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_migrate%' ESCAPE '\\'"
        ),
        0,
        "no tracking table created"
    );
    let text = err.to_string();
    assert!(text.contains("nothing was changed"), "{text}");
    text
}

#[test]
fn each_tool_s_database_is_adopted_then_up_continues_with_the_framework_s_own_migrations() {
    for tool in TOOLS {
        let (_, set) = layout_of(tool);
        let db = db();
        migrated_by(&db.path, tool, 2);
        let conn = Connection::open(&db.path).unwrap();
        conn.execute_batch("INSERT INTO users (id, name) VALUES (2, 'ann'), (3, 'bob');")
            .unwrap();

        let mut session = with_own_migration(set).open(&db.path).unwrap();
        let report = session.adopt(tool).unwrap();
        let seqs: Vec<u64> = report.adopted.iter().map(|(seq, _, _)| *seq).collect();
        assert_eq!(seqs, [1, 2], "{tool}");
        assert_eq!(report.pending, 2, "{tool}: seq 3 (imported) and 4 (own)");

        // Recorded as applied, with the adoption and its backup in the history.
        let names: Vec<String> = conn
            .prepare("SELECT name FROM _migrate_applied WHERE state = 'applied' ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let imported: Vec<String> = import(layout_of(tool).0, set)
            .migrations
            .iter()
            .take(2)
            .map(|m| m.name())
            .collect();
        assert_eq!(names, imported, "{tool}");
        let history = session.history().unwrap();
        assert_eq!(history.len(), 2, "{tool}");
        for row in &history {
            assert_eq!(
                (row.event.action.as_str(), row.event.outcome.as_str()),
                ("adopt", "ok")
            );
            assert!(
                row.event
                    .detail
                    .as_deref()
                    .unwrap()
                    .contains(&tool.to_string())
            );
            assert_eq!(
                row.event.backup_path.as_deref(),
                Some(report.backup.path.to_str().unwrap())
            );
        }
        // The backup is the database as the tool left it: its table, our rows, no tracking.
        let backup = Connection::open(&report.backup.path).unwrap();
        assert_eq!(count(&backup, "SELECT count(*) FROM users"), 3, "{tool}");
        assert_eq!(
            count(
                &backup,
                "SELECT count(*) FROM sqlite_schema WHERE name = '_migrate_applied'"
            ),
            0
        );
        assert_eq!(backups(&db.path), std::slice::from_ref(&report.backup.path));
        assert!(session.status().unwrap().drift.is_none(), "{tool}");

        // The app continues with a normal `up`: the rest of the imported history, then its own.
        let up = session.up().unwrap();
        assert_eq!((up.before, up.after), (Some(2), Some(4)), "{tool}");
        assert_eq!(
            count(&conn, "SELECT count(*) FROM users"),
            3,
            "{tool}: rows kept"
        );
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'email'"
            ),
            1
        );
        assert!(session.status().unwrap().is_clean(), "{tool}");
        if let Some(table) = tool.table() {
            let kept = format!("SELECT count(*) FROM {table}");
            assert_eq!(
                count(&conn, &kept),
                2,
                "{tool}: its table is left as it was"
            );
        }
    }
}

#[test]
fn a_schema_that_differs_from_what_the_migrations_build_is_refused_showing_the_difference() {
    let db = db();
    migrated_by(&db.path, Tool::Diesel, 2);
    Connection::open(&db.path)
        .unwrap()
        .execute_batch("ALTER TABLE posts ADD COLUMN draft INTEGER; CREATE TABLE notes (x);")
        .unwrap();
    let text = refused(&db.path, migrator("imported_diesel"), Tool::Diesel);
    assert!(text.contains("changed: table posts"), "{text}");
    assert!(
        text.contains("only in the database: CREATE TABLE notes (x)"),
        "{text}"
    );
    assert!(
        text.contains("table posts, in the database:     CREATE TABLE posts"),
        "{text}"
    );
    assert!(text.contains("draft INTEGER"), "{text}");
    assert!(
        text.contains("table posts, as the migrations build: CREATE TABLE posts"),
        "{text}"
    );
}

#[test]
fn a_version_no_imported_migration_carries_is_refused() {
    let db = db();
    migrated_by(&db.path, Tool::Diesel, 1);
    let conn = Connection::open(&db.path).unwrap();
    record_as(&conn, Tool::Diesel, "20991231000000", "from_the_future", 2);
    drop(conn);
    let text = refused(&db.path, migrator("imported_diesel"), Tool::Diesel);
    assert!(text.contains("applied version 20991231000000"), "{text}");
    assert!(text.contains("(the `import` command)"), "{text}");
}

#[test]
fn a_history_with_a_hole_is_refused() {
    let db = db();
    migrated_by(&db.path, Tool::Refinery, 1);
    let conn = Connection::open(&db.path).unwrap();
    record_as(&conn, Tool::Refinery, "3", "add_email", 3);
    drop(conn);
    let text = refused(&db.path, migrator("imported_refinery"), Tool::Refinery);
    assert!(
        text.contains("applied version 3 (3 \"3_add_email\") but not 2 \"2_create_posts\""),
        "{text}"
    );
}

#[test]
fn the_wrong_tool_or_an_unfinished_sqlx_migration_is_refused() {
    let db = db();
    migrated_by(&db.path, Tool::Diesel, 2);
    let text = refused(&db.path, migrator("imported_diesel"), Tool::Sqlx);
    assert!(
        text.contains("there is no _sqlx_migrations table"),
        "{text}"
    );

    let db = self::db();
    migrated_by(&db.path, Tool::Sqlx, 2);
    Connection::open(&db.path)
        .unwrap()
        .execute(
            "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 20220102120000",
            [],
        )
        .unwrap();
    let text = refused(&db.path, migrator("imported_sqlx"), Tool::Sqlx);
    assert!(text.contains("version 20220102120000"), "{text}");
    assert!(text.contains("as failed"), "{text}");
}

#[test]
fn a_user_version_beyond_the_imported_history_is_refused() {
    let db = db();
    migrated_by(&db.path, Tool::RusqliteMigration, 3);
    Connection::open(&db.path)
        .unwrap()
        .pragma_update(None, "user_version", 7)
        .unwrap();
    let text = refused(
        &db.path,
        migrator("imported_plain"),
        Tool::RusqliteMigration,
    );
    assert!(text.contains("user_version is 7"), "{text}");
}

#[test]
fn adopting_twice_is_refused_and_changes_nothing_the_second_time() {
    let db = db();
    migrated_by(&db.path, Tool::Sqlx, 3);
    let report = migrator("imported_sqlx")
        .open(&db.path)
        .unwrap()
        .adopt(Tool::Sqlx)
        .unwrap();
    assert_eq!(report.pending, 0);
    let before = fs::read(&db.path).unwrap();
    let err = migrator("imported_sqlx")
        .open(&db.path)
        .unwrap()
        .adopt(Tool::Sqlx)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("already has 3 migration(s) recorded"),
        "{err}"
    );
    assert_eq!(fs::read(&db.path).unwrap(), before);
    assert_eq!(
        backups(&db.path).len(),
        1,
        "only the first adoption's backup"
    );
}

/// The real command line, as an app ships it (`tests/src/bin/migrate-cli.rs`, which links
/// the imported sets).
fn cli(path: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_migrate-cli"))
        .args(args)
        .env("MIGRATE_CLI_DB", path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_adopts_then_ups_and_exits_3_on_a_refusal() {
    let db = db();
    migrated_by(&db.path, Tool::Diesel, 2);
    let before = fs::read(&db.path).unwrap();
    let (code, _, stderr) = cli(
        &db.path,
        &["--set", "imported_diesel", "adopt", "--from", "sqlx"],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("there is no _sqlx_migrations table"),
        "{stderr}"
    );
    assert_eq!(fs::read(&db.path).unwrap(), before);

    let (code, stdout, stderr) = cli(
        &db.path,
        &["--set", "imported_diesel", "adopt", "--from", "diesel"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("adopted 2 migration(s) that diesel had applied"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 migration(s) pending: run `migrate up`"),
        "{stdout}"
    );
    let (code, stdout, stderr) = cli(&db.path, &["--set", "imported_diesel", "up"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("now at seq 3 (was seq 2)"), "{stdout}");
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM _migrate_applied WHERE set_name = 'imported_diesel'"
        ),
        3
    );
}

#[test]
fn an_adoption_waits_for_the_migration_lock_and_gives_up_without_changing_anything() {
    let db = db();
    migrated_by(&db.path, Tool::Refinery, 3);
    let before = fs::read(&db.path).unwrap();
    // Another migrator holds the lock (a lock file of our own, as a second process would).
    let held = fs::File::create(migrate_sqlite::lock_path(&db.path)).unwrap();
    held.lock().unwrap();
    let err = migrator("imported_refinery")
        .busy_timeout(std::time::Duration::from_millis(50))
        .open(&db.path)
        .unwrap()
        .adopt(Tool::Refinery)
        .unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert_eq!(fs::read(&db.path).unwrap(), before);
    assert!(backups(&db.path).is_empty());
    held.unlock().unwrap();
    let report = migrator("imported_refinery")
        .open(&db.path)
        .unwrap()
        .adopt(Tool::Refinery)
        .unwrap();
    assert_eq!(report.adopted.len(), 3);
}

#[test]
fn the_command_line_reports_an_adoption_as_json_under_json() {
    let db = db();
    migrated_by(&db.path, Tool::Diesel, 2);
    let (code, stdout, stderr) = cli(
        &db.path,
        &[
            "--set",
            "imported_diesel",
            "--json",
            "adopt",
            "--from",
            "diesel",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // It did adopt: the two migrations are recorded.
    let conn = Connection::open(&db.path).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM _migrate_applied WHERE set_name = 'imported_diesel'"
        ),
        2
    );
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    assert_eq!(report["pending"], 1, "{report}");
}
