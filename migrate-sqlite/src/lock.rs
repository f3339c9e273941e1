//! The migration lock: an OS lock on a file beside the database (`app.db.migrate-lock`).
//!
//! It covers work that spans several transactions (backup then migrate, non-transactional
//! migrations). The database file itself is never locked this way: SQLite's own locks live there.
//! The lock file is never deleted, since deleting a lock file lets two processes hold "the" lock.

use crate::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Held while migrating; released when dropped (also on error paths and panics).
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

/// The lock file of a database file.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".migrate-lock");
    PathBuf::from(name)
}

impl FileLock {
    /// Waits up to `timeout` for the exclusive lock of `db`.
    pub fn acquire(db: &Path, timeout: Duration) -> Result<FileLock> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Io {
                doing: "cannot create the migration lock file".into(),
                path: path.clone(),
                error: source,
            })?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    log::debug!("migration lock taken: {}", path.display());
                    return Ok(FileLock { file, path });
                }
                Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        path: db.display().to_string(),
                        waited_ms: started.elapsed().as_millis() as u64,
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(Error::Io {
                        doing: "cannot lock the migration lock file".into(),
                        path,
                        error: source,
                    });
                }
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Err(e) = self.file.unlock() {
            log::warn!("cannot unlock {}: {e}", self.path.display());
        }
    }
}
