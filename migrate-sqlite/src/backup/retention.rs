//! Pruning automatic backups: keep the newest N and/or those younger than a maximum age.
//! Failed-state copies follow the same rule among themselves (they never push a real backup
//! out). Named snapshots and manual backups are never pruned.

use super::naming::BackupKind;
use super::{BackupInfo, Retention};
use std::time::{Duration, SystemTime};

/// The backups that `rule` says to delete, given every backup (oldest first).
pub fn to_prune(all: &[BackupInfo], rule: &Retention, now: SystemTime) -> Vec<BackupInfo> {
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

impl BackupKind {
    /// How long a backup of this kind is kept under `rule`, as a sentence for the operator.
    ///
    /// ```
    /// use migrate_sqlite::{BackupKind, Retention};
    /// let rule = Retention::default();
    /// assert!(BackupKind::Manual.kept_for(&rule).starts_with("kept until you delete it"));
    /// let auto = BackupKind::Automatic { reason: "pre-up".into() };
    /// assert!(auto.kept_for(&rule).contains("the 5 newest automatic backups"));
    /// ```
    pub fn kept_for(&self, rule: &Retention) -> String {
        match self {
            BackupKind::Manual => "kept until you delete it: manual backups are never removed \
                                   by the automatic retention"
                .to_owned(),
            BackupKind::Snapshot { .. } => {
                "kept until you delete it (`migrate snapshot delete NAME`): snapshots are never \
                 removed by the automatic retention"
                    .to_owned()
            }
            BackupKind::Automatic { .. } => format!("kept {}", automatic_rule(rule, "automatic")),
            BackupKind::FailedState => format!("kept {}", automatic_rule(rule, "failed-state")),
        }
    }
}

/// "while it is among the 5 newest automatic backups", with the age limit if any.
fn automatic_rule(rule: &Retention, group: &str) -> String {
    let count = rule
        .keep_last
        .map(|n| format!("while it is among the {n} newest {group} backups (--keep-backups)"));
    let age = rule.max_age.map(|max| {
        format!(
            "for at most {} (--max-backup-age)",
            super::naming::age_text(max)
        )
    });
    match (count, age) {
        (Some(count), Some(age)) => format!("{count} and {age}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "until you delete it (no retention limit is set)".to_owned(),
    }
}
