//! Resolving a non-transactional migration that started and never finished, once an operator
//! has looked at the database: record it as applied, or forget it so it runs again.

use crate::lock::FileLock;
use crate::tracking::{self, HistoryEvent};
use crate::{Error, Migrator, Result};
use migrate_core::RowState;
use rusqlite::Connection;
use std::path::Path;

/// What the operator found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Its work is complete: record it as applied.
    Applied,
    /// Its work was undone (or never happened): forget it, so the next `up` runs it again.
    NotApplied,
}

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
    let rows = tracking::read_rows(conn, set)?;
    let Some(row) = rows.iter().find(|r| r.row.seq == seq) else {
        return Err(Error::Unsupported(format!(
            "set {set:?} has no recorded migration {seq}; nothing was changed"
        )));
    };
    if row.row.state != RowState::Started {
        return Err(Error::Unsupported(format!(
            "migration {seq} {:?} is not started-and-unfinished (it is applied); only such a \
             migration can be resolved. Nothing was changed",
            row.row.name
        )));
    }
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
    let outcome = match resolution {
        Resolution::Applied => "marked applied",
        Resolution::NotApplied => "marked not applied",
    };
    log::warn!(
        "migration {seq} {:?} resolved by an operator: {outcome}",
        row.row.name
    );
    tracking::append_history(
        conn,
        &HistoryEvent {
            set: set.to_owned(),
            seq: Some(seq),
            name: Some(row.row.name.clone()),
            action: "resolve".into(),
            outcome: outcome.into(),
            ..HistoryEvent::default()
        },
        &config.applied_by(),
    )?;
    Ok(())
}
