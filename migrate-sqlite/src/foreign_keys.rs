//! `PRAGMA foreign_key_check`: run after each migration, must come back empty.

use crate::FkViolation;
use crate::tx::quote_ident;
use rusqlite::Connection;
use std::collections::BTreeSet;

/// Every foreign key violation in the database.
pub fn violations(conn: &Connection) -> rusqlite::Result<Vec<FkViolation>> {
    let mut stmt = conn.prepare_cached("PRAGMA foreign_key_check")?;
    let rows = stmt.query_map([], |row| {
        Ok(FkViolation {
            table: row.get(0)?,
            rowid: row.get(1)?,
            parent: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// Every foreign key violation, and the tables whose foreign keys SQLite cannot check at all
/// ("foreign key mismatch": the referenced columns are neither the parent's primary key nor
/// covered by a unique index). One such table makes the whole-database check fail, so it is then
/// checked table by table: a mismatch already there must not block the migration that fixes it.
pub fn violations_and_mismatches(
    conn: &Connection,
) -> rusqlite::Result<(Vec<FkViolation>, BTreeSet<String>)> {
    match violations(conn) {
        Ok(found) => Ok((found, BTreeSet::new())),
        Err(e) if is_mismatch(&e) => {
            let mut found = Vec::new();
            let mut mismatched = BTreeSet::new();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for table in tables {
                let sql = format!("PRAGMA main.foreign_key_check({})", quote_ident(&table));
                let rows = conn.prepare(&sql).and_then(|mut stmt| {
                    stmt.query_map([], |row| {
                        Ok(FkViolation {
                            table: row.get(0)?,
                            rowid: row.get(1)?,
                            parent: row.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                });
                match rows {
                    Ok(rows) => found.extend(rows),
                    Err(e) if is_mismatch(&e) => {
                        mismatched.insert(table);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((found, mismatched))
        }
        Err(e) => Err(e),
    }
}

fn is_mismatch(e: &rusqlite::Error) -> bool {
    e.to_string().contains("foreign key mismatch")
}

/// Whether any table's definition declares a foreign key (`REFERENCES`, any case). A false
/// positive only costs a check; a table without the word cannot hold a violation.
pub fn any_declared(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%references%')",
        [],
        |row| row.get(0),
    )
}

/// Whether any of these tables declares a foreign key. Looks each table up by name in SQLite's
/// in-memory schema (no scan of `sqlite_schema`), so it costs the same with 10 or 10,000 tables.
/// A bare `PRAGMA` rather than `pragma_foreign_key_list()`: it runs right after a schema change,
/// so it is prepared anew every time, and the pragma is the cheaper statement to prepare.
pub fn declared_in(conn: &Connection, tables: &[String]) -> rusqlite::Result<bool> {
    for table in tables {
        let sql = format!("PRAGMA main.foreign_key_list({})", quote_ident(table));
        if conn.prepare(&sql)?.query([])?.next()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The error for violations a migration introduced. When some point at a parent table that no
/// longer exists, it is the rename trap (a parent renamed, so SQLite rewrote the children's
/// references, then dropped), and the error says so and how to avoid it.
pub(crate) fn introduced(
    conn: &Connection,
    violations: Vec<FkViolation>,
    already_there: usize,
) -> rusqlite::Result<crate::Error> {
    let mut parents: Vec<String> = Vec::new();
    for v in &violations {
        if !parents.contains(&v.parent) && !conn.table_exists(Some("main"), &v.parent)? {
            parents.push(v.parent.clone());
        }
    }
    Ok(if parents.is_empty() {
        crate::Error::ForeignKeyViolations {
            violations,
            already_there,
        }
    } else {
        crate::Error::ForeignKeyParentDropped {
            violations: violations
                .into_iter()
                .filter(|v| parents.contains(&v.parent))
                .collect(),
            parents,
        }
    })
}
