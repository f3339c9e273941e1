//! Backup file names of the SQLite backend: the shared rule of `migrate_core::backups`
//! (`<db stem>.<UTC timestamp>.<reason>.<extension>`) with the `.db` extension, e.g.
//! `app.20261122T104914.123Z.pre-up.db` or `app.20261122T104914.123Z.snapshot.before-v2.db`.

use std::time::SystemTime;

pub use migrate_core::backups::{BackupKind, temp_name, timestamp, validate_snapshot_name};

/// A SQLite backup is a database file.
const EXTENSION: &str = "db";

/// The final file name of a backup of database `stem` taken at `at`.
pub fn file_name(stem: &str, at: SystemTime, kind: &BackupKind) -> String {
    migrate_core::backups::file_name(stem, at, kind, EXTENSION)
}

/// Parses a file name made by [`file_name`] for database `stem`: (timestamp, kind).
pub fn parse(stem: &str, file_name: &str) -> Option<(String, BackupKind)> {
    migrate_core::backups::parse(stem, EXTENSION, file_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn sqlite_backups_end_in_db_and_round_trip() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_344_554_123);
        let name = file_name("app", at, &BackupKind::Manual);
        assert_eq!(name, "app.20261122T104914.123Z.manual.db");
        assert_eq!(
            parse("app", &name),
            Some(("20261122T104914.123Z".into(), BackupKind::Manual))
        );
        assert_eq!(parse("app", "app.20261122T104914.123Z.manual.dump"), None);
        assert_eq!(parse("app", &temp_name(&name)), None);
    }
}
