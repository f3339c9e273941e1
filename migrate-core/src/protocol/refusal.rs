//! What the protocol refuses on its own, under the lock and before anything changes (the plan's
//! refusals are [`crate::Error`]s), and the runner's checks on a step's transaction.

use super::Recorded;
use crate::{DownTarget, Migration, Registry, RowState, TxMode};
use std::fmt;

/// A refusal or a broken invariant found by the protocol; each backend turns it into its own
/// error (`From<Refusal>`).
///
/// ```
/// use migrate_core::protocol::Refusal;
/// let r = Refusal::DownTooFar { set: "default".into(), steps: 3, applied: 1 };
/// assert!(r.to_string().contains("only 1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `down N` with fewer than N applied.
    DownTooFar {
        /// The set.
        set: String,
        /// Steps asked for.
        steps: usize,
        /// Migrations applied.
        applied: usize,
    },
    /// A transactional migration recorded as started: changed by hand or by another tool.
    StartedTransactional {
        /// The database.
        database: String,
        /// What is wrong.
        problem: String,
        /// The commands out.
        way_out: String,
    },
    /// `redo` with nothing applied.
    NothingToRedo {
        /// The set.
        set: String,
    },
    /// A step ended the runner's transaction without an error of its own.
    TransactionEscaped,
    /// A `transaction = false` step left a transaction open.
    LeftTransactionOpen,
    /// A restore was needed and no backup exists.
    NoBackup {
        /// Why none exists.
        why: String,
    },
    /// `resolve` of a migration the set has no row for.
    NotRecorded {
        /// The set.
        set: String,
        /// The seq asked for.
        seq: u64,
    },
    /// `resolve` of a migration that is not started-and-unfinished.
    NotStarted {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::DownTooFar {
                set,
                steps,
                applied,
            } => write!(
                f,
                "cannot revert {steps} migrations of set {set:?}: only {applied} applied; \
                 nothing was changed. To revert every applied migration, run `{}`",
                down_to_zero(set)
            ),
            Refusal::StartedTransactional {
                database,
                problem,
                way_out,
            } => write!(
                f,
                "the tracking rows of {database} cannot be trusted: {problem}. {way_out}"
            ),
            Refusal::NothingToRedo { set } => write!(
                f,
                "nothing is applied in set {set:?}, so there is nothing to redo; nothing was \
                 changed"
            ),
            Refusal::TransactionEscaped => f.write_str(
                "a migration ended the runner's transaction (COMMIT or ROLLBACK in its SQL)",
            ),
            Refusal::LeftTransactionOpen => f.write_str(
                "the non-transactional migration left a transaction open; it was rolled back. A \
                 migration declared `transaction = false` must not leave one open",
            ),
            Refusal::NotRecorded { set, seq } => write!(
                f,
                "set {set:?} has no recorded migration {seq}; nothing was changed"
            ),
            Refusal::NotStarted { seq, name } => write!(
                f,
                "migration {seq} {name:?} is not started-and-unfinished (it is applied); only \
                 such a migration can be resolved. Nothing was changed"
            ),
            Refusal::NoBackup { why } => write!(
                f,
                "no pre-migration backup was taken ({why}), so the database could not be restored"
            ),
        }
    }
}

/// The command that reverts every applied migration of `set`: `--set` unless it is the
/// default set, so that it runs as printed from any app.
fn down_to_zero(set: &str) -> String {
    if set == "default" {
        "migrate down --to 0".to_owned()
    } else {
        format!(
            "migrate --set {} down --to 0",
            super::shell_word(std::path::Path::new(set))
        )
    }
}

/// `down N` with fewer than N applied: refused, read under the lock, before anything changes
/// (reverting "as many as there are" would silently do more than the operator meant).
pub(super) fn down_too_far(
    target: DownTarget,
    before: &Recorded,
    set: &str,
) -> Result<(), Refusal> {
    let DownTarget::Steps(steps) = target else {
        return Ok(());
    };
    let applied = before
        .rows()
        .iter()
        .filter(|r| r.state == RowState::Applied)
        .count();
    if steps > applied {
        return Err(Refusal::DownTooFar {
            set: set.to_owned(),
            steps,
            applied,
        });
    }
    Ok(())
}

/// A transactional migration recorded as started: the runner never leaves one that way (its
/// tracking row commits with its work), so the row was changed by hand or by another tool.
/// Said as it is, not as an interrupted `transaction = false` migration.
pub(super) fn started_transactional<S>(
    before: &Recorded,
    registry: &Registry<S>,
    database: &str,
    table: &str,
) -> Result<(), Refusal> {
    let Some((row, m)) = before.rows().iter().find_map(|row| {
        let m: &Migration<S> = registry.get(row.seq)?;
        (row.state == RowState::Started && m.mode == TxMode::Transactional).then_some((row, m))
    }) else {
        return Ok(());
    };
    let seq = row.seq;
    let in_set = |command: String| super::rerun::in_set(command, registry.set());
    Err(Refusal::StartedTransactional {
        database: database.to_owned(),
        problem: format!(
            "migration {} is recorded as started and never finished, but it runs in a \
             transaction, so the runner never leaves it that way (its tracking row commits \
             together with its work): the row in {table} was changed by hand or by another tool",
            m.label(),
        ),
        way_out: format!(
            "Check whether its changes are in the database: if they are, record it as applied \
             (`{}`); if not, forget it (`{}`) and the next `{}` runs it",
            in_set(format!("migrate resolve {seq} --applied")),
            in_set(format!("migrate resolve {seq} --not-applied")),
            in_set("migrate up".to_owned()),
        ),
    })
}
