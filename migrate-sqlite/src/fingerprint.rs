//! The normalized schema: what the user's migrations built, without SQLite's and the framework's
//! own objects, in a stable order, comments removed and whitespace collapsed. Its checksum is the
//! fingerprint; definitions are compared in a canonical form (`migrate_core::sql_text::canonical`) so that drift
//! (someone changed the database by hand) is neither hidden by a comment nor invented by spacing.

use migrate_core::Checksum;
pub use migrate_core::SchemaDiff;
pub use migrate_core::SchemaObjects;
pub(crate) use migrate_core::sql_text::canonical;
use migrate_core::sql_text::{has_comment, normalize_sql};
use rusqlite::{Connection, OptionalExtension};

/// The user's schema objects (tables, indexes, views, triggers).
pub fn objects(conn: &Connection) -> rusqlite::Result<SchemaObjects> {
    let mut stmt = conn.prepare_cached(
        "SELECT type, name, sql FROM sqlite_schema
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
           AND name NOT LIKE '\\_migrate\\_%' ESCAPE '\\'",
    )?;
    let rows = stmt.query_map([], |row| {
        let sql: String = row.get(2)?;
        Ok(((row.get(0)?, row.get(1)?), normalize_sql(&sql)))
    })?;
    rows.collect()
}

/// The objects as one text, one per line, sorted: the form that goes into a repository.
pub fn dump(objects: &SchemaObjects) -> String {
    objects.values().fold(String::new(), |mut out, sql| {
        out.push_str(sql);
        out.push_str(";\n");
        out
    })
}

/// Checksum of the dump.
pub fn fingerprint(objects: &SchemaObjects) -> String {
    Checksum::of_text(&dump(objects)).to_string()
}

/// Replaces the stored schema snapshot with `objects` (inside the caller's transaction).
pub fn store(conn: &Connection, objects: &SchemaObjects) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM _migrate_schema", [])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO _migrate_schema (type, name, sql) VALUES (?1, ?2, ?3)")?;
    for ((kind, name), sql) in objects {
        insert.execute([kind, name, sql])?;
    }
    Ok(())
}

/// The stored schema snapshot (empty when none).
///
/// Versions before comments were removed stored definitions with their comments and newlines
/// collapsed, so a `--` comment runs to the end of the stored text. Such a definition is
/// compared the way it was written: when the live definition, normalized the old way, is
/// exactly the stored text, nothing changed, and the live definition stands in for it.
pub fn stored(conn: &Connection) -> rusqlite::Result<SchemaObjects> {
    let mut stmt = conn.prepare("SELECT type, name, sql FROM _migrate_schema")?;
    let rows = stmt.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
    let mut objects = rows.collect::<rusqlite::Result<SchemaObjects>>()?;
    for ((kind, name), sql) in objects.iter_mut() {
        if !has_comment(sql) {
            continue;
        }
        let live: Option<String> = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = ?1 AND name = ?2",
                [kind.as_str(), name.as_str()],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        if let Some(live) = live.filter(|live| legacy_normalize(live) == *sql) {
            *sql = normalize_sql(&live);
        }
    }
    Ok(objects)
}

/// The normalization of earlier versions: whitespace outside quotes collapsed, comments kept.
fn legacy_normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                if matches!(c, '\'' | '"' | '`' | '[') {
                    quote = Some(if c == '[' { ']' } else { c });
                }
                out.push(c);
            }
        }
    }
    out
}
