//! The schema as text, kept in the repository so that schema changes show up in review.

use crate::{Migrator, Result, fingerprint};
use rusqlite::Connection;
use std::path::Path;

/// The normalized schema (tables, indexes, views, triggers; one statement per line, sorted)
/// after every migration of `migrator`, on an empty in-memory database.
///
/// ```
/// use migrate_sqlite::{Migration, Migrator, Step, testing::schema_snapshot};
/// let migrator = Migrator::new().with_migrations([
///     Migration::new(1, "t", Step::sql("CREATE TABLE t (x INTEGER)")),
/// ]);
/// assert_eq!(schema_snapshot(migrator)?, "CREATE TABLE t (x INTEGER);\n");
/// # Ok::<(), migrate_sqlite::Error>(())
/// ```
pub fn schema_snapshot(migrator: Migrator) -> Result<String> {
    let mut conn = Connection::open_in_memory()?;
    migrator.without_backups().on(&mut conn)?.up()?;
    Ok(fingerprint::dump(&fingerprint::objects(&conn)?))
}

/// Compares the schema with the file at `path` (e.g. `schema.sql` in your repository) and
/// panics with the diff when they differ. With `MIGRATE_UPDATE_SCHEMA=1` in the environment it
/// writes the file instead, like snapshot tools do.
///
/// ```no_run
/// # use migrate_sqlite::{Migrator, testing::assert_schema_snapshot};
/// assert_schema_snapshot(Migrator::new(), "schema.sql");
/// ```
#[track_caller]
pub fn assert_schema_snapshot(migrator: Migrator, path: impl AsRef<Path>) {
    migrate_core::harness::assert_snapshot(path, schema_snapshot(migrator));
}
