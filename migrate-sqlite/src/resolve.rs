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
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = resolve_in_transaction(conn, set, config, seq, resolution);
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => conn.execute_batch("ROLLBACK")?,
    }
    result
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
