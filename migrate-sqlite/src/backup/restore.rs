//! Restoring a backup into the live database: only a backup that passes `quick_check`, only
//! through SQLite's backup API (never by replacing the file under open connections, which with a
//! `-wal` file present gave "database disk image is malformed"), only by the lock holder.

use super::write::verify;
use super::{Progress, ProgressFn};
use crate::{Error, Result};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};

/// Copies `backup` over the database at `db`, in one backup step (stepping would let other
/// writers interleave with a half-restored database). The caller holds the migration lock and
/// has no transaction open on its own connection.
pub fn restore_file(
    backup: &Path,
    db: &Path,
    timeout: Duration,
    progress: Option<&ProgressFn>,
) -> Result<()> {
    verify(backup)?;
    let total = std::fs::metadata(backup).map(|m| m.len()).unwrap_or(0);
    let report = |done| {
        if let Some(report) = progress {
            report(Progress { done, total });
        }
    };
    report(0);
    let source = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
        |source| Error::Open {
            path: backup.to_owned(),
            source,
        },
    )?;
    let mut target = Connection::open(db).map_err(|source| Error::Open {
        path: db.to_owned(),
        source,
    })?;
    target.busy_timeout(timeout)?;
    let failed = |source| Error::Runner {
        doing: format!("restoring {} with the backup API", backup.display()),
        path: db.display().to_string(),
        source,
    };
    let started = Instant::now();
    let backup_handle = Backup::new(&source, &mut target).map_err(failed)?;
    loop {
        match backup_handle.step(-1).map_err(failed)? {
            StepResult::Done => break,
            // Another connection is reading or writing: the busy handler gave up; try again
            // until our own timeout, since a restore half-done is worse than a late one.
            _ if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                return Err(Error::Locked {
                    path: db.display().to_string(),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
        }
    }
    log::warn!(
        "database {} restored from {}",
        db.display(),
        backup.display()
    );
    Ok(())
}
