//! Finding the backups of a database in its backup directory.

use super::{BackupInfo, naming};
use crate::{Error, Result};
use std::fs;
use std::path::Path;

/// Every finished backup of database `stem` in `dir`, oldest first. A missing directory holds
/// none; temp files (`.…tmp`) and other databases' backups are not listed.
pub(crate) fn backups(dir: &Path, stem: &str) -> Result<Vec<BackupInfo>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::BackupIo {
                doing: "cannot list the backup directory",
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((created_at, kind)) = naming::parse(stem, &name) else {
            continue;
        };
        found.push(BackupInfo {
            size: entry.metadata().map(|m| m.len()).unwrap_or(0),
            path: entry.path(),
            kind,
            created_at,
        });
    }
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.path.cmp(&b.path)));
    Ok(found)
}
