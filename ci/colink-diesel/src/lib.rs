//! One binary, one SQLite: the migrator and diesel's connection share the same `libsqlite3-sys`.

use diesel::{Connection, SqliteConnection};
use migrate_sqlite::{Migrator, RunReport};

/// Migrate with migrate-sqlite, then open the same file with diesel.
pub fn migrate_then_connect(
    path: &str,
) -> Result<(RunReport, SqliteConnection), Box<dyn std::error::Error>> {
    let report = Migrator::new().open(path)?.up()?;
    Ok((report, SqliteConnection::establish(path)?))
}
