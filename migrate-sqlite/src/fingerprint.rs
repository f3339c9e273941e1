//! The normalized schema: what the user's migrations built, without SQLite's and the framework's
//! own objects, in a stable order, with whitespace collapsed. Its checksum is the fingerprint that
//! detects drift (someone changed the database by hand).

use migrate_core::Checksum;
use rusqlite::Connection;
use std::collections::BTreeMap;

/// One schema object: (type, name) -> normalized SQL.
pub type SchemaObjects = BTreeMap<(String, String), String>;

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

/// Collapses runs of whitespace outside quotes to one space.
fn normalize_sql(sql: &str) -> String {
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

/// What differs between a recorded schema and the live one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// Objects in the live schema only, as `type name`.
    pub added: Vec<String>,
    /// Objects in the recorded schema only.
    pub removed: Vec<String>,
    /// Objects whose definition changed.
    pub changed: Vec<String>,
}

impl SchemaDiff {
    /// Compares two object sets.
    pub fn between(recorded: &SchemaObjects, live: &SchemaObjects) -> SchemaDiff {
        let label = |(kind, name): &(String, String)| format!("{kind} {name}");
        let mut diff = SchemaDiff::default();
        for (key, sql) in live {
            match recorded.get(key) {
                None => diff.added.push(label(key)),
                Some(old) if old != sql => diff.changed.push(label(key)),
                Some(_) => {}
            }
        }
        for key in recorded.keys() {
            if !live.contains_key(key) {
                diff.removed.push(label(key));
            }
        }
        diff
    }

    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl std::fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, list) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what}: {}", list.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
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
pub fn stored(conn: &Connection) -> rusqlite::Result<SchemaObjects> {
    let mut stmt = conn.prepare("SELECT type, name, sql FROM _migrate_schema")?;
    let rows = stmt.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_outside_quotes_collapses() {
        assert_eq!(
            normalize_sql("CREATE  TABLE\n t (a TEXT DEFAULT 'x  y')"),
            "CREATE TABLE t (a TEXT DEFAULT 'x  y')"
        );
    }
}
