//! Pruning automatic backups: keep the newest N and/or those younger than a maximum age.
//! Failed-state copies follow the same rule among themselves (they never push a real backup
//! out). Named snapshots and manual backups are never pruned. The backends list the files,
//! leave out the ones an operation just wrote, and delete what this decides.

use super::kind::BackupKind;
use std::time::{Duration, SystemTime};

/// Which automatic backups to keep; named snapshots and manual backups are always kept.
///
/// ```
/// use migrate_core::backups::Retention;
/// use std::time::Duration;
/// let rule = Retention { keep_last: Some(3), max_age: Some(Duration::from_secs(7 * 86_400)) };
/// assert_eq!(Retention::default().keep_last, Some(5));
/// # let _ = rule;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many automatic backups (the newest). Default 5.
    pub keep_last: Option<usize>,
    /// Delete automatic backups older than this. Default: no limit.
    pub max_age: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_last: Some(5),
            max_age: None,
        }
    }
}

/// The backups that `rule` says to delete, given every backup (oldest first); `entry` gives a
/// backup's kind and its name's timestamp (`20261122T104914.123Z`). Ages come from the name,
/// not the file's mtime, which a copy could touch. A backup whose timestamp does not parse is
/// never too old.
///
/// ```
/// use migrate_core::backups::{BackupKind, Retention, to_prune};
/// use std::time::SystemTime;
/// let auto = |at: &str| (BackupKind::Automatic { reason: "pre-up".into() }, at.to_owned());
/// let all = [
///     auto("20261101T000000.000Z"),
///     (BackupKind::Snapshot { name: "v1".into() }, "20261102T000000.000Z".to_owned()),
///     auto("20261103T000000.000Z"),
/// ];
/// let rule = Retention { keep_last: Some(1), max_age: None };
/// let doomed = to_prune(&all, &rule, SystemTime::now(), |(kind, at)| (kind, at.as_str()));
/// assert_eq!(doomed, [&all[0]]);
/// ```
pub fn to_prune<'a, T>(
    all: &'a [T],
    rule: &Retention,
    now: SystemTime,
    entry: impl Fn(&T) -> (&BackupKind, &str),
) -> Vec<&'a T> {
    let automatic: Vec<&T> = all
        .iter()
        .filter(|b| matches!(entry(b).0, BackupKind::Automatic { .. }))
        .collect();
    let failed_state: Vec<&T> = all
        .iter()
        .filter(|b| *entry(b).0 == BackupKind::FailedState)
        .collect();
    let mut doomed = in_group(automatic, rule, now, &entry);
    doomed.extend(in_group(failed_state, rule, now, &entry));
    doomed
}

/// The members of one group (oldest first) beyond the count or the age.
fn in_group<'a, T>(
    group: Vec<&'a T>,
    rule: &Retention,
    now: SystemTime,
    entry: &impl Fn(&T) -> (&BackupKind, &str),
) -> Vec<&'a T> {
    let keep_from = rule
        .keep_last
        .map_or(0, |keep| group.len().saturating_sub(keep));
    group
        .into_iter()
        .enumerate()
        .filter(|(i, b)| {
            let beyond_count = *i < keep_from;
            let too_old = rule
                .max_age
                .is_some_and(|max| age(entry(b).1, now).is_some_and(|age| age > max));
            beyond_count || too_old
        })
        .map(|(_, b)| b)
        .collect()
}

/// Age from the time in the backup's name.
fn age(created_at: &str, now: SystemTime) -> Option<Duration> {
    let created = super::naming::parse_timestamp(created_at)?;
    now.duration_since(created).ok()
}

impl BackupKind {
    /// How long a backup of this kind is kept under `rule`, as a sentence for the operator.
    ///
    /// ```
    /// use migrate_core::backups::{BackupKind, Retention};
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(b: &(BackupKind, String)) -> (&BackupKind, &str) {
        (&b.0, b.1.as_str())
    }

    #[test]
    fn snapshots_and_manual_backups_are_never_pruned_and_failed_state_is_apart() {
        let auto = |at: &str| {
            (
                BackupKind::Automatic {
                    reason: "pre-up".into(),
                },
                at.into(),
            )
        };
        let all: Vec<(BackupKind, String)> = vec![
            (BackupKind::Manual, "20200101T000000.000Z".into()),
            (
                BackupKind::Snapshot { name: "v1".into() },
                "20200101T000000.001Z".into(),
            ),
            auto("20200102T000000.000Z"),
            (BackupKind::FailedState, "20200103T000000.000Z".into()),
            auto("20200104T000000.000Z"),
            (BackupKind::FailedState, "20200105T000000.000Z".into()),
        ];
        let rule = Retention {
            keep_last: Some(1),
            max_age: None,
        };
        let doomed = to_prune(&all, &rule, SystemTime::now(), entry);
        assert_eq!(doomed, [&all[2], &all[3]]);
        let by_age = Retention {
            keep_last: None,
            max_age: Some(Duration::from_secs(1)),
        };
        let doomed = to_prune(&all, &by_age, SystemTime::now(), entry);
        assert_eq!(doomed, [&all[2], &all[4], &all[3], &all[5]]);
        let none = Retention {
            keep_last: None,
            max_age: None,
        };
        assert!(to_prune(&all, &none, SystemTime::now(), entry).is_empty());
    }
}
