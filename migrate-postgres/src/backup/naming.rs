//! Backup file names of the PostgreSQL backend: the shared rule of `migrate_core::backups`
//! (`<database>.<UTC timestamp>.<reason>.<extension>`) with the archive's extension, e.g.
//! `app.20261122T104914.123Z.pre-up.dump` or `app.20261122T104914.123Z.snapshot.before-v2.dump`.

use std::time::SystemTime;

pub use migrate_core::backups::{BackupKind, temp_name, timestamp, validate_snapshot_name};

/// A PostgreSQL backup is a `pg_dump -Fc` archive.
const EXTENSION: &str = "dump";

/// The name part for database `dbname`: file-name safe and one per name (`app.x` and `app_x`
/// differ), so a database name cannot escape the backup directory nor share another's backups.
pub(crate) fn stem(dbname: &str) -> String {
    migrate_core::backups::stem(dbname)
}

/// The name part backups of `dbname` had before stems were one per name (`app.x` -> `app_x`).
pub(crate) fn legacy_stem(dbname: &str) -> String {
    migrate_core::backups::legacy_stem(dbname)
}

/// The final file name of a backup of database `stem` taken at `at`.
pub(crate) fn file_name(stem: &str, at: SystemTime, kind: &BackupKind) -> String {
    migrate_core::backups::file_name(stem, at, kind, EXTENSION)
}

/// Parses a file name made by [`file_name`] for database `stem`: (timestamp, kind). A
/// `manual` file is [`BackupKind::Manual`] (never pruned), however it was asked for.
pub(crate) fn parse(stem: &str, file_name: &str) -> Option<(String, BackupKind)> {
    migrate_core::backups::parse(stem, EXTENSION, file_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dumps_end_in_dump_and_manual_ones_read_back_as_manual() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_344_554_123);
        let name = file_name("app", at, &BackupKind::Manual);
        assert_eq!(name, "app.20261122T104914.123Z.manual.dump");
        assert_eq!(
            parse("app", &name),
            Some(("20261122T104914.123Z".into(), BackupKind::Manual))
        );
        // Asked for as an automatic backup with reason "manual": the same file, a manual one.
        let by_reason = BackupKind::Automatic {
            reason: "manual".into(),
        };
        assert_eq!(file_name("app", at, &by_reason), name);
        assert_eq!(parse("app", "app.20261122T104914.123Z.manual.db"), None);
        assert_eq!(parse("app", &temp_name(&name)), None);
    }

    #[test]
    fn database_names_cannot_escape_the_directory() {
        assert_eq!(stem("app"), "app");
        assert!(stem("../etc/x").starts_with("___etc_x~"));
        assert!(stem("my db.1").starts_with("my_db_1~"));
        assert_ne!(stem("app.x"), stem("app_x"));
        assert_eq!(legacy_stem("my db.1"), "my_db_1");
        assert_eq!(legacy_stem(""), "database");
    }
}
