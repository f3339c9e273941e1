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
/// panics with both when they differ. With `MIGRATE_UPDATE_SCHEMA=1` in the environment it
/// writes the file instead, like snapshot tools do.
///
/// ```no_run
/// # use migrate_sqlite::{Migrator, testing::assert_schema_snapshot};
/// assert_schema_snapshot(Migrator::new(), "schema.sql");
/// ```
#[track_caller]
pub fn assert_schema_snapshot(migrator: Migrator, path: impl AsRef<Path>) {
    let path = path.as_ref();
    let schema = match schema_snapshot(migrator) {
        Ok(schema) => schema,
        Err(e) => panic!("the migrations do not apply: {e}"),
    };
    if std::env::var_os("MIGRATE_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        if let Err(e) = std::fs::write(path, &schema) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let kept = std::fs::read_to_string(path).unwrap_or_default();
    if kept.replace("\r\n", "\n") != schema {
        panic!(
            "the schema differs from {}.\n--- kept\n{kept}\n--- now\n{schema}\nIf the change is \
             intended, run the tests once with MIGRATE_UPDATE_SCHEMA=1 and commit the file.",
            path.display()
        );
    }
}
