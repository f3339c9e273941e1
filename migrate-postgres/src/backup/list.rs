//! Finding the backups of a database in its backup directory.

use super::{BackupInfo, naming};
use crate::{Error, Result};
use std::fs;
use std::path::Path;

/// Whose backups to list: the database's exact name and the stems its backups are named with.
pub(crate) struct Owner<'a> {
    /// The database name, as recorded in each backup's metadata.
    pub(crate) source: &'a str,
    /// The stem of the backups written now.
    pub(crate) stem: &'a str,
    /// The stem of backups written before stems were one per name (often the same).
    pub(crate) legacy_stem: &'a str,
}

/// Every finished backup of `owner` in `dir`, oldest first. A missing directory holds none;
/// temp files (`.…tmp`), metadata files and other databases' backups are not listed: a backup
/// whose metadata names another database is not this one's, whatever its name says (a backup
/// without metadata was written by an older version: its name is all there is to go by).
pub(crate) fn backups(dir: &Path, owner: &Owner<'_>) -> Result<Vec<BackupInfo>> {
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
        let by_stem = naming::parse(owner.stem, &name);
        let by_name = by_stem.is_some();
        let Some((created_at, kind)) = by_stem.or_else(|| naming::parse(owner.legacy_stem, &name))
        else {
            continue;
        };
        let path = entry.path();
        if !belongs(&path, owner, by_name) {
            log::debug!(
                "{} is named like a backup of {:?} but was taken from another database",
                path.display(),
                owner.source
            );
            continue;
        }
        found.push(BackupInfo {
            size: entry.metadata().map(|m| m.len()).unwrap_or(0),
            path,
            kind,
            created_at,
        });
    }
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.path.cmp(&b.path)));
    Ok(found)
}

/// Whether the backup at `path` is `owner`'s: its metadata names it, or it has none (an older
/// version's: the name is all there is). Metadata that cannot be read was written by this
/// version, which names only `owner`'s backups with its current stem (one per database name):
/// so the name decides, and the backup stays listed (a restore of it is refused by its
/// metadata) rather than "the latest" silently becoming an older one.
fn belongs(path: &Path, owner: &Owner<'_>, by_current_stem: bool) -> bool {
    match migrate_core::backups::BackupMeta::read_for(path) {
        Ok(Some(meta)) => meta.source == owner.source,
        Ok(None) => true,
        Err(e) => {
            log::warn!("{e}: listed as a backup of {:?} by its name", owner.source);
            by_current_stem
        }
    }
}

/// The highest seq recorded as applied (any set) in the dump's `<schema>._migrate_applied`,
/// read with `pg_restore --data-only` of that one table; `None` when the dump has no such rows.
pub(crate) fn schema_version(
    tools: &super::tools::Tools,
    path: &Path,
    schema: &str,
) -> Result<Option<u64>> {
    let output = std::process::Command::new(&tools.pg_restore)
        .args(["--data-only", "--file=-"])
        .arg(format!("--schema={schema}"))
        .arg(format!("--table={}", crate::APPLIED_TABLE))
        .arg(path)
        .output()
        .map_err(|source| Error::BackupIo {
            doing: "cannot start pg_restore",
            path: tools.pg_restore.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::BackupDamaged {
            path: path.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(highest_applied(&String::from_utf8_lossy(&output.stdout)))
}

/// Parses the `COPY <schema>._migrate_applied (cols) FROM stdin;` block of a data-only script.
fn highest_applied(script: &str) -> Option<u64> {
    let mut lines = script.lines();
    let header = lines
        .find(|l| l.starts_with("COPY ") && l.contains(&format!(".{} (", crate::APPLIED_TABLE)))?;
    let columns: Vec<&str> = header
        .split_once('(')?
        .1
        .split_once(')')?
        .0
        .split(',')
        .map(str::trim)
        .collect();
    let seq = columns.iter().position(|c| *c == "seq")?;
    let state = columns.iter().position(|c| *c == "state")?;
    lines
        .take_while(|l| *l != "\\.")
        .filter_map(|row| {
            let fields: Vec<&str> = row.split('\t').collect();
            (fields.get(state) == Some(&"applied"))
                .then(|| fields.get(seq)?.parse::<u64>().ok())
                .flatten()
        })
        .max()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_highest_applied_seq_is_read_from_the_copy_block() {
        let script = "SET x = 1;\n\
            COPY public._migrate_applied (set_name, seq, name, checksum, state) FROM stdin;\n\
            default\t1\ta\tc\tapplied\n\
            default\t7\tb\tc\tapplied\n\
            default\t9\tc\tc\tstarted\n\
            \\.\n";
        assert_eq!(super::highest_applied(script), Some(7));
        assert_eq!(super::highest_applied("SET x = 1;\n"), None);
    }
}
