//! Restoring a backup into the live database with no window for lost commits: the safety copy
//! of the current state (undo or failed-state backup) and the restore happen in ONE write
//! transaction of the live connection. The copy is taken from a second connection while the
//! live one holds `BEGIN IMMEDIATE`; then, still in that transaction, the content is replaced
//! from the attached backup (see `replace.rs` for why not the backup API). Every row anyone
//! committed is either in the safety copy or committed after the restore. Only a backup that
//! passes `quick_check`, only by the migration lock holder; never by replacing the file under
//! open connections (with a `-wal` file present that gave "database disk image is malformed").

use super::naming::BackupKind;
use super::replace::{self, SOURCE};
use super::{BackupInfo, BackupSettings, Progress};
use crate::pragmas::{BusyTimeout, PragmaGuard};
use crate::{Error, Result};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::Duration;

/// Replaces the database at `db` (open as `conn`, in autocommit mode, the caller holding the
/// migration lock) with the backup at `source`, after a safety copy of its current state of
/// kind `safety`, which it returns. If the safety copy cannot be written, nothing is restored.
/// The caller has checked `source` (`verify`, and what it may be).
pub fn restore_over(
    conn: &Connection,
    db: &Path,
    source: &Path,
    settings: &BackupSettings,
    safety: BackupKind,
    timeout: Duration,
) -> Result<BackupInfo> {
    if !conn.is_autocommit() {
        return Err(Error::Unsupported(
            "the connection is inside a transaction; restore before opening one".into(),
        ));
    }
    let label = db.display().to_string();
    let failed = |doing: &str| {
        let (doing, path) = (doing.to_owned(), label.clone());
        move |source| Error::Runner {
            doing,
            path,
            error: source,
        }
    };
    // In autocommit mode: inside the transaction the pragma would be ignored, and dropping a
    // parent table would check or cascade.
    let _foreign_keys =
        PragmaGuard::foreign_keys_off(conn).map_err(failed("switching foreign keys off"))?;
    let _timeout = BusyTimeout::set(conn, timeout)?;
    attach(conn, source).map_err(failed("attaching the backup to restore"))?;
    let result = in_one_transaction(conn, db, source, settings, safety, timeout);
    if let Err(e) = conn.execute_batch(&format!("DETACH DATABASE {SOURCE}")) {
        log::error!("cannot detach the restored backup: {e}");
    }
    result
}

fn in_one_transaction(
    conn: &Connection,
    db: &Path,
    source: &Path,
    settings: &BackupSettings,
    safety: BackupKind,
    timeout: Duration,
) -> Result<BackupInfo> {
    let label = db.display().to_string();
    let locked = || Error::Locked {
        path: label.clone(),
        waited_ms: timeout.as_millis() as u64,
    };
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => return Err(locked()),
        Err(e) => return Err(e.into()),
    }
    let total = std::fs::metadata(source).map(|m| m.len()).unwrap_or(0);
    let report = |done| {
        if let Some(report) = &settings.progress {
            report(Progress { done, total });
        }
    };
    let done = super::take(conn, db, settings, safety).and_then(|copy| {
        report(0);
        if let Err(source_error) = replace::replace_main(conn) {
            return Err(replace_failed(conn, source, &label, &copy, source_error));
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(copy),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                Err(commit_kept_waiting(conn, &label, &copy, timeout))
            }
            Err(e) => Err(Error::Runner {
                doing: "committing the restore".into(),
                path: label.clone(),
                error: e,
            }),
        }
    });
    match done {
        Ok(copy) => {
            report(total);
            log::warn!("database {label} restored from {}", source.display());
            Ok(copy)
        }
        Err(e) => {
            if !conn.is_autocommit()
                && let Err(rollback) = conn.execute_batch("ROLLBACK")
            {
                log::error!("ROLLBACK of a failed restore failed: {rollback}");
            }
            Err(e)
        }
    }
}

/// The restore failed before its commit: rolled back, so the database is as it was and the
/// safety copy of that same state is only noise (it would even become "the newest backup" for
/// the next `migrate restore`): removed, and the error says nothing was changed. If the
/// rollback itself fails, the copy is kept and the error does not claim anything.
fn replace_failed(
    conn: &Connection,
    source: &Path,
    label: &str,
    copy: &BackupInfo,
    error: rusqlite::Error,
) -> Error {
    let rolled_back = conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok();
    let doing = if rolled_back {
        if let Err(e) = std::fs::remove_file(&copy.path) {
            log::warn!(
                "cannot remove the copy {} of the unchanged database: {e}",
                copy.path.display()
            );
        }
        format!(
            "restoring {} (rolled back, nothing was changed: the database is as it was)",
            source.display()
        )
    } else {
        format!(
            "restoring {} (the state before it is in {})",
            source.display(),
            copy.path.display()
        )
    };
    Error::Runner {
        doing,
        path: label.to_owned(),
        error,
    }
}

/// The COMMIT waited the whole timeout for readers (rollback-journal mode): rolled back, so
/// nothing changed and the safety copy of that same state is removed, as in [`replace_failed`].
fn commit_kept_waiting(
    conn: &Connection,
    label: &str,
    copy: &BackupInfo,
    timeout: Duration,
) -> Error {
    let rolled_back = conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok();
    let outcome = if rolled_back {
        if let Err(e) = std::fs::remove_file(&copy.path) {
            log::warn!(
                "cannot remove the copy {} of the unchanged database: {e}",
                copy.path.display()
            );
        }
        "Nothing was changed: the restore was rolled back.".to_owned()
    } else {
        format!(
            "The restore may not have been rolled back; the state before it is in {}.",
            copy.path.display()
        )
    };
    Error::Busy {
        path: label.to_owned(),
        waited_ms: timeout.as_millis() as u64,
        doing: "committing the restore".into(),
        held_by: crate::busy::READERS.into(),
        outcome,
    }
}

/// `ATTACH` of the backup, by its file name as bytes (any path the OS accepts).
fn attach(conn: &Connection, source: &Path) -> rusqlite::Result<()> {
    let name = source.as_os_str().as_encoded_bytes().to_vec();
    conn.execute(
        &format!("ATTACH DATABASE CAST(?1 AS TEXT) AS {SOURCE}"),
        [name],
    )?;
    Ok(())
}
