//! The migrated schema as a file in your repository: a stable, diff-friendly text of the
//! catalog fingerprint (one `-- kind name` header per object, then its definition, sorted).

use crate::{Migrator, Result, schema_dump};
use std::path::Path;

/// The schema after every migration of `migrator`, applied to a new database of the test
/// server: the text of [`schema_dump`] (tables with their columns, constraints, indexes,
/// views, triggers, functions, types, extensions; the runner's own tables left out).
///
/// ```no_run
/// use migrate_postgres::{Migration, Migrator, Step, testing::schema_snapshot};
/// let migrator = Migrator::new().with_migrations([
///     Migration::new(1, "t", Step::sql("CREATE TABLE t (x integer)")),
/// ]);
/// assert_eq!(schema_snapshot(migrator)?, "-- table public.t\nx integer\n");
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
pub fn schema_snapshot(migrator: Migrator) -> Result<String> {
    let db = super::fresh_database()?;
    let mut session = migrator.without_backups().on(db.connect())?;
    session.up()?;
    Ok(schema_dump(&session.connection().schema_objects()?))
}

/// Compares the schema with the file at `path` (e.g. `schema.pg.sql` in your repository) and
/// panics with the diff (`-` kept, `+` now) when they differ. With `MIGRATE_UPDATE_SCHEMA=1`
/// in the environment it writes the file instead: run the tests once with it and commit the
/// file.
///
/// ```no_run
/// # use migrate_postgres::{Migrator, testing::assert_schema_snapshot};
/// assert_schema_snapshot(Migrator::new(), concat!(env!("CARGO_MANIFEST_DIR"), "/schema.pg.sql"));
/// ```
#[track_caller]
pub fn assert_schema_snapshot(migrator: Migrator, path: impl AsRef<Path>) {
    migrate_core::harness::assert_snapshot(path, schema_snapshot(migrator));
}
