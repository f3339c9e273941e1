//! Whether two backups hold the same state of the database, so that the older one can go.
//!
//! Not a heuristic: every row of every table is compared, in a fixed order, value by value
//! (floats by their bits), with the schema's SQL text, `user_version` and `application_id`.
//! The one exception is the run log (`_migrate_history` and `_migrate_row_counts`), which a
//! failed start appends to without changing anything else: there the older backup's rows must
//! be the first rows of the newer one's, so the newer backup holds the older one's log whole.
//! Page layout, free pages and the file change counter are not state and are not compared.
//! Anything that cannot be read or compared counts as "different": both files are kept.

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Row};
use std::path::Path;

/// Tables that a run only appends to; a newer backup may hold more of their rows.
const RUN_LOG: [&str; 2] = ["_migrate_history", "_migrate_row_counts"];

/// True when `newer` holds everything `older` holds: the same schema, the same rows in every
/// table, and the run log of `older` as the beginning of its own. Errors mean "not the same".
pub fn same_state(older: &Path, newer: &Path) -> bool {
    match compare(older, newer) {
        Ok(same) => same,
        Err(e) => {
            log::info!(
                "cannot compare the backups {} and {} ({e}): both are kept",
                older.display(),
                newer.display()
            );
            false
        }
    }
}

fn compare(older: &Path, newer: &Path) -> rusqlite::Result<bool> {
    let old = open(older)?;
    let new = open(newer)?;
    for pragma in ["user_version", "application_id"] {
        let sql = format!("PRAGMA {pragma}");
        let get = |c: &Connection| c.query_row(&sql, [], |r| r.get::<_, i64>(0));
        if get(&old)? != get(&new)? {
            return Ok(false);
        }
    }
    // Root pages are layout: left out.
    let schema = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name";
    if !rows_equal(&old, &new, schema, false)? {
        return Ok(false);
    }
    for table in plain_tables(&new)? {
        let sql = select_all(&new, &table)?;
        let prefix = RUN_LOG.iter().any(|t| t.eq_ignore_ascii_case(&table));
        if !rows_equal(&old, &new, &sql, prefix)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Ordinary tables (virtual tables are compared through their shadow tables, which are
/// ordinary tables; selecting from a virtual table would need its module).
fn plain_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND upper(substr(ltrim(sql), 1, 20)) NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Every row of `table` in a fixed order: by rowid (included, as it is state) when the table
/// has one, else by every column (a WITHOUT ROWID table's rows are unique by its key).
fn select_all(conn: &Connection, table: &str) -> rusqlite::Result<String> {
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    let with_rowid = format!("SELECT _rowid_, * FROM {quoted} ORDER BY _rowid_");
    if conn.prepare(&with_rowid).is_ok() {
        return Ok(with_rowid);
    }
    let columns: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info(?1)", [table], |r| {
            r.get(0)
        })?;
    let order: Vec<String> = (1..=columns.max(1)).map(|i| i.to_string()).collect();
    Ok(format!(
        "SELECT * FROM {quoted} ORDER BY {}",
        order.join(", ")
    ))
}

/// Whether `sql` gives the same rows on both connections; with `prefix`, whether the old rows
/// are the first rows of the new ones.
fn rows_equal(
    old: &Connection,
    new: &Connection,
    sql: &str,
    prefix: bool,
) -> rusqlite::Result<bool> {
    let mut old_stmt = old.prepare(sql)?;
    let mut new_stmt = new.prepare(sql)?;
    if old_stmt.column_count() != new_stmt.column_count() {
        return Ok(false);
    }
    let width = old_stmt.column_count();
    let mut old_rows = old_stmt.query([])?;
    let mut new_rows = new_stmt.query([])?;
    loop {
        match (old_rows.next()?, new_rows.next()?) {
            (None, None) => return Ok(true),
            (None, Some(_)) => return Ok(prefix),
            (Some(_), None) => return Ok(false),
            (Some(a), Some(b)) => {
                if !same_row(a, b, width)? {
                    return Ok(false);
                }
            }
        }
    }
}

fn same_row(a: &Row<'_>, b: &Row<'_>, width: usize) -> rusqlite::Result<bool> {
    for i in 0..width {
        let (x, y): (Value, Value) = (a.get(i)?, b.get(i)?);
        let same = match (&x, &y) {
            (Value::Real(p), Value::Real(q)) => p.to_bits() == q.to_bits(),
            _ => x == y,
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}
