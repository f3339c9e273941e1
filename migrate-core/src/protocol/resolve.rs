//! Settling a `transaction = false` migration that started and never finished, once an
//! operator has looked at the database: which row may be settled, and its history row. The
//! backend does the write, under its lock, in one transaction.

use super::Refusal;
use crate::{AppliedRow, HistoryEvent, RowState};

/// What the operator found.
///
/// ```
/// assert_ne!(migrate_core::Resolution::Applied, migrate_core::Resolution::NotApplied);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Its work is complete: record it as applied.
    Applied,
    /// Its work was undone (or never happened): forget it, so the next `up` runs it again.
    NotApplied,
}

impl Resolution {
    /// The history row's outcome: `marked applied` or `marked not applied`.
    ///
    /// ```
    /// assert_eq!(migrate_core::Resolution::NotApplied.outcome(), "marked not applied");
    /// ```
    pub fn outcome(self) -> &'static str {
        match self {
            Resolution::Applied => "marked applied",
            Resolution::NotApplied => "marked not applied",
        }
    }
}

/// The started row of `seq` among `rows` (the tracking rows of `set`, read under the lock), or
/// why it cannot be resolved.
///
/// ```
/// use migrate_core::{AppliedRow, RowState, protocol::resolvable};
/// let started = AppliedRow { seq: 2, name: "b".into(), checksum: "c".into(), state: RowState::Started };
/// assert!(resolvable(&[started.clone()], "default", 2).is_ok());
/// assert!(resolvable(&[started], "default", 3).is_err());
/// ```
pub fn resolvable<'r>(
    rows: &'r [AppliedRow],
    set: &str,
    seq: u64,
) -> Result<&'r AppliedRow, Refusal> {
    let Some(row) = rows.iter().find(|r| r.seq == seq) else {
        return Err(Refusal::NotRecorded {
            set: set.to_owned(),
            seq,
        });
    };
    if row.state != RowState::Started {
        return Err(Refusal::NotStarted {
            seq,
            name: row.name.clone(),
        });
    }
    Ok(row)
}

/// The history row of a resolution (logged as a warning too: an operator changed the record).
///
/// ```
/// use migrate_core::{AppliedRow, Resolution, RowState, protocol::resolution_event};
/// let row = AppliedRow { seq: 2, name: "b".into(), checksum: "c".into(), state: RowState::Started };
/// assert_eq!(resolution_event("default", &row, Resolution::Applied).action, "resolve");
/// ```
pub fn resolution_event(set: &str, row: &AppliedRow, resolution: Resolution) -> HistoryEvent {
    log::warn!(
        "migration {} {:?} resolved by an operator: {}",
        row.seq,
        row.name,
        resolution.outcome()
    );
    HistoryEvent {
        set: set.to_owned(),
        seq: Some(row.seq),
        name: Some(row.name.clone()),
        action: "resolve".into(),
        outcome: resolution.outcome().into(),
        ..HistoryEvent::default()
    }
}
