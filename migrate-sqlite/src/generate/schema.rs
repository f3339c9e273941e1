//! The two schemas `migrate new --from-schema` compares: the one the set's migrations build
//! (applied to an in-memory database) and the desired one (a schema file run into another),
//! and the canonical form both are compared in.

use crate::{Error, Migrator, Result};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;

/// One schema object as stored by SQLite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    /// Its name as spelled in the schema.
    pub name: String,
    /// The table it belongs to (itself for a table).
    pub table: String,
    /// Its `CREATE` statement as stored.
    pub sql: String,
}

/// Objects by (kind, lowercase name).
pub type Objects = BTreeMap<(String, String), Object>;

/// The user's objects of a database (not SQLite's, not the framework's, not automatic indexes,
/// not the shadow tables a virtual table creates and drops itself).
pub fn objects(conn: &Connection) -> Result<Objects> {
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_schema
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
           AND name NOT LIKE '\\_migrate\\_%' ESCAPE '\\'
           AND name NOT IN (SELECT name FROM pragma_table_list
                            WHERE schema = 'main' AND type = 'shadow')",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Object {
            kind: r.get(0)?,
            name: r.get(1)?,
            table: r.get(2)?,
            sql: r.get(3)?,
        })
    })?;
    let mut found = Objects::new();
    for object in rows {
        let object = object?;
        found.insert((object.kind.clone(), object.name.to_lowercase()), object);
    }
    Ok(found)
}

/// An in-memory database with every migration of the migrator's set applied.
pub fn migrated(migrator: &Migrator) -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    migrator.clone().without_backups().on(&mut conn)?.up()?;
    Ok(conn)
}

/// An in-memory database holding the schema in `file`. Statements may come in any order
/// (a schema snapshot lists indexes before tables): each pass runs what it can until all ran.
pub fn desired(file: &Path) -> Result<Connection> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        doing: "cannot read the desired schema".into(),
        path: file.to_owned(),
        error: source,
    })?;
    let conn = Connection::open_in_memory()?;
    // SQLite creates its own tables itself (AUTOINCREMENT, ANALYZE), and refuses to create them
    // by name; the `sqlite3` shell's `.schema` lists them all the same.
    let mut waiting: Vec<String> = statements(&text)
        .into_iter()
        .filter(|statement| !creates_sqlite_table(statement))
        .collect();
    while !waiting.is_empty() {
        let before = waiting.len();
        let mut failed = Vec::new();
        let mut last_error = None;
        for statement in waiting {
            if let Err(e) = conn.execute_batch(&statement) {
                last_error = Some(format!("{statement}: {e}"));
                failed.push(statement);
            }
        }
        if failed.len() == before {
            return Err(Error::Unsupported(format!(
                "the desired schema {} does not run in SQLite ({}); nothing was written. Fix \
                 the file and run `migrate new` again",
                file.display(),
                last_error.unwrap_or_default()
            )));
        }
        waiting = failed;
    }
    Ok(conn)
}

/// Whether the statement creates one of SQLite's own tables (`sqlite_sequence`,
/// `sqlite_stat1`, ...).
fn creates_sqlite_table(statement: &str) -> bool {
    let text = canonical(statement);
    text.strip_prefix("create table ")
        .map(|rest| rest.strip_prefix("if not exists ").unwrap_or(rest))
        .is_some_and(|name| name.trim_start_matches('\'').starts_with("sqlite_"))
}

