//! The normalized schema: what the user's migrations built, without SQLite's and the framework's
//! own objects, in a stable order, comments removed and whitespace collapsed. Its checksum is the
//! fingerprint; definitions are compared in a canonical form ([`canonical`]) so that drift
//! (someone changed the database by hand) is neither hidden by a comment nor invented by spacing.

use migrate_core::Checksum;
use rusqlite::{Connection, OptionalExtension};
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

/// The schema text as shown: comments removed (so text moved into a comment is a change, not
/// hidden), runs of whitespace outside quotes collapsed to one space.
fn normalize_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    for token in tokens(sql) {
        match token {
            Token::Space | Token::Comment => pending_space = true,
            Token::Text(text) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push_str(text);
            }
        }
    }
    out
}

/// The form two definitions are compared in: the displayed form with spaces kept only where
/// they separate two words, and unquoted words in lower case (SQLite ignores both), so
/// `t (a  INT,b int)` and `T(a INT, b INT)` compare equal while a quoted string does not
/// change.
pub(crate) fn canonical(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    for token in tokens(sql) {
        match token {
            Token::Space | Token::Comment => pending_space = true,
            Token::Text(text) => {
                let first = text.chars().next().unwrap_or(' ');
                let joins_words =
                    out.chars().next_back().is_some_and(is_word_char) && is_word_char(first);
                if pending_space && joins_words {
                    out.push(' ');
                }
                pending_space = false;
                if matches!(first, '\'' | '"' | '`' | '[') {
                    out.push_str(text);
                } else {
                    out.push_str(&text.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '\'' | '"' | '`' | '[' | ']')
}

/// A piece of SQL text: whitespace and comments (both separate tokens), or anything else.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Space,
    Comment,
    Text(&'a str),
}

/// Splits SQL into spaces (whitespace and comments) and text; a quoted string or identifier
/// is one text token, so nothing inside quotes is touched.
fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Token::Space);
        } else if bytes[i..].starts_with(b"--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            out.push(Token::Comment);
        } else if bytes[i..].starts_with(b"/*") {
            // An unterminated block comment runs to the end, as in SQLite.
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            out.push(Token::Comment);
        } else if matches!(c, b'\'' | b'"' | b'`' | b'[') {
            let close = if c == b'[' { b']' } else { c };
            i += 1;
            loop {
                match bytes.get(i) {
                    None => break,
                    // A doubled quote is an escaped quote inside the string.
                    Some(&b) if b == close && close != b']' && bytes.get(i + 1) == Some(&close) => {
                        i += 2
                    }
                    Some(&b) if b == close => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Token::Text(&sql[start..i]));
        } else {
            i += 1;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'\'' | b'"' | b'`' | b'[')
                && !bytes[i..].starts_with(b"--")
                && !bytes[i..].starts_with(b"/*")
            {
                i += 1;
            }
            out.push(Token::Text(&sql[start..i]));
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
                Some(old) if canonical(old) != canonical(sql) => diff.changed.push(label(key)),
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
        if !tokens(sql).contains(&Token::Comment) {
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

    #[test]
    fn comments_are_removed_so_they_cannot_swallow_a_column() {
        let before = "CREATE TABLE t (\n a TEXT, -- note\n b TEXT\n)";
        let after = "CREATE TABLE t (\n a TEXT, -- note b TEXT\n)";
        assert_eq!(normalize_sql(before), "CREATE TABLE t ( a TEXT, b TEXT )");
        assert_eq!(normalize_sql(after), "CREATE TABLE t ( a TEXT, )");
        assert_ne!(canonical(before), canonical(after));
        assert_eq!(
            normalize_sql("CREATE TABLE t (a /* b INT, */ TEXT)"),
            "CREATE TABLE t (a TEXT)"
        );
    }

    #[test]
    fn quoted_text_keeps_its_comment_markers_spaces_and_case() {
        let sql = "CREATE TABLE t (a TEXT DEFAULT '-- not  a /* comment', \"B  c\" INT)";
        assert_eq!(normalize_sql(sql), sql);
        assert_eq!(
            canonical(sql),
            "create table t(a text default '-- not  a /* comment',\"B  c\" int)"
        );
        assert_eq!(
            canonical("SELECT 'it''s -- here'"),
            "select 'it''s -- here'"
        );
    }

    #[test]
    fn spacing_and_keyword_case_do_not_differ_canonically() {
        assert_eq!(
            canonical("CREATE TABLE t ( a  INT ,b int )"),
            canonical("create table T(a INT, b INT)")
        );
        assert_ne!(
            canonical("CREATE TABLE t (a INT)"),
            canonical("CREATE TABLE t (ab INT)")
        );
        assert_ne!(canonical("CHECK (x > 0)"), canonical("CHECK (x >= 0)"));
    }
}
