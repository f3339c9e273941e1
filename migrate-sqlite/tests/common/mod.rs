//! Helpers shared by the runner's integration tests: real files in temp dirs.
#![allow(dead_code)]

pub mod people;
pub mod runs;

use migrate_sqlite::{Migration, Migrator, Step};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

pub struct TempDb {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn temp_db() -> TempDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.db");
    TempDb { dir, path }
}

/// A reversible migration from SQL text.
pub fn sql(seq: u64, name: &str, up: &str, down: &str) -> Migration {
    Migration::new(seq, name, Step::sql(up))
        .with_down(Step::sql(down))
        .with_checksum(migrate_sqlite::Checksum::of_text(up))
}

/// `count` reversible migrations, each creating table `t<seq>`.
pub fn tables(count: u64) -> Vec<Migration> {
    (1..=count)
        .map(|seq| {
            sql(
                seq,
                &format!("create_t{seq}"),
                &format!("CREATE TABLE t{seq} (id INTEGER PRIMARY KEY, v TEXT)"),
                &format!("DROP TABLE t{seq}"),
            )
        })
        .collect()
}

/// A migrator for tests of the run protocol itself: automatic backups off, so the outcome of a
/// failure is what the protocol alone achieves. Backup behaviour is tested with
/// [`migrator_with_backups`].
pub fn migrator(list: Vec<Migration>) -> Migrator {
    Migrator::new().with_migrations(list).without_backups()
}

/// A migrator with the default automatic backups.
pub fn migrator_with_backups(list: Vec<Migration>) -> Migrator {
    Migrator::new().with_migrations(list)
}

/// The user's schema and every row of every user table, as text (the framework's own tables
/// left out): equal before and after means nothing changed that the application could see.
pub fn dump(path: &Path) -> String {
    let conn = Connection::open(path).expect("open for dump");
    let mut out = String::new();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_schema
             WHERE name NOT LIKE '\\_migrate\\_%' ESCAPE '\\' AND name <> 'sqlite_sequence'
             ORDER BY type, name",
        )
        .unwrap();
    let objects: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (kind, name, sql) in objects {
        out.push_str(&format!("{kind} {name}: {}\n", sql.unwrap_or_default()));
        if kind == "table" {
            let mut rows = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
            let columns = rows.column_count();
            let lines: Vec<String> = rows
                .query_map([], |r| {
                    let values: Vec<String> = (0..columns)
                        .map(|i| value_text(r.get_ref(i).unwrap()))
                        .collect();
                    Ok(values.join("|"))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for line in lines {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

/// The raw bytes of the database file.
pub fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read database file")
}

pub fn table_exists(conn: &Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

pub fn applied_seqs(conn: &Connection) -> Vec<u64> {
    let mut stmt = conn
        .prepare("SELECT seq FROM _migrate_applied WHERE state = 'applied' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap() as u64)
        .collect()
}

pub fn pragma(conn: &Connection, name: &str) -> i64 {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

fn value_text(value: rusqlite::types::ValueRef) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}
