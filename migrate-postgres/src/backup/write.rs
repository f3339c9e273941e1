//! Writing a backup atomically: a hidden temp file (mode 0600) in the backup directory, the
//! dump, fsync, read back completely, its SHA-256 and source written beside its final name
//! (`<backup>.meta`), rename to its final name, fsync of the directory. A
//! reader never sees a half-written or unverified backup; a failure leaves no file behind.

use super::naming::{self, BackupKind};
use super::progress::Reporter;
use super::tools::Tools;
use super::{BackupInfo, checksum, dump, verify};
use crate::{Error, Result};
use migrate_core::backups::BackupMeta;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to dump and where.
pub(crate) struct Target<'a> {
    pub(crate) tools: &'a Tools,
    pub(crate) config: &'a postgres::Config,
    pub(crate) dir: &'a Path,
    pub(crate) stem: &'a str,
    /// The database name, recorded in the backup's metadata.
    pub(crate) source: &'a str,
    pub(crate) lock_wait: Duration,
    /// Hears the dump's and the verification's bytes.
    pub(crate) progress: &'a Reporter,
    /// The expected dump size (the newest backup's), 0 when unknown.
    pub(crate) estimate: u64,
}

/// Dumps, verifies and publishes one backup.
pub(crate) fn write_backup(
    target: &Target<'_>,
    kind: &BackupKind,
    snapshot: Option<&str>,
) -> Result<BackupInfo> {
    create_dir(target.dir)?;
    let (final_path, created_at) = free_name(target.dir, target.stem, kind);
    let final_name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = target.dir.join(naming::temp_name(&final_name));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|source| Error::BackupIo {
            doing: "cannot create the temporary backup file",
            path: temp.clone(),
            source,
        })?;
    let written = dump::dump(
        target.tools,
        target.config,
        &temp,
        snapshot,
        target.lock_wait,
        (target.progress, target.estimate),
    )
    .and_then(|()| sync_file(&temp))
    .and_then(|()| verify::verify(target.tools, &temp, target.progress))
    .and_then(|()| checksum::sha256_file(&temp))
    .and_then(|sha256| {
        // Beside the final name before the dump gets it: a listed backup always has it.
        let meta = BackupMeta {
            source: target.source.to_owned(),
            sha256: Some(sha256),
        };
        meta.write_for(&final_path)
            .map_err(|source| Error::BackupIo {
                doing: "cannot write the backup's metadata",
                path: BackupMeta::path_for(&final_path),
                source,
            })
    });
    if let Err(e) = written {
        if let Err(rm) = fs::remove_file(&temp) {
            log::warn!(
                "cannot remove the unfinished backup {}: {rm}",
                temp.display()
            );
        }
        return Err(e);
    }
    fs::rename(&temp, &final_path).map_err(|source| Error::BackupIo {
        doing: "cannot move the finished backup to its name",
        path: final_path.clone(),
        source,
    })?;
    sync_dir(target.dir)?;
    let size = fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    log::info!("backup written: {} ({size} bytes)", final_path.display());
    Ok(BackupInfo {
        path: final_path,
        kind: kind.clone(),
        created_at,
        size,
    })
}

/// The backup directory, created 0700 if missing.
fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Error::BackupIo {
            doing: "cannot create the backup directory",
            path: dir.to_owned(),
            source,
        })
}

/// A final name no other backup has: two backups in the same millisecond get the next one.
fn free_name(dir: &Path, stem: &str, kind: &BackupKind) -> (PathBuf, String) {
    let mut at = SystemTime::now();
    loop {
        let path = dir.join(naming::file_name(stem, at, kind));
        if !path.exists() {
            return (path, naming::timestamp(at));
        }
        at += Duration::from_millis(1);
    }
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::BackupIo {
            doing: "cannot fsync the backup file",
            path: path.to_owned(),
            source,
        })
}

/// Makes a rename or a removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::BackupIo {
            doing: "cannot fsync the backup directory",
            path: dir.to_owned(),
            source,
        })
}
