//! Verified backups, retention, named snapshots and restore.
//!
//! Backups are taken while the migrator holds the lock and `BEGIN IMMEDIATE` (so no writer can
//! change the database during the copy), under a read transaction of a second connection: a
//! rollback-journal database is copied byte for byte by child processes (see `write.rs`), a WAL
//! database with SQLite's backup API. Each is written atomically and checked with `quick_check`
//! before it counts.

#[cfg(unix)]
mod child_copy;
#[cfg(unix)]
mod copy_checked;
mod damaged;
mod list;
mod naming;
mod ops;
mod replace;
mod restore;
mod retention;
mod same_state;
mod source;
mod stale;
mod write;

pub use migrate_core::backups::{RestoreFrom, RestoreOptions, Retention};
pub use naming::{BackupKind, validate_snapshot_name};

use crate::{Error, Result};
use rusqlite::Connection;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// How far a backup or restore has got, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes copied so far.
    pub done: u64,
    /// Bytes in all.
    pub total: u64,
}

/// A progress callback (the CLI draws a bar with it).
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Where backups go and which are kept.
#[derive(Clone, Default)]
pub struct BackupSettings {
    /// The directory; default `<database file>.backups` beside the database.
    pub dir: Option<PathBuf>,
    /// False turns automatic pre-migration backups off.
    pub disabled: bool,
    /// What to keep.
    pub retention: Retention,
    /// Called as a backup or restore proceeds.
    pub progress: Option<ProgressFn>,
    /// The pre-migration backup a run over several sets took once before the first
    /// (`Migrator::with_run_backup`): used instead of taking another.
    pub run_backup: Option<PathBuf>,
    /// `PRAGMA data_version` read on the connection of every set's run when `run_backup` was
    /// taken (`up --all-sets` keeps one connection): a different value before the automatic
    /// restore means another connection committed since, and the restore is not automatic.
    pub(crate) run_backup_seen: Option<i64>,
}

impl fmt::Debug for BackupSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupSettings")
            .field("dir", &self.dir)
            .field("disabled", &self.disabled)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl BackupSettings {
    /// The prefix of this database's backup names: its file name, plus, in a directory that
    /// several databases may share (a custom `backup_dir`), a hash of its full path, so that
    /// `data/app.db` and `other/app.db` never mix their backups.
    pub fn stem_for(&self, db: &Path) -> String {
        let name = db
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "database".to_owned());
        if self.dir.is_none() {
            return name;
        }
        let full = std::path::absolute(db).unwrap_or_else(|_| db.to_owned());
        let mut hasher = migrate_core::ChecksumHasher::new();
        hasher.write(full.as_os_str().as_encoded_bytes());
        format!("{name}-{:08x}", hasher.finish().value() >> 32)
    }

    /// The backup directory of the database at `db`.
    pub fn dir_for(&self, db: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| {
            let mut name = db.as_os_str().to_owned();
            name.push(".backups");
            PathBuf::from(name)
        })
    }
}

/// A finished, verified backup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    /// Where it is.
    pub path: PathBuf,
    /// Automatic (with its reason) or a named snapshot.
    pub kind: BackupKind,
    /// When it was taken, UTC, as in its name: `20261122T104914.123Z`.
    pub created_at: String,
    /// Its size in bytes.
    pub size: u64,
    /// The highest applied migration it holds, if any.
    pub schema_version: Option<u64>,
}

/// What a restore over a damaged database did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRestore {
    /// The backup that was restored.
    pub restored_from: PathBuf,
    /// Where the damaged database now is (beside it, `<db>.damaged-<UTC>`): never deleted.
    pub damaged_kept: PathBuf,
    /// Every file moved aside (the database and its `-wal`, `-journal`, `-shm` if any).
    pub moved: Vec<PathBuf>,
    /// What `quick_check` said about the damaged database.
    pub damage: String,
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup that was restored.
    pub restored_from: PathBuf,
    /// The backup of the state just before the restore, to undo it.
    pub undo_backup: BackupInfo,
}

/// Takes a backup of the database at `db`. The caller holds the migration lock and
/// `BEGIN IMMEDIATE` on `conn`, so no writer can change the database during the copy.
pub(crate) fn take(
    conn: &Connection,
    db: &Path,
    settings: &BackupSettings,
    kind: BackupKind,
) -> Result<BackupInfo> {
    if conn.is_autocommit() {
        // A copy is consistent only while this connection holds writers off.
        return Err(Error::Unsupported(
            "a backup was requested outside the migration transaction".into(),
        ));
    }
    let dir = settings.dir_for(db);
    write::write_backup(
        db,
        &dir,
        &settings.stem_for(db),
        &kind,
        settings.progress.as_ref(),
    )
    .map_err(|e| match e {
        // Not the directory's fault: its advice (free space, permissions) would mislead.
        Error::DatabaseDamaged { .. } => e,
        e => Error::BackupFailed {
            dir: dir.clone(),
            error: Box::new(e),
        },
    })
}

