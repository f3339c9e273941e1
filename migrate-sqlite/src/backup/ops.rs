//! The backup operations a session offers: back up now, snapshot, restore. Each takes the
//! migration lock, so none runs while a migration does.

use super::{BackupInfo, BackupKind, RestoreFrom, RestoreOptions, RestoreReport};
use crate::lock::FileLock;
use crate::tracking::{self, HistoryEvent};
use crate::{Error, Migrator, Result};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;

/// A backup of `kind`, consistent: taken under the lock and `BEGIN IMMEDIATE`.
pub fn back_up(
    conn: &Connection,
    db: &Path,
    config: &Migrator,
    kind: BackupKind,
) -> Result<BackupInfo> {
    back_up_seen(conn, db, config, kind).map(|(info, _)| info)
}

/// [`back_up`], and `PRAGMA data_version` of `conn` read while it held writers off: the same
/// value on this connection later means no other connection committed since the backup (its
/// own commits never change it).
pub fn back_up_seen(
    conn: &Connection,
    db: &Path,
    config: &Migrator,
    kind: BackupKind,
) -> Result<(BackupInfo, i64)> {
    if let BackupKind::Snapshot { name } = &kind {
        super::validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
    }
    // A backup asked for by hand is a manual one, whichever way it was asked for
    // (`Session::backup` still names it an automatic backup with reason "manual").
    let kind = match kind {
        BackupKind::Automatic { reason } if reason == "manual" => BackupKind::Manual,
        kind => kind,
    };
    let _lock = FileLock::acquire(db, config.busy_timeout)?;
    let (info, seen) = holding_writers_off(conn, db, config, |conn| {
        let info = super::take(conn, db, &config.backups, kind)?;
        Ok((info, data_version(conn)?))
    })?;
    super::prune(db, &config.backups, &[&info.path]);
    Ok((info, seen))
}

/// `PRAGMA data_version`: changes on this connection when another connection commits.
pub(crate) fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// Restores `from` into the live database. The undo backup of the current state and the
/// restore are one write transaction (see `restore.rs`): no commit by anyone is lost. A source
/// that is the live file, damaged, or (unless `options` allow it) not a backup of this
/// database is refused before anything is touched.
pub fn restore(
    conn: &Connection,
    db: &Path,
    config: &Migrator,
    from: &RestoreFrom,
    options: RestoreOptions,
) -> Result<RestoreReport> {
    let source = super::locate(db, &config.backups, from)?;
    super::source::check(
        &source,
        db,
        &config.backups,
        &config.set,
        options.allow_foreign_source,
    )?;
    let _lock = FileLock::acquire(db, config.busy_timeout)?;
    let undo = super::restore_over(
        conn,
        db,
        &source,
        &config.backups,
        BackupKind::Automatic {
            reason: "pre-restore".into(),
        },
        config.busy_timeout,
    )
    .map_err(|e| match super::damage(db, config.busy_timeout) {
        // Why the undo backup (or the restore) failed: say so, and how to go on.
        Some(detail) => Error::LiveDatabaseDamaged {
            path: db.to_owned(),
            detail,
            backup: source.clone(),
        },
        None => e,
    })?;
    record_restore(conn, &source, &undo, config);
    super::prune(db, &config.backups, &[&undo.path, &source]);
    Ok(RestoreReport {
        restored_from: source,
        undo_backup: undo,
    })
}

/// Runs `f` while this connection holds `BEGIN IMMEDIATE` (no writer can change the database),
/// then ends the transaction whatever happened.
fn holding_writers_off<T>(
    conn: &Connection,
    db: &Path,
    config: &Migrator,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(
            "the connection is inside a transaction; back up or restore before opening one".into(),
        ));
    }
    let _timeout = crate::pragmas::BusyTimeout::set(conn, config.busy_timeout)?;
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            return Err(Error::Locked {
                path: db.display().to_string(),
                waited_ms: config.busy_timeout.as_millis() as u64,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let result = f(conn);
    if let Err(e) = conn.execute_batch("ROLLBACK") {
        log::error!("ROLLBACK after a backup failed: {e}");
    }
    result
}

/// A history row in the restored database saying what happened (best effort: the restore
/// itself succeeded either way).
fn record_restore(conn: &Connection, source: &Path, undo: &BackupInfo, config: &Migrator) {
    let event = HistoryEvent {
        set: config.set.clone(),
        action: "restore".into(),
        outcome: "ok".into(),
        detail: Some(format!(
            "restored from {}; the state before the restore is in {}",
            source.display(),
            undo.path.display()
        )),
        backup_path: Some(undo.path.display().to_string()),
        ..HistoryEvent::default()
    };
    let written = conn
        .execute_batch("BEGIN IMMEDIATE")
        .and_then(|()| tracking::ensure_tables(conn))
        .and_then(|()| tracking::append_history(conn, &event, &config.applied_by()))
        .and_then(|()| conn.execute_batch("COMMIT"));
    if let Err(e) = written {
        log::warn!("restore done, but it could not be written to the history: {e}");
        let _ = conn.execute_batch("ROLLBACK");
    }
}
