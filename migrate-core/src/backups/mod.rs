//! The backend-agnostic backup rules, shared by every backend: backup kinds, file names
//! (`<db stem>.<UTC timestamp>.<reason>.<extension>`), parsing names back, snapshot-name
//! validation and the retention decision. Pure functions: the backends list, write, verify,
//! restore and delete the files; this module only names them and decides which go.

mod kind;
mod meta;
mod naming;
mod restore_from;
mod restore_options;
mod retention;

pub use kind::BackupKind;
pub use meta::{BackupMeta, belongs_to};
pub use naming::{
    age_text, file_name, legacy_stem, parse, parse_timestamp, stem, temp_name, timestamp,
    validate_snapshot_name,
};
pub use restore_from::RestoreFrom;
pub use restore_options::RestoreOptions;
pub use retention::{Retention, to_prune};
