//! What may be restored: never the live database itself (by device and inode, so a hard link
//! or another path to it is caught at once), and, unless the caller says it wants that file,
//! only a backup of this database or a SQLite file holding tracking rows of this set. A 0-byte
//! file (it passes `quick_check`), the lock file, or another application's database would
//! otherwise replace the live data.

use super::{BackupSettings, naming};
use crate::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::Path;

/// The first 16 bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuses `source` before anything is touched, unless it is fit to replace the database at
/// `db` whose migration set is `set`: not the live file, a SQLite file, undamaged
/// (`quick_check`), holding applied migrations of `set`. `allow_foreign` (and a backup of this
/// database's own) skips the content checks, never the same-file and damage checks.
pub fn check(
    source: &Path,
    db: &Path,
    settings: &BackupSettings,
    set: &str,
    allow_foreign: bool,
) -> Result<()> {
    refuse_same_file(source, db)?;
    if allow_foreign || is_own_backup(source, db, settings) {
        return super::verify(source);
    }
    let refuse = |reason: String| Error::RestoreRefused {
        path: source.to_owned(),
        reason,
        way_out: format!(
            "if you really want the database replaced by this file, say so: `migrate restore {} \
             --allow-foreign-source --yes` (library: `RestoreOptions::default()\
             .allow_foreign_source()`); `migrate backups` lists this database's own backups",
            crate::outcome::shell_word(source)
        ),
    };
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(source)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| Error::Io {
            doing: "cannot read the file to restore".into(),
            path: source.to_owned(),
            error: e,
        })?;
    if head.is_empty() {
        return Err(refuse("it is empty (0 bytes)".into()));
    }
    if head.as_slice() != MAGIC {
        return Err(refuse("it is not a SQLite database".into()));
    }
    super::verify(source)?;
    if tracking_rows(source, set) == 0 {
        return Err(refuse(format!(
            "it has no applied migrations of set {set:?} (another application's database, or \
             not a backup of this one)"
        )));
    }
    Ok(())
}

/// A backup this library wrote for this database: in its backup directory, named as its backups
/// are. (It may hold no tracking rows: the backup taken before the first migration.)
fn is_own_backup(source: &Path, db: &Path, settings: &BackupSettings) -> bool {
    let (Some(parent), Some(name)) = (source.parent(), source.file_name()) else {
        return false;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let same_dir = match (parent.canonicalize(), settings.dir_for(db).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same_dir && naming::parse(&settings.stem_for(db), &name.to_string_lossy()).is_some()
}

/// Applied migrations of `set` recorded in the file (0 if it has no tracking table).
fn tracking_rows(source: &Path, set: &str) -> i64 {
    Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| {
            conn.query_row(
                "SELECT count(*) FROM _migrate_applied WHERE set_name = ?1 AND state = 'applied'",
                [set],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

/// The live database through another name (a hard link, a symlink, `./x/../app.db`): the copy
/// would wait on its own lock and then blame "another migrator".
fn refuse_same_file(source: &Path, db: &Path) -> Result<()> {
    if same_file(source, db) {
        return Err(Error::RestoreRefused {
            path: source.to_owned(),
            reason: format!(
                "it is the live database {} itself (the same file under another name or a hard \
                 link), not a backup",
                db.display()
            ),
            way_out: "restore from a backup file: `migrate backups` lists them".into(),
        });
    }
    Ok(())
}

/// Whether `a` and `b` are one file (device and inode; canonical paths elsewhere).
#[cfg(unix)]
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
