//! One binary, one SQLite: the migrator and sqlx's pool share the same `libsqlite3-sys`.

use migrate_sqlite::{Migrator, RunReport};
use sqlx::sqlite::SqliteConnectOptions;

/// Migrate with migrate-sqlite first (synchronously, before the pool opens), then hand the
/// same file to sqlx.
pub fn migrate_then_connect(
    path: &str,
) -> migrate_sqlite::Result<(RunReport, SqliteConnectOptions)> {
    let report = Migrator::new().open(path)?.up()?;
    Ok((report, SqliteConnectOptions::new().filename(path)))
}
