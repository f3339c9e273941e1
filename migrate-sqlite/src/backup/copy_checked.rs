//! The fast backup of a rollback-journal database: child processes copy the file's bytes
//! while this process runs `quick_check` on the same state, both under one read transaction
//! that keeps every writer off until the copy is complete.
//!
//! Equally strong as `quick_check` on the copy: the copy is the file byte for byte (its length
//! is checked), the file cannot change while the read transaction lasts (a commit in rollback
//! mode waits for every reader; a writer that had already spilled pages into the file would
//! hold the exclusive lock, and the read transaction could not have started), and
//! `quick_check` reads exactly that state. The check runs while the copy is written instead of
//! re-reading the copy afterwards.

use super::child_copy::{self, ChildCopy};
use super::{Progress, ProgressFn};
use crate::{Error, Result};
use rusqlite::Connection;
use std::fs::{self, File};
use std::io;
use std::path::Path;

/// Copies `db` into `temp` (open as `file`, empty) while `reader` (in a read transaction on
/// `db`) checks it; the transaction ends only after the copy is complete and flushed.
///
/// `Ok(false)` when this way is not open here (the children cannot be started, or their exits
/// would not be reported): nothing was written, and the caller copies another way.
pub fn copy_and_check(
    reader: Connection,
    db: &Path,
    temp: &Path,
    file: &File,
    progress: Option<&ProgressFn>,
) -> Result<bool> {
    let io_error = |doing: &str| {
        let (doing, path) = (doing.to_owned(), temp.to_owned());
        move |error: io::Error| Error::Io { doing, path, error }
    };
    // Read under the shared lock: the size of the state being copied.
    let total = fs::metadata(db)
        .map_err(|error| Error::Io {
            doing: "cannot read the size of the database".into(),
            path: db.to_owned(),
            error,
        })?
        .len();
    if total == 0 {
        // A new, empty database (a first start's pre-migration backup): nothing to copy or
        // check; the empty temp file is its backup.
        drop(reader);
        file.sync_all()
            .map_err(io_error("cannot flush the backup file to disk"))?;
        return Ok(true);
    }
    if !child_copy::exits_are_reported() {
        log::debug!("SIGCHLD is ignored in this process: backup through SQLite's backup API");
        return Ok(false);
    }
    let child = match ChildCopy::start(db, file, temp) {
        Ok(child) => child,
        Err(e) => {
            // A child started before the failure was killed and reaped: empty the file again.
            log::warn!(
                "cannot start the processes that copy the database ({e}); backup through SQLite's backup API"
            );
            file.set_len(0)
                .map_err(io_error("cannot empty the backup file"))?;
            return Ok(false);
        }
    };
    let (copied, (reader, verdict)) = std::thread::scope(|scope| {
        // The connection moves to the checker and comes back: the read transaction must outlive
        // the copy, whichever finishes first.
        let checker = scope.spawn(move || {
            let verdict = quick_check(&reader);
            (reader, verdict)
        });
        let copied = wait(child, file, total, progress);
        let checked = checker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (copied, checked)
    });
    let copied = copied.map_err(io_error("cannot copy the database into the backup file"));
    // Writers may go on from here.
    drop(reader);
    copied?;
    let length = file
        .metadata()
        .map_err(io_error("cannot read the size of the backup file"))?
        .len();
    if length != total {
        return Err(Error::BackupDamaged {
            path: temp.to_owned(),
            detail: format!("the copy has {length} bytes, the database {total}"),
        });
    }
    // `quick_check` read the live database (the state copied), not the copy.
    verdict.map_err(|detail| Error::DatabaseDamaged {
        path: db.to_owned(),
        detail,
    })?;
    file.sync_all()
        .map_err(io_error("cannot flush the backup file to disk"))?;
    Ok(true)
}

/// `PRAGMA quick_check`: `Err` with SQLite's verdict unless it says "ok".
fn quick_check(conn: &Connection) -> std::result::Result<(), String> {
    match conn.query_row("PRAGMA quick_check", [], |row| row.get::<_, String>(0)) {
        Ok(verdict) if verdict == "ok" => Ok(()),
        Ok(verdict) => Err(verdict),
        Err(e) => Err(e.to_string()),
    }
}

/// Waits for the child, reporting the bytes written so far if someone listens.
fn wait(
    mut child: ChildCopy,
    file: &File,
    total: u64,
    progress: Option<&ProgressFn>,
) -> io::Result<()> {
    let Some(report) = progress else {
        return child.finish();
    };
    report(Progress { done: 0, total });
    while child.try_finish()?.is_none() {
        let done = file.metadata().map(|m| m.len().min(total)).unwrap_or(0);
        report(Progress { done, total });
        std::thread::sleep(child_copy::POLL);
    }
    report(Progress { done: total, total });
    Ok(())
}