/// The file's statements, split where SQLite considers a statement complete (so a trigger's
/// `BEGIN ... ; END` stays whole).
pub fn statements(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        current.push_str(line);
        if is_complete(&current) {
            let statement = current.trim().to_owned();
            if !statement.trim_end_matches(';').trim().is_empty() {
                found.push(statement);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        found.push(current.trim().to_owned());
    }
    found
}

/// `sqlite3_complete`: true when the text ends with a complete SQL statement.
fn is_complete(sql: &str) -> bool {
    match std::ffi::CString::new(sql) {
        // SAFETY: a valid NUL-terminated string, only read by SQLite for the call's duration.
        Ok(text) => unsafe { rusqlite::ffi::sqlite3_complete(text.as_ptr()) != 0 },
        Err(_) => false,
    }
}

/// The canonical form of a `CREATE` statement: keywords and names lowercased, identifier
/// quotes removed, whitespace collapsed and dropped around punctuation; string literals kept
/// as they are. Two statements that differ only in formatting (or in the quoting SQLite adds
/// when it renames or alters a table) have the same canonical form.
pub fn canonical(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut space = false;
    let push_space = |out: &mut String, space: &mut bool| {
        if *space && !out.is_empty() && !out.ends_with(['(', ',']) {
            out.push(' ');
        }
        *space = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                push_space(&mut out, &mut space);
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push(chars.next().unwrap_or('\''));
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' | '`' | '[' => {
                push_space(&mut out, &mut space);
                let close = if c == '[' { ']' } else { c };
                for d in chars.by_ref() {
                    if d == close {
                        break;
                    }
                    out.extend(d.to_lowercase());
                }
            }
            c if c.is_whitespace() => space = true,
            '(' | ')' | ',' | ';' => {
                space = false;
                while out.ends_with(' ') {
                    out.pop();
                }
                if c != ';' {
                    out.push(c);
                }
            }
            c => {
                push_space(&mut out, &mut space);
                out.extend(c.to_lowercase());
            }
        }
    }
    out.trim().to_owned()
}

/// The schema of a database in canonical form: (kind, lowercase name) -> canonical SQL.
pub fn canonical_objects(conn: &Connection) -> Result<BTreeMap<(String, String), String>> {
    Ok(objects(conn)?
        .into_iter()
        .map(|(key, object)| (key, canonical(&object.sql)))
        .collect())
}

/// The column definitions of a `CREATE TABLE` statement, as written, by lowercase name
/// (table constraints are left out).
pub fn column_definitions(create_table: &str) -> Vec<(String, String)> {
    let Some(open) = create_table.find('(') else {
        return Vec::new();
    };
    let body = &create_table[open + 1..];
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in body.chars() {
        if let Some(q) = quote {
            current.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                current.push(c);
            }
            '[' => {
                quote = Some(']');
                current.push(c);
            }
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' if depth == 0 => {
                pieces.push(std::mem::take(&mut current));
                break;
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => pieces.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    const CONSTRAINTS: [&str; 5] = ["constraint", "primary", "unique", "check", "foreign"];
    pieces
        .into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let first = p.split_whitespace().next()?.to_owned();
            let keyword = first.to_lowercase();
            if CONSTRAINTS.contains(&keyword.as_str()) {
                return None;
            }
            let name = first
                .trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'))
                .to_lowercase();
            Some((name, p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_as_the_sqlite3_shell_prints_it_is_read() {
        // `sqlite3 app.db .schema` lists SQLite's own tables (AUTOINCREMENT's sqlite_sequence,
        // ANALYZE's sqlite_stat1), which cannot be created by name, and a full-text table's
        // shadow tables after it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("schema.sql");
        std::fs::write(
            &file,
            "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, x);
CREATE TABLE sqlite_sequence(name,seq);
CREATE INDEX ti ON t(x);
CREATE TABLE sqlite_stat1(tbl,idx,stat);
CREATE VIRTUAL TABLE f USING fts5(b)
/* f(b) */;
CREATE TABLE IF NOT EXISTS 'f_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE IF NOT EXISTS 'f_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS 'f_content'(id INTEGER PRIMARY KEY, c0);
CREATE TABLE IF NOT EXISTS 'f_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE IF NOT EXISTS 'f_config'(k PRIMARY KEY, v) WITHOUT ROWID;
",
        )
        .unwrap();
        let conn = desired(&file).unwrap();
        let names: Vec<(String, String)> = objects(&conn).unwrap().into_keys().collect();
        assert_eq!(
            names,
            [
                ("index".to_owned(), "ti".to_owned()),
                ("table".to_owned(), "f".to_owned()),
                ("table".to_owned(), "t".to_owned()),
            ]
        );
    }
}