/// Applies the retention rule; a failure to delete is logged, never fatal. Called when an
/// operation is over, never between taking a backup and using it. The backups in `keep` (the
/// ones the operation just wrote or named in its report) are never deleted, whatever their
/// names say about their age (a clock that went back makes a new backup look old).
pub(crate) fn prune(db: &Path, settings: &BackupSettings, keep: &[&Path]) {
    let dir = settings.dir_for(db);
    let all = match list::backups(&dir, &settings.stem_for(db)) {
        Ok(all) => all,
        Err(e) => {
            log::warn!("cannot list backups for retention: {e}");
            return;
        }
    };
    let all = drop_repeated_states(all, keep);
    for old in retention::to_prune(&all, &settings.retention, SystemTime::now()) {
        if keep.iter().any(|k| *k == old.path) {
            continue;
        }
        match std::fs::remove_file(&old.path) {
            Ok(()) => log::info!("old backup removed: {}", old.path.display()),
            Err(e) => log::warn!("cannot remove old backup {}: {e}", old.path.display()),
        }
    }
}

/// Deletes the previous automatic backup with the same reason as each one in `keep` (the
/// backups the operation just wrote) when it holds the same state (`same_state.rs`): five
/// failed starts of an unchanged database leave one `pre-up` backup, not five copies of one
/// state. Returns the backups that are left, oldest first.
fn drop_repeated_states(all: Vec<BackupInfo>, keep: &[&Path]) -> Vec<BackupInfo> {
    let mut gone: Vec<PathBuf> = Vec::new();
    for new in all.iter().filter(|b| keep.contains(&b.path.as_path())) {
        let BackupKind::Automatic { reason } = &new.kind else {
            continue;
        };
        let previous = all.iter().rfind(|b| {
            b.path != new.path
                && b.created_at <= new.created_at
                && matches!(&b.kind, BackupKind::Automatic { reason: r } if r == reason)
        });
        let Some(previous) = previous else {
            continue;
        };
        if keep.contains(&previous.path.as_path())
            || gone.contains(&previous.path)
            || !same_state::same_state(&previous.path, &new.path)
        {
            continue;
        }
        match std::fs::remove_file(&previous.path) {
            Ok(()) => {
                log::info!(
                    "backup {} removed: {} holds the same state",
                    previous.path.display(),
                    new.path.display()
                );
                gone.push(previous.path.clone());
            }
            Err(e) => log::warn!(
                "cannot remove {}, which holds the same state as {}: {e}",
                previous.path.display(),
                new.path.display()
            ),
        }
    }
    all.into_iter()
        .filter(|b| !gone.contains(&b.path))
        .collect()
}

/// Every backup, snapshot and failed-state copy of the database at `db`, oldest first.
pub(crate) fn all(db: &Path, settings: &BackupSettings) -> Result<Vec<BackupInfo>> {
    list::backups(&settings.dir_for(db), &settings.stem_for(db))
}

/// The file `from` names, checked to exist.
pub(crate) fn locate(db: &Path, settings: &BackupSettings, from: &RestoreFrom) -> Result<PathBuf> {
    let dir = settings.dir_for(db);
    let found = match from {
        RestoreFrom::File(path) => Some(path.clone()),
        RestoreFrom::Latest | RestoreFrom::Snapshot(_) => {
            if let RestoreFrom::Snapshot(name) = from {
                validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
            }
            all(db, settings)?
                .into_iter()
                .rev()
                .find(|b| from.chooses(&b.kind))
                .map(|b| b.path)
        }
    };
    match found {
        Some(path) if path.is_file() => Ok(path),
        _ => Err(Error::NoBackup {
            wanted: from.wanted(),
            dir,
        }),
    }
}

/// Deletes the snapshot `name` (every file of that name).
pub(crate) fn delete_snapshot(db: &Path, settings: &BackupSettings, name: &str) -> Result<()> {
    validate_snapshot_name(name).map_err(Error::InvalidSnapshotName)?;
    let doomed: Vec<BackupInfo> = all(db, settings)?
        .into_iter()
        .filter(|b| b.kind.is_snapshot(name))
        .collect();
    if doomed.is_empty() {
        return Err(Error::NoBackup {
            wanted: format!("snapshot {name:?}"),
            dir: settings.dir_for(db),
        });
    }
    for snapshot in doomed {
        std::fs::remove_file(&snapshot.path).map_err(|source| Error::Io {
            doing: "cannot delete the snapshot".into(),
            path: snapshot.path.clone(),
            error: source,
        })?;
    }
    write::sync_dir(&settings.dir_for(db))
}

pub(crate) use damaged::{damage, restore_damaged};
pub(crate) use ops::{back_up, back_up_seen, data_version, restore};
pub(crate) use restore::restore_over;
pub(crate) use source::same_file;
pub(crate) use write::verify;
