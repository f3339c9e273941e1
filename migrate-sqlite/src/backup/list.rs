//! Finding the backups of a database in its backup directory.

use super::BackupInfo;
use super::naming;
use crate::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs;
use std::path::Path;

/// Every finished backup of the database `stem` in `dir`, oldest first. A missing directory
/// holds none.
pub fn backups(dir: &Path, stem: &str) -> Result<Vec<BackupInfo>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                doing: "cannot list the backup directory".into(),
                path: dir.to_owned(),
                error: source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((created_at, kind)) = naming::parse(stem, &name) else {
            continue;
        };
        let path = entry.path();
        found.push(BackupInfo {
            size: entry.metadata().map(|m| m.len()).unwrap_or(0),
            schema_version: schema_version(&path),
            path,
            kind,
            created_at,
        });
    }
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.path.cmp(&b.path)));
    Ok(found)
}

/// The highest applied seq recorded in a backup (any set), if it has tracking rows.
pub fn schema_version(path: &Path) -> Option<u64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row(
        "SELECT max(seq) FROM _migrate_applied WHERE state = 'applied'",
        [],
        |row| row.get::<_, Option<i64>>(0),
    )
    .ok()
    .flatten()
    .map(|seq| seq as u64)
}
