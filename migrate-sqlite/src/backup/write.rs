//! Writing a backup file atomically: a temp file in the target directory, the copy, SQLite's
//! `quick_check`, fsync, rename, fsync of the directory, permissions 0600. A reader never sees a
//! half-written backup, and a crash leaves only a hidden `.tmp` file.
//!
//! Two ways to copy, both under a read transaction of a second connection, so that no writer
//! can commit during the copy:
//! * a rollback-journal database on Unix: a byte copy of the file by forked child processes
//!   (`child_copy.rs`), while this process runs `quick_check` on the same state in that read
//!   transaction; the copy is byte for byte the state that passed, so the check of the source
//!   stands for the check of the copy (and runs at the same time as the copy, not after it);
//! * otherwise (WAL, where the file alone is not the state; other systems): SQLite's backup
//!   API, then `quick_check` on the copy.

use super::naming::{self, BackupKind};
use super::stale;
use super::{BackupInfo, Progress, ProgressFn};
use crate::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::SystemTime;

/// Copies the database at `db` into a new backup in `dir`.
///
/// Never by a file copy in this process: it would have to open and close the database file, and
/// closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's own
/// included (seen here as "disk I/O error" at the migrating connection's COMMIT while other
/// processes waited). Forked children copy the bytes instead, or SQLite's backup API does (see
/// the module's doc for which).
pub fn write_backup(
    db: &Path,
    dir: &Path,
    stem: &str,
    kind: &BackupKind,
    progress: Option<&ProgressFn>,
) -> Result<BackupInfo> {
    create_dir(dir)?;
    super::stale::remove_stale_temps(dir, stem);
    let (final_path, created_at) = free_name(dir, stem, kind);
    let final_name = file_name(&final_path);
    let temp = dir.join(naming::temp_name(&final_name));
    // Created and locked in one go, and held until the rename: a locked temp file is never
    // taken for a dead writer's leftover.
    let file = create_private(&temp)?;
    let written = stale::lock_as_writer(&file)
        .map_err(io_error("cannot lock the backup file", &temp))
        .and_then(|()| copy_verified(db, &temp, &file, progress))
        .and_then(|()| publish(&temp, &final_path, dir));
    drop(file);
    if let Err(e) = written {
        // Never leave a partial file behind on an error we saw.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    let size = fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    log::info!("backup created: {}", final_path.display());
    Ok(BackupInfo {
        schema_version: super::list::schema_version(&final_path),
        path: final_path,
        kind: kind.clone(),
        created_at,
        size,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        doing: "cannot create the backup directory".into(),
        path: dir.to_owned(),
        error: source,
    })
}

/// A name that does not exist yet (two backups in the same millisecond get different names).
fn free_name(dir: &Path, stem: &str, kind: &BackupKind) -> (PathBuf, String) {
    loop {
        let now = SystemTime::now();
        let path = dir.join(naming::file_name(stem, now, kind));
        if !path.exists() {
            return (path, naming::timestamp(now));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn io_error(doing: &str, path: &Path) -> impl FnOnce(io::Error) -> Error + use<> {
    let (doing, path) = (doing.to_owned(), path.to_owned());
    move |source| Error::Io {
        doing,
        path,
        error: source,
    }
}

/// Creates the file with permissions 0600 before anything is written to it.
fn create_private(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(io_error("cannot create the backup file", path))
}

/// Copies `db` into `temp` (open as `file`) and checks the copy: by the fastest way that holds
/// writers off and proves the copy sound (see the module's doc).
fn copy_verified(db: &Path, temp: &Path, file: &File, progress: Option<&ProgressFn>) -> Result<()> {
    #[cfg(unix)]
    match read_transaction(db) {
        Ok(reader) if !is_wal(&reader) => {
            if super::copy_checked::copy_and_check(reader, db, temp, file, progress)? {
                return Ok(());
            }
        }
        Ok(_) => {}
        // A database that cannot even be read this way: the backup API reports it as before.
        Err(e) => log::debug!("backup by the backup API: {e}"),
    }
    copy_with_backup_api(db, temp, file, progress)?;
    verify(temp)
}

/// A read-only second connection in a read transaction on `db`: while it is open, no writer
/// can commit (in a rollback-journal database, a commit needs every reader gone).
#[cfg(unix)]
fn read_transaction(db: &Path) -> Result<Connection> {
    let reader =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: db.to_owned(),
                error: source,
            }
        })?;
    // The read of the schema takes the shared lock, held until the transaction ends.
    reader
        .execute_batch("BEGIN")
        .and_then(|()| reader.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
        .map_err(|source| Error::Runner {
            doing: "starting a read transaction for the backup".into(),
            path: db.display().to_string(),
            error: source,
        })?;
    Ok(reader)
}

#[cfg(unix)]
fn is_wal(conn: &Connection) -> bool {
    conn.query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
        .map(|mode| mode.eq_ignore_ascii_case("wal"))
        // When in doubt, the backup API: it is right in every mode.
        .unwrap_or(true)
}

/// SQLite's backup API, from a read-only second connection, in steps that report progress.
///
/// While the copy runs, a helper thread flushes what is already written (`fdatasync` after each
/// step), so that the disk writes overlap the copy instead of all waiting for the final fsync.
/// The source is read through mmap (a syscall less per page), remapped after each step so that
/// at most one step's pages stay mapped: memory does not grow with the database.
///
/// `file` is the temp file's own handle, open (and so not closed) for as long as the target
/// connection is: closing a descriptor of the temp file while the target connection is open
/// would drop that connection's POSIX locks on it.
fn copy_with_backup_api(
    db: &Path,
    temp: &Path,
    file: &File,
    progress: Option<&ProgressFn>,
) -> Result<()> {
    let source =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: db.to_owned(),
                error: source,
            }
        })?;
    let mut target = Connection::open(temp).map_err(|source| Error::Open {
        path: temp.to_owned(),
        error: source,
    })?;
    // The copy is checked, fsynced and renamed afterwards: it needs no journal and no syncs of
    // its own while it is written.
    target
        .execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .and_then(|()| source.execute_batch("PRAGMA mmap_size = 1099511627776"))
        .map_err(|source| Error::Runner {
            doing: "preparing the backup connections".into(),
            path: temp.display().to_string(),
            error: source,
        })?;
    let flush_error = io_error("cannot flush the backup file to disk", temp);
    std::thread::scope(|scope| {
        let (wake, woken) = mpsc::channel::<()>();
        let flusher = scope.spawn(|| flush_on_wake(file, woken));
        let copied = step_through(&source, &mut target, db, progress, &wake);
        drop(wake);
        let flushed = flusher
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        copied.and_then(|()| flushed.map_err(flush_error))
    })?;
    // The copy carries the source's header: a WAL database's backup would say "WAL", and every
    // later read-only open would leave -wal/-shm files beside it. Backups are rollback-journal
    // files (a restore into a WAL database keeps that database in WAL mode).
    target
        .query_row("PRAGMA journal_mode = DELETE", [], |row| {
            row.get::<_, String>(0)
        })
        .map_err(|source| Error::Runner {
            doing: "copying the database with the backup API".into(),
            path: db.display().to_string(),
            error: source,
        })?;
    drop(target);
    file.sync_all()
        .map_err(io_error("cannot flush the backup file to disk", temp))
}

