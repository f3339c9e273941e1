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
    let (final_path, temp, created_at) = free_name(target.dir, target.stem, kind)?;
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

/// A final name no other backup has, and its temporary file, created: two backups started in
/// the same millisecond (two processes, or one and a snapshot) get different names, since the
/// temporary file is taken with `create_new` (the second tries the next millisecond).
fn free_name(dir: &Path, stem: &str, kind: &BackupKind) -> Result<(PathBuf, PathBuf, String)> {
    let mut at = SystemTime::now();
    loop {
        let path = dir.join(naming::file_name(stem, at, kind));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(naming::temp_name(&name));
        if !path.exists() {
            let created = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp);
            match created {
                Ok(_) => return Ok((path, temp, naming::timestamp(at))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(Error::BackupIo {
                        doing: "cannot create the temporary backup file",
                        path: temp,
                        source,
                    });
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_started_in_the_same_millisecond_get_different_names() {
        let dir = tempfile::tempdir().unwrap();
        let kind = BackupKind::Manual;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let (path, temp, _) = free_name(dir.path(), "app", &kind).unwrap();
            assert!(temp.exists(), "the name is held by its temporary file");
            assert!(seen.insert(path.clone()), "{} given twice", path.display());
        }
    }
}
