//! The histories under `tests/fixtures/import/` and the Rust migrations generated from them
//! into `tests/src/imported/` (compiled into the `migrate_tests` library, one set per layout).
#![allow(dead_code)]

use migrate_sqlite::Migrator;
use migrate_sqlite::import::{Import, Imported, Layout};
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
