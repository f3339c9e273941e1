//! Restoring over a damaged live database. A damaged file cannot be copied into an undo backup
//! (the copy fails `quick_check`) nor written into, so it is kept aside instead, never deleted:
//! renamed, with its `-wal`/`-journal`/`-shm` companions, to `<db>.damaged-<UTC>` beside it (the
//! same filesystem, so nothing is copied and nothing can be half-done). The backup is first
//! written to a temp file beside the database (backup API, the live file's journal mode,
//! `quick_check`, fsync), then renamed into place. Connections still open on the damaged file
//! keep it (the renamed one): every program using the database must be stopped first.

use super::naming;
use super::{DamagedRestore, RestoreFrom, RestoreOptions};
use crate::lock::FileLock;
use crate::tracking::{self, HistoryEvent};
use crate::{Error, Migrator, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The damage `quick_check` finds in the database at `db`, if any. A busy database is not a
/// damaged one.
pub fn damage(db: &Path, timeout: Duration) -> Option<String> {
    let conn = match Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(conn) => conn,
        Err(e) => return damaged_by(e),
    };
    if conn.busy_timeout(timeout).is_err() {
        return None;
    }
    match conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
        Ok(verdict) if verdict == "ok" => None,
        Ok(verdict) => Some(verdict),
        Err(e) => damaged_by(e),
    }
}

fn damaged_by(e: rusqlite::Error) -> Option<String> {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Some(e.to_string()),
        _ => None,
    }
}

/// Keeps the damaged database at `db` aside and puts `from` in its place, under the migration
/// lock. Refused if the database is not damaged (a healthy one is restored in a transaction,
/// with an undo backup, by `restore`).
pub fn restore_damaged(
    db: &Path,
    config: &Migrator,
    from: &RestoreFrom,
    options: RestoreOptions,
) -> Result<DamagedRestore> {
    let settings = &config.backups;
    let source = super::locate(db, settings, from)?;
    super::source::check(
        &source,
        db,
        settings,
        &config.set,
        options.allow_foreign_source,
    )?;
    let _lock = FileLock::acquire(db, config.busy_timeout)?;
    let Some(damage) = damage(db, config.busy_timeout) else {
        return Err(Error::RestoreRefused {
            path: source,
            reason: format!("the live database {} is not damaged", db.display()),
            way_out: "restore it the usual way (`migrate restore`, `Session::restore`), which \
                      takes an undo backup first and loses no concurrent commit"
                .into(),
        });
    };
    log::error!("the live database {} is damaged: {damage}", db.display());
    let dir = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "database".into());
    let wal = was_wal(db);
    let temp = dir.join(format!(".{name}.restoring.{}.tmp", std::process::id()));
    let written = write_copy(&source, &temp, wal).and_then(|()| same_permissions(db, &temp));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    let kept = dir.join(format!(
        "{name}.damaged-{}",
        naming::timestamp(SystemTime::now())
    ));
    let moved = keep_aside(db, &kept)?;
    if let Err(e) = fs::rename(&temp, db) {
        // Put the damaged file back rather than leave no database at all.
        let _ = fs::rename(&kept, db);
        return Err(Error::Io {
            doing: format!(
                "cannot move the restored copy {} into place (the damaged database was put back)",
                temp.display()
            ),
            path: db.to_owned(),
            error: e,
        });
    }
    super::write::sync_dir(&dir)?;
    log::warn!(
        "damaged database {} kept at {}; restored from {}",
        db.display(),
        kept.display(),
        source.display()
    );
    record(db, config, &source, &kept, &damage);
    super::prune(db, settings, &[&source]);
    Ok(DamagedRestore {
        restored_from: source,
        damaged_kept: kept,
        moved,
        damage,
    })
}

/// Whether the damaged database was in WAL mode (a `-wal` file, or its header says so).
fn was_wal(db: &Path) -> bool {
    if companion(db, "-wal").exists() {
        return true;
    }
    let mut header = [0u8; 20];
    fs::File::open(db)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok_and(|()| header[18] == 2)
}

fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `source` copied into a new file at `temp` with the backup API, in WAL mode if `wal`,
/// verified and flushed.
fn write_copy(source: &Path, temp: &Path, wal: bool) -> Result<()> {
    let failed = |source_error| Error::Runner {
        doing: format!("writing the restored copy from {}", source.display()),
        path: temp.display().to_string(),
        error: source_error,
    };
    let from =
        Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            Error::Open {
                path: source.to_owned(),
                error: e,
            }
        })?;
    let mut to = Connection::open(temp).map_err(|e| Error::Open {
        path: temp.to_owned(),
        error: e,
    })?;
    rusqlite::backup::Backup::new(&from, &mut to)
        .and_then(|b| b.run_to_completion(i32::MAX, Duration::ZERO, None))
        .map_err(failed)?;
    let mode = if wal { "WAL" } else { "DELETE" };
    to.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| {
        r.get::<_, String>(0)
    })
    .map_err(failed)?;
    drop((from, to));
    super::verify(temp)?;
    fs::File::open(temp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::Io {
            doing: "cannot flush the restored copy to disk".into(),
            path: temp.to_owned(),
            error: e,
        })
}

/// The restored file gets the damaged one's permissions (a backup is 0600; the app's file may
/// be shared with a group).
fn same_permissions(db: &Path, temp: &Path) -> Result<()> {
    let io = |e| Error::Io {
        doing: "cannot give the restored copy the database's permissions".into(),
        path: temp.to_owned(),
        error: e,
    };
    let permissions = fs::metadata(db).map_err(io)?.permissions();
    fs::set_permissions(temp, permissions).map_err(io)
}

/// Renames the database and its companion files to `kept` (+ the same suffixes).
fn keep_aside(db: &Path, kept: &Path) -> Result<Vec<PathBuf>> {
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-journal", "-shm"] {
        let from = companion(db, suffix);
        if suffix.is_empty() || from.exists() {
            let to = companion(kept, suffix);
            fs::rename(&from, &to).map_err(|e| Error::Io {
                doing: format!("cannot keep the damaged database aside as {}", to.display()),
                path: from.clone(),
                error: e,
            })?;
            moved.push(to);
        }
    }
    Ok(moved)
}

/// A history row in the restored database (best effort: the restore itself succeeded).
fn record(db: &Path, config: &Migrator, source: &Path, kept: &Path, damage: &str) {
    let event = HistoryEvent {
        set: config.set.clone(),
        action: "restore".into(),
        outcome: "ok".into(),
        detail: Some(format!(
            "restored from {} over a damaged database ({damage}), kept at {}",
            source.display(),
            kept.display()
        )),
        ..HistoryEvent::default()
    };
    let written = Connection::open(db).and_then(|conn| {
        conn.busy_timeout(config.busy_timeout)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        tracking::ensure_tables(&conn)?;
        tracking::append_history(&conn, &event, &config.applied_by())?;
        conn.execute_batch("COMMIT")
    });
    if let Err(e) = written {
        log::warn!("restore done, but it could not be written to the history: {e}");
    }
}
