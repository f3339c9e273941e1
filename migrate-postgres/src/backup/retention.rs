//! Pruning automatic backups: keep the newest N and/or those younger than a maximum age.
//! Failed-state copies follow the same rule among themselves (they never push a real backup
//! out). Named snapshots are never pruned.

use super::naming::BackupKind;
use super::{BackupInfo, Retention};
use std::time::{Duration, SystemTime};

/// The backups that `rule` says to delete, given every backup (oldest first).
pub(crate) fn to_prune(all: &[BackupInfo], rule: &Retention, now: SystemTime) -> Vec<BackupInfo> {
    let automatic = |b: &&BackupInfo| matches!(b.kind, BackupKind::Automatic { .. });
    let failed_state = |b: &&BackupInfo| b.kind == BackupKind::FailedState;
    let mut doomed = in_group(all.iter().filter(automatic).collect(), rule, now);
    doomed.extend(in_group(
        all.iter().filter(failed_state).collect(),
        rule,
        now,
    ));
    doomed
}

/// The members of one group (oldest first) beyond the count or the age.
fn in_group(group: Vec<&BackupInfo>, rule: &Retention, now: SystemTime) -> Vec<BackupInfo> {
    let keep_from = rule
        .keep_last
        .map_or(0, |keep| group.len().saturating_sub(keep));
    group
        .iter()
        .enumerate()
        .filter(|(i, b)| {
            let beyond_count = *i < keep_from;
            let too_old = rule
                .max_age
                .is_some_and(|max| age(b, now).is_some_and(|age| age > max));
            beyond_count || too_old
        })
        .map(|(_, b)| (*b).clone())
        .collect()
}

/// Age from the time in the backup's name (the file's mtime could be touched by a copy).
fn age(backup: &BackupInfo, now: SystemTime) -> Option<Duration> {
    let created = super::naming::parse_timestamp(&backup.created_at)?;
    now.duration_since(created).ok()
}
