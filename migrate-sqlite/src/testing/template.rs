//! Fresh migrated databases for the user's own tests, without running every migration per test.
//!
//! The template is migrated once per test process and kept in memory; every test gets a copy
//! through SQLite's backup API (an in-memory page copy). Test runners that start one process per
//! test (`cargo nextest`) share the work through a cached file in the temp directory, keyed by the
//! migrations' digest and the test binary itself, so a rebuild never reuses a stale template.

use crate::{Error, Migrator, Result, digest};
use migrate_core::ChecksumHasher;
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
        if let Some(path) = &cache
            && let Err(e) = save(&conn, path)
        {
            log::warn!(
                "cannot cache the migrated template at {}: {e}",
                path.display()
            );
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
            source,
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
        source,
    })
}

/// An in-memory copy of the database file at `path`, which is opened read-only.
pub(crate) fn copy_into_memory(path: &Path) -> Result<Connection> {
    let source =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
            Error::Open {
                path: path.to_owned(),
                source,
            }
        })?;
    let mut copy = Connection::open_in_memory()?;
    Backup::new(&source, &mut copy)?.step(-1)?;
    Ok(copy)
}
