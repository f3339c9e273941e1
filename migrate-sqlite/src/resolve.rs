//! Resolving a non-transactional migration that started and never finished, once an operator
//! has looked at the database: record it as applied, or forget it so it runs again.

use crate::lock::FileLock;
use crate::tracking;
use crate::{Error, Migrator, Result};
use migrate_core::protocol;
use rusqlite::Connection;
use std::path::Path;

pub use migrate_core::Resolution;

/// Resolves the started row of `seq` under the migration lock.
pub fn resolve(
    conn: &Connection,
    path: Option<&Path>,
    set: &str,
    config: &Migrator,
    seq: u64,
    resolution: Resolution,
) -> Result<()> {
    let _lock = path
        .map(|p| FileLock::acquire(p, config.busy_timeout))
        .transpose()?;
    let label = path.map_or(":memory:".to_owned(), |p| p.display().to_string());
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(format!(
            "the connection to {label} is inside a transaction; resolve before opening one"
        )));
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| busy(e, &label, config))?;
    let result = resolve_in_transaction(conn, set, config, seq, resolution).and_then(|()| {
        conn.execute_batch("COMMIT")
            .map_err(|e| busy(e, &label, config))
    });
    if result.is_err() && !conn.is_autocommit() {
        // Nothing was resolved; never leave the write lock held.
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            log::error!("ROLLBACK after a failed resolve failed: {e}");
        }
    }
    result
}

fn busy(e: rusqlite::Error, label: &str, config: &Migrator) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        Error::Locked {
            path: label.to_owned(),
            waited_ms: config.busy_timeout.as_millis() as u64,
        }
    } else {
        Error::Sql(e)
    }
}

fn resolve_in_transaction(
    conn: &Connection,
    set: &str,
    config: &Migrator,
    seq: u64,
    resolution: Resolution,
) -> Result<()> {
    let rows = tracking::read_plan_rows(conn, set)?;
    let row = protocol::resolvable(&rows, set, seq)?;
    match resolution {
        Resolution::Applied => conn.execute(
            "UPDATE _migrate_applied SET state = 'applied' WHERE set_name = ?1 AND seq = ?2",
            rusqlite::params![set, seq as i64],
        )?,
        Resolution::NotApplied => {
            tracking::delete_row(conn, set, seq)?;
            0
        }
    };
    tracking::append_history(
        conn,
        &protocol::resolution_event(set, row, resolution),
        &config.applied_by(),
    )?;
    Ok(())
}
