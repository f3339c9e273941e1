//! Why a backup was taken, and the reason part of its file name.

/// Why a backup was taken.
///
/// ```
/// use migrate_core::backups::BackupKind;
/// let before_up = BackupKind::Automatic { reason: "pre-up".into() };
/// let named = BackupKind::Snapshot { name: "before-v2".into() };
/// assert_ne!(before_up, named);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupKind {
    /// Taken automatically before a change; `reason` is `pre-up`, `pre-down`, `pre-redo`,
    /// `pre-restore`, `pre-step` (before a `transaction = false`
    /// migration under `KeepApplied`), `pre-adopt` or `pre-restore-table`. Pruned by retention;
    /// of two consecutive ones with the same reason that hold the same state, only the newer
    /// is kept (SQLite backend).
    Automatic {
        /// Why.
        reason: String,
    },
    /// A named snapshot: never pruned automatically.
    Snapshot {
        /// Its name.
        name: String,
    },
    /// The state a failed `transaction = false` migration left, kept for inspection before
    /// the automatic restore. Never chosen as the newest backup; listed apart; pruned by the
    /// retention rule among failed-state copies only.
    FailedState,
    /// Taken by hand (`migrate backup`, `Session::backup` of the SQLite backend): never
    /// pruned automatically (the retention rule is for the backups the runner takes by
    /// itself); kept until the operator deletes the file.
    Manual,
}

/// The reason part of a failed-state copy's name.
pub(super) const FAILED_STATE: &str = "failed-state";

/// The reason part of a manual backup's name (the same as when manual backups were automatic
/// ones with this reason, so those files are manual backups now).
pub(super) const MANUAL: &str = "manual";

impl BackupKind {
    /// The reason part of the file name.
    pub(super) fn label(&self) -> String {
        match self {
            BackupKind::Automatic { reason } => reason.clone(),
            BackupKind::Snapshot { name } => format!("snapshot.{name}"),
            BackupKind::FailedState => FAILED_STATE.to_owned(),
            BackupKind::Manual => MANUAL.to_owned(),
        }
    }
}
