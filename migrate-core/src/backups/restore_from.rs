//! What to restore, and which listed backup that names.

use super::kind::BackupKind;
use std::path::PathBuf;

/// What to restore.
///
/// ```
/// use migrate_core::backups::{BackupKind, RestoreFrom};
/// let from = RestoreFrom::Snapshot("before-v2".into());
/// assert!(from.chooses(&BackupKind::Snapshot { name: "before-v2".into() }));
/// assert!(!RestoreFrom::Latest.chooses(&BackupKind::FailedState));
/// assert_eq!(from.wanted(), "snapshot \"before-v2\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The newest backup or snapshot (never a failed-state copy).
    Latest,
    /// A named snapshot.
    Snapshot(String),
    /// A backup file anywhere (a `.db` file for SQLite, a dump for PostgreSQL).
    File(PathBuf),
}

impl RestoreFrom {
    /// Whether a listed backup of this kind is one this names; the backend takes the newest
    /// such. A [`RestoreFrom::File`] names a path, not a listed backup: never.
    pub fn chooses(&self, kind: &BackupKind) -> bool {
        match self {
            // A failed-state copy is the broken state a failure left: never "the newest backup".
            RestoreFrom::Latest => *kind != BackupKind::FailedState,
            RestoreFrom::Snapshot(name) => kind.is_snapshot(name),
            RestoreFrom::File(_) => false,
        }
    }

    /// What was wanted, for a "no such backup" message: `backup`, `snapshot "v2"`, `file …`.
    pub fn wanted(&self) -> String {
        match self {
            RestoreFrom::Latest => "backup".to_owned(),
            RestoreFrom::Snapshot(name) => format!("snapshot {name:?}"),
            RestoreFrom::File(path) => format!("file {}", path.display()),
        }
    }
}

impl BackupKind {
    /// Whether this is the snapshot `name`.
    ///
    /// ```
    /// use migrate_core::backups::BackupKind;
    /// assert!(BackupKind::Snapshot { name: "v2".into() }.is_snapshot("v2"));
    /// assert!(!BackupKind::Manual.is_snapshot("v2"));
    /// ```
    pub fn is_snapshot(&self, name: &str) -> bool {
        matches!(self, BackupKind::Snapshot { name: n } if n == name)
    }
}
