//! `serde::Serialize` for this backend's reports (feature `serde`), in the shape `--json`
//! prints and the SQLite backend's: a backup is `{"name", "kind", "created_at", "size",
//! "schema_version", "path"}` (`schema_version` is null: a listing reads no dump), a restore is
//! `{"restored_from", "undo_backup": {..}}`. The shared reports (RunReport, StatusReport,
//! HistoryRow) serialize in migrate-core.

use crate::backup::{BackupInfo, RestoreReport};
use serde::ser::{Serialize, SerializeStruct, Serializer};

impl Serialize for BackupInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let BackupInfo {
            path,
            kind,
            created_at,
            size,
        } = self;
        migrate_core::serialize::backup_entry(serializer, kind, created_at, *size, None, path)
    }
}

impl Serialize for RestoreReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let RestoreReport {
            restored_from,
            undo_backup,
        } = self;
        let mut s = serializer.serialize_struct("RestoreReport", 2)?;
        s.serialize_field("restored_from", &restored_from.display().to_string())?;
        s.serialize_field("undo_backup", undo_backup)?;
        s.end()
    }
}
