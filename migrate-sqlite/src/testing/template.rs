//! Fresh migrated databases for the user's own tests, without running every migration per test.
//!
//! The template is migrated once per test process and kept in memory; every test gets a copy
//! through SQLite's backup API (an in-memory page copy). Test runners that start one process per
//! test (`cargo nextest`) share the work through a cached file in the temp directory, keyed by the
//! migrations' digest and the test binary itself, so a rebuild never reuses a stale template.
//! Writing a new cache file removes the ones nobody has written for a day.

use crate::{Error, Migrator, Result, digest};
use migrate_core::ChecksumHasher;
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// A migrated database to copy from.
///
/// ```
/// use migrate_sqlite::testing::Template;
/// use migrate_sqlite::{Migration, Migrator, Step};
/// use std::sync::LazyLock;
///
/// static DB: LazyLock<Template> = LazyLock::new(|| {
///     let migrator = Migrator::new().with_migrations([
///         Migration::new(1, "notes", Step::sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")),
///     ]);
///     Template::new(migrator).expect("migrations apply")
/// });
///
/// let conn = DB.fresh()?; // every test: its own empty, fully migrated database
/// conn.execute("INSERT INTO notes (body) VALUES ('x')", [])?;
/// let other = DB.fresh()?;
/// let n: i64 = other.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
/// assert_eq!(n, 0);
/// # Ok::<(), migrate_sqlite::Error>(())
/// ```
pub struct Template {
    conn: Mutex<Connection>,
}

impl Template {
    /// Migrates a template (or loads the one another process of this test binary cached).
    pub fn new(migrator: Migrator) -> Result<Template> {
        let migrator = migrator.without_backups();
        let cache = cache_path(&migrator)?;
        if let Some(conn) = cache.as_deref().and_then(|path| load(path).ok()) {
            return Ok(Template {
                conn: Mutex::new(conn),
            });
        }
        let mut conn = Connection::open_in_memory()?;
        migrator.on(&mut conn)?.up()?;
        if let Some(path) = &cache {
            match save(&conn, path) {
                Ok(()) => remove_stale(path, STALE_AFTER),
                Err(e) => log::warn!(
                    "cannot cache the migrated template at {}: {e}",
                    path.display()
                ),
            }
        }
        Ok(Template {
            conn: Mutex::new(conn),
        })
    }

    /// A new in-memory database with the template's schema and rows.
    pub fn fresh(&self) -> Result<Connection> {
        let template = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut copy = Connection::open_in_memory()?;
        Backup::new(&template, &mut copy)?.step(-1)?;
        Ok(copy)
    }

    /// A new database file at `path` with the template's schema and rows (for code that opens
    /// files itself).
    pub fn fresh_file(&self, path: &Path) -> Result<Connection> {
        let template = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut copy = Connection::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            error: source,
        })?;
        Backup::new(&template, &mut copy)?.step(-1)?;
        Ok(copy)
    }
}

/// The cache file for this migrator in this test binary, if the binary can be identified.
fn cache_path(migrator: &Migrator) -> Result<Option<PathBuf>> {
    let registry = migrator.registry()?;
    let Ok(exe) = std::env::current_exe() else {
        return Ok(None);
    };
    let Ok(meta) = std::fs::metadata(&exe) else {
        return Ok(None);
    };
    let mut hasher = ChecksumHasher::new();
    hasher.write(digest::of_registry(&registry).as_bytes());
    hasher.write(exe.as_os_str().as_encoded_bytes());
    hasher.write(&meta.len().to_le_bytes());
    if let Ok(modified) = meta.modified()
        && let Ok(since) = modified.duration_since(std::time::UNIX_EPOCH)
    {
        hasher.write(&since.as_nanos().to_le_bytes());
    }
    let key = hasher.finish().value();
    let set = registry
        .set()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    Ok(Some(
        std::env::temp_dir().join(format!("migrate-template-{set}-{key:016x}.db")),
    ))
}

/// Cached templates untouched for this long belong to test binaries since rebuilt.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes the other cached templates (and leftover `.tmp` files) beside `kept` that nobody has
/// written for `older_than`: every rebuild of a test binary caches under a new name. A process
/// still reading one has it open (or already in memory), so deleting it cannot break that
/// process; at worst a later one migrates a template again.
fn remove_stale(kept: &Path, older_than: Duration) {
    let Some(dir) = kept.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with("migrate-template-")
            && (name.ends_with(".db") || name.ends_with(".tmp"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > older_than);
        if ours && old && path != kept {
            match std::fs::remove_file(&path) {
                Ok(()) => log::debug!("removed stale template {}", path.display()),
                Err(e) => log::debug!("cannot remove stale template {}: {e}", path.display()),
            }
        }
    }
}

fn load(path: &Path) -> Result<Connection> {
    crate::backup::verify(path)?;
    copy_into_memory(path)
}

/// Writes the template next to its final name, then renames: readers never see half a file.
fn save(conn: &Connection, path: &Path) -> Result<()> {
    let temp = path.with_extension(format!("{}.tmp", std::process::id()));
    {
        let mut file = Connection::open(&temp)?;
        Backup::new(conn, &mut file)?.step(-1)?;
    }
    std::fs::rename(&temp, path).map_err(|source| Error::Io {
        doing: "cannot cache the migrated template".into(),
        path: path.to_owned(),
        error: source,
    })
}

/// An in-memory copy of the database file at `path`, which is opened read-only.
pub(crate) fn copy_into_memory(path: &Path) -> Result<Connection> {
    let source =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: path.to_owned(),
                error: source,
            }
        })?;
    let mut copy = Connection::open_in_memory()?;
    Backup::new(&source, &mut copy)?.step(-1)?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, FileTimes};
    use std::time::SystemTime;

    fn file(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let path = dir.join(name);
        let f = File::create(&path).unwrap();
        let when = SystemTime::now() - age;
        f.set_times(FileTimes::new().set_modified(when).set_accessed(when))
            .unwrap();
        path
    }

    #[test]
    fn stale_templates_go_and_everything_else_stays() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(24 * 60 * 60);
        let kept = file(dir.path(), "migrate-template-default-1.db", 2 * day);
        let stale = file(dir.path(), "migrate-template-default-2.db", 2 * day);
        let leftover = file(dir.path(), "migrate-template-default-3.db.77.tmp", 2 * day);
        let recent = file(dir.path(), "migrate-template-other-4.db", Duration::ZERO);
        let unrelated = file(dir.path(), "app.db", 2 * day);
        remove_stale(&kept, day);
        assert!(kept.exists() && recent.exists() && unrelated.exists());
        assert!(!stale.exists() && !leftover.exists());
    }
}