/// `fdatasync` of `file` each time it is woken (several wake-ups in a row make one), until the
/// sender is gone or a flush fails.
fn flush_on_wake(file: &File, woken: mpsc::Receiver<()>) -> io::Result<()> {
    while woken.recv().is_ok() {
        while woken.try_recv().is_ok() {}
        file.sync_data()?;
    }
    Ok(())
}

/// Bytes copied per step: the granularity of progress reports and flushes, and what the source
/// may have mapped at a time.
const STEP_BYTES: u64 = 16 << 20;

/// Runs the backup to the end, reporting progress and waking the flusher after each step.
fn step_through(
    source: &Connection,
    target: &mut Connection,
    db: &Path,
    progress: Option<&ProgressFn>,
    wake: &mpsc::Sender<()>,
) -> Result<()> {
    let backup_error = |source| Error::Runner {
        doing: "copying the database with the backup API".into(),
        path: db.display().to_string(),
        error: source,
    };
    let page_size = page_size(source);
    let pages_per_step = (STEP_BYTES / page_size.max(1)).max(1) as i32;
    let mut unmap = Unmapper::new(source, page_size);
    let backup = rusqlite::backup::Backup::new(source, target).map_err(backup_error)?;
    loop {
        let step = backup.step(pages_per_step).map_err(backup_error)?;
        unmap.step_done();
        let p = backup.progress();
        if let Some(report) = progress {
            let total = p.pagecount.max(0) as u64 * page_size;
            report(Progress {
                done: total - p.remaining.max(0) as u64 * page_size,
                total,
            });
        }
        match step {
            rusqlite::backup::StepResult::Done => return Ok(()),
            rusqlite::backup::StepResult::More => {
                // A flusher that stopped on an error reports it when joined.
                let _ = wake.send(());
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
}

/// Drops the source's mapped pages from the resident set after each step. SQLite maps the file
/// from its start and never unmaps on its own: after a full copy every page of the database
/// would count in the process's resident set. A new mmap limit makes SQLite unmap and map
/// again (once no page is in use, as between steps), so the limit alternates between two
/// values a page apart. Only memory depends on it: a limit that does not take leaves the
/// pages mapped, and reads are the same either way.
struct Unmapper<'c> {
    conn: &'c Connection,
    /// The effective limit (SQLite caps the requested one) and the one a page below it; none if
    /// mmap is off.
    limits: Option<[i64; 2]>,
    steps: usize,
}

impl<'c> Unmapper<'c> {
    fn new(conn: &'c Connection, page_size: u64) -> Self {
        let limit = conn
            .query_row("PRAGMA mmap_size", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0);
        let below = limit - page_size as i64;
        Unmapper {
            conn,
            limits: (below > 0).then_some([limit, below]),
            steps: 0,
        }
    }

    fn step_done(&mut self) {
        if let Some(limits) = self.limits {
            self.steps += 1;
            let limit = limits[self.steps % 2];
            // Best effort: a failure costs memory, never correctness.
            let _ = self
                .conn
                .execute_batch(&format!("PRAGMA mmap_size = {limit}"));
        }
    }
}

fn page_size(conn: &Connection) -> u64 {
    conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .map(|p| p.max(0) as u64)
        .unwrap_or(4096)
}

/// `PRAGMA quick_check` on a backup file: it must say "ok" before it counts.
pub fn verify(path: &Path) -> Result<()> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: path.to_owned(),
                error: source,
            }
        })?;
    let result: rusqlite::Result<String> =
        conn.query_row("PRAGMA quick_check", [], |row| row.get(0));
    match result {
        Ok(verdict) if verdict == "ok" => Ok(()),
        Ok(verdict) => Err(Error::BackupDamaged {
            path: path.to_owned(),
            detail: verdict,
        }),
        Err(e) => Err(Error::BackupDamaged {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Rename into place, then fsync the directory so the rename itself survives a power cut.
fn publish(temp: &Path, final_path: &Path, dir: &Path) -> Result<()> {
    fs::rename(temp, final_path)
        .map_err(io_error("cannot move the backup into place", final_path))?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("cannot flush the backup directory", dir))?;
    Ok(())
}
