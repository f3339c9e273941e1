//! Pruning: the shared retention decision of `migrate_core::backups` over this backend's
//! [`BackupInfo`] list.

use super::{BackupInfo, Retention};
use std::time::SystemTime;

/// The backups that `rule` says to delete, given every backup (oldest first).
pub(crate) fn to_prune(all: &[BackupInfo], rule: &Retention, now: SystemTime) -> Vec<BackupInfo> {
    migrate_core::backups::to_prune(all, rule, now, |b| (&b.kind, b.created_at.as_str()))
        .into_iter()
        .cloned()
        .collect()
}
