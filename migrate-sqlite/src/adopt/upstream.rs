//! What the other tool recorded: its tracking table (or rusqlite_migration's `user_version`),
//! read as each tool writes it.
//!
//! - diesel: `__diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on
//!   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`; `version` is the digits of the folder
//!   name before its first `_`.
//! - sqlx: `_sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
//!   installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
//!   checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)`; a row with `success = false` is a
//!   migration that failed half-way.
//! - refinery: `refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255),
//!   applied_on VARCHAR(255), checksum VARCHAR(255))`.
//! - rusqlite_migration: no table; `PRAGMA user_version` is the number of migrations applied.

use super::{Refusal, Tool};
use crate::Result;
use rusqlite::Connection;

/// What the tool recorded as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Versions (normalized: what `migrate import` puts before the first `_` of a name), with a
    /// line of detail each (when, under which name).
    Versions(Vec<(String, String)>),
    /// rusqlite_migration: how many, in order.
    Count(u64),
}

/// Reads what `tool` recorded; a missing table or an unfinished migration is a refusal.
pub fn read(conn: &Connection, tool: Tool) -> Result<Result<Recorded, Refusal>> {
    if let Tool::RusqliteMigration = tool {
        let n: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        return Ok(if n > 0 {
            Ok(Recorded::Count(n as u64))
        } else {
            Err(Refusal::new(format!(
                "user_version is {n}: rusqlite_migration has applied nothing here (or the app \
                 sets user_version itself). An empty database needs no adoption: run `migrate up`"
            )))
        });
    }
    let table = tool.table().unwrap_or_default();
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Err(Refusal::new(format!(
            "there is no {table} table, so {tool} has not migrated this database (or it used \
             another table name). Check `--from`, or run `migrate up` on a new database"
        ))));
    }
    let rows: Vec<(String, String, bool)> = match tool {
        Tool::Diesel => query(
            conn,
            "SELECT version, 'run on ' || run_on, 1 FROM __diesel_schema_migrations",
        )?,
        Tool::Sqlx => query(
            conn,
            "SELECT CAST(version AS TEXT), description || ', installed on ' || installed_on,
                    success FROM _sqlx_migrations",
        )?,
        Tool::Refinery => query(
            conn,
            "SELECT CAST(version AS TEXT), name || ', applied on ' || applied_on, 1
             FROM refinery_schema_history",
        )?,
        Tool::RusqliteMigration => unreachable!("handled above"),
    };
    if let Some((version, detail, _)) = rows.iter().find(|(_, _, ok)| !ok) {
        return Ok(Err(Refusal::new(format!(
            "{table} records version {version} ({detail}) as failed (success = false): it may \
             have stopped half-way. Repair the database and the row with {tool} first"
        ))));
    }
    if rows.is_empty() {
        return Ok(Err(Refusal::new(format!(
            "{table} is empty: {tool} has applied nothing here. An empty database needs no \
             adoption: run `migrate up`"
        ))));
    }
    let mut versions: Vec<(String, String)> = rows
        .into_iter()
        .map(|(v, detail, _)| (normalize(tool, &v), detail))
        .collect();
    versions.sort();
    Ok(Ok(Recorded::Versions(versions)))
}

fn query(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, String, bool)>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            r.get::<_, i64>(2)? != 0,
        ))
    })?;
    rows.collect()
}

/// The version as `migrate import` writes it into a name: diesel's digits as they are (diesel
/// compares them as text); sqlx's and refinery's numbers without leading zeros.
pub fn normalize(tool: Tool, version: &str) -> String {
    match tool {
        Tool::Diesel => version.replace('-', ""),
        _ => {
            let trimmed = version.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
        }
    }
}
