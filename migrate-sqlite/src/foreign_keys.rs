//! `PRAGMA foreign_key_check`: run after each migration, must come back empty.

use crate::FkViolation;
use rusqlite::Connection;

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
