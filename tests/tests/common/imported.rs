//! The histories under `tests/fixtures/import/` and the Rust migrations generated from them
//! into `tests/src/imported/` (compiled into the `migrate_tests` library, one set per layout).
#![allow(dead_code)]

use migrate_sqlite::import::{Import, Imported, Layout};
use migrate_sqlite::{Migrator, Tool};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Every layout with a fixture, and the set its generated migrations register in.
pub const LAYOUTS: [(Layout, &str); 4] = [
    (Layout::Diesel, "imported_diesel"),
    (Layout::Sqlx, "imported_sqlx"),
    (Layout::Refinery, "imported_refinery"),
    (Layout::Plain, "imported_plain"),
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream folder of `layout`.
pub fn source(layout: Layout) -> PathBuf {
    crate_dir().join("fixtures/import").join(layout.name())
}

/// Where the committed generated files of `layout` are.
pub fn generated_dir(layout: Layout) -> PathBuf {
    crate_dir().join("src/imported").join(layout.name())
}

/// What `migrate import --set SET` generates today for the fixture of `layout` (detected).
pub fn import(layout: Layout, set: &str) -> Imported {
    Import::new(source(layout), generated_dir(layout))
        .set(set)
        .generate()
        .expect("the fixture imports")
}

/// The migrator of the generated migrations of `set`, with the fixtures linked in.
pub fn migrator(set: &str) -> Migrator {
    use migrate_tests as _;
    Migrator::new().set(set)
}

/// The SQL files of `layout`'s first `count` migrations, run in order on `conn` with plain
/// rusqlite, each in its own transaction, as the upstream tool runs them.
pub fn apply_upstream(conn: &Connection, layout: Layout, count: usize) {
    let imported = import(layout, "unused");
    for m in imported.migrations.iter().take(count) {
        let sql = std::fs::read_to_string(&m.up).unwrap();
        conn.execute_batch(&format!("BEGIN; {sql}\n; COMMIT;"))
            .unwrap_or_else(|e| panic!("{}: {e}", m.up.display()));
    }
}

/// The schema as the `sqlite3` shell's `.schema` sees it, minus the named tables.
pub fn raw_schema(conn: &Connection, without: &[&str]) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL
               AND name NOT LIKE '\\_migrate\\_%' ESCAPE '\\' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, name, _): &(String, String, String)| !without.contains(&name.as_str()))
        .collect()
}

/// The tracking table each tool creates in SQLite, as its source defines it (diesel_migrations,
/// sqlx-sqlite's `ensure_migrations_table`, refinery's `ASSERT_MIGRATIONS_TABLE_QUERY`).
pub fn tracking_table(tool: Tool) -> Option<&'static str> {
    match tool {
        Tool::Diesel => Some(
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
                 version VARCHAR(50) PRIMARY KEY NOT NULL,
                 run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
             );",
        ),
        Tool::Sqlx => Some(
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                 success BOOLEAN NOT NULL,
                 checksum BLOB NOT NULL,
                 execution_time BIGINT NOT NULL
             );",
        ),
        Tool::Refinery => Some(
            "CREATE TABLE IF NOT EXISTS refinery_schema_history(
                 version INT4 PRIMARY KEY,
                 name VARCHAR(255),
                 applied_on VARCHAR(255),
                 checksum VARCHAR(255));",
        ),
        Tool::RusqliteMigration => None,
    }
}

/// The fixture layout each tool's history is imported from.
pub fn layout_of(tool: Tool) -> (Layout, &'static str) {
    match tool {
        Tool::Diesel => LAYOUTS[0],
        Tool::Sqlx => LAYOUTS[1],
        Tool::Refinery => LAYOUTS[2],
        Tool::RusqliteMigration => LAYOUTS[3],
    }
}

/// A database file migrated by `tool` with the first `count` migrations of its fixture: each
/// migration's SQL and the tool's tracking write in one transaction, as the tool does it.
pub fn migrated_by(path: &Path, tool: Tool, count: usize) {
    let (layout, _) = layout_of(tool);
    let conn = Connection::open(path).unwrap();
    if let Some(table) = tracking_table(tool) {
        conn.execute_batch(table).unwrap();
    }
    let imported = import(layout, "unused");
    for (i, m) in imported.migrations.iter().take(count).enumerate() {
        let sql = std::fs::read_to_string(&m.up).unwrap();
        conn.execute_batch(&format!("BEGIN; {sql}\n;")).unwrap();
        record_as(&conn, tool, &m.version, &m.upstream_name, i + 1);
        conn.execute_batch("COMMIT").unwrap();
    }
}

/// The tracking write of `tool` for one migration.
pub fn record_as(conn: &Connection, tool: Tool, version: &str, name: &str, position: usize) {
    match tool {
        Tool::Diesel => conn
            .execute(
                "INSERT INTO __diesel_schema_migrations (version) VALUES (?1)",
                [version],
            )
            .map(drop),
        // sqlx: description is the name with `_` as spaces; checksum is the SHA-384 of the SQL
        // (48 bytes; not read by the adopter, so a fixed value here); inserted with
        // execution_time -1, then updated.
        Tool::Sqlx => conn
            .execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum,
                     execution_time)
                 VALUES (?1, ?2, TRUE, zeroblob(48), -1)",
                rusqlite::params![version.parse::<i64>().unwrap(), name.replace('_', " ")],
            )
            .and_then(|_| {
                conn.execute(
                    "UPDATE _sqlx_migrations SET execution_time = 1200 WHERE version = ?1",
                    [version.parse::<i64>().unwrap()],
                )
            })
            .map(drop),
        // refinery: applied_on is an RFC 3339 time, checksum a u64 as text.
        Tool::Refinery => conn
            .execute(
                "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
                 VALUES (?1, ?2, '2024-05-01T10:00:00.000000000+00:00', '9021568745123650124')",
                rusqlite::params![version.parse::<i64>().unwrap(), name],
            )
            .map(drop),
        Tool::RusqliteMigration => conn.pragma_update(None, "user_version", position as i64),
    }
    .unwrap();
}
