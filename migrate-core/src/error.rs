//! Errors of the core: invalid registries and plans that must not run.

use crate::Problem;
use std::fmt;

/// Something that stops a plan from running until an operator decides.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Blocker {
    /// A non-transactional migration started and never finished.
    Started {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
    },
    /// The database has a migration this binary does not know.
    DatabaseAhead {
        /// Its seq.
        seq: u64,
        /// The recorded name.
        name: String,
    },
    /// An applied migration's code changed.
    Modified {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Checksum in the database.
        recorded: String,
        /// Checksum of the binary's code.
        current: String,
    },
    /// A pending migration below the last applied one.
    OutOfOrder {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// The last applied seq.
        latest_applied: u64,
    },
}

impl Blocker {
    /// Lower is worse; blockers are listed worst first.
    pub(crate) fn severity(&self) -> u8 {
        match self {
            Blocker::Started { .. } => 0,
            Blocker::DatabaseAhead { .. } => 1,
            Blocker::Modified { .. } => 2,
            Blocker::OutOfOrder { .. } => 3,
        }
    }
}

impl fmt::Display for Blocker {
    /// As for the default set; [`Error::Blocked`] names its set in the commands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_in(f, crate::DEFAULT_SET)
    }
}

impl Blocker {
    /// The text, its commands for `set` (`--set NAME` unless it is the default set).
    fn write_in(&self, f: &mut fmt::Formatter<'_>, set: &str) -> fmt::Result {
        let on = if set == crate::DEFAULT_SET {
            String::new()
        } else {
            format!(" --set {set}")
        };
        match self {
            Blocker::Started { seq, name } => write!(
                f,
                "{seq} {name:?} is a non-transactional migration that started and never \
                 finished, so the database may be half-changed. Restore the backup taken before \
                 it (`migrate restore --before {seq}{on}`), or, once you checked the database, mark \
                 it resolved: `migrate resolve {seq} --applied{on}` if its work is complete, \
                 `migrate resolve {seq} --not-applied{on}` if it is undone (the next `up` runs it \
                 again)"
            ),
            Blocker::DatabaseAhead { seq, name } => write!(
                f,
                "the database has {seq} {name:?}, which this binary does not know: a newer \
                 version of the app migrated it, or the migration's code was deleted. Deploy \
                 the newer version (or restore the deleted migration), or allow it explicitly \
                 (`migrate up --allow-database-ahead{on}`) during a rolling deploy"
            ),
            Blocker::Modified {
                seq,
                name,
                recorded,
                current,
            } => write!(
                f,
                "{seq} {name:?} changed after it was applied (recorded checksum {recorded}, code \
                 now {current}). Undo the edit and add a new migration instead, or, if the change \
                 is only formatting, accept it (`migrate up --accept-checksum {seq}{on}`)"
            ),
            Blocker::OutOfOrder {
                seq,
                name,
                latest_applied,
            } => write!(
                f,
                "{seq} {name:?} is pending but {latest_applied} is already applied (merged from \
                 another branch?). Renumber it after {latest_applied}, or apply it out of order \
                 explicitly (`migrate up --allow-out-of-order{on}`)"
            ),
        }
    }
}

/// Errors of `migrate-core`.
///
/// `Debug` prints the message (as `anyhow` does), so `fn main() -> Result<()>` shows it rather
/// than a struct dump:
///
/// ```
/// let e = migrate_core::Error::UnknownTarget { set: "default".into(), seq: 9, known: vec![1, 2] };
/// assert_eq!(format!("{e:?}"), e.to_string());
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registered migrations are not a valid sequence; every problem is listed.
    #[error("the migrations of set {set:?} are invalid:{}", bullet_list(problems))]
    Invalid {
        /// The set.
        set: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The database and the binary disagree in a way that needs an operator's decision.
    #[error(
        "refusing to migrate set {set:?}; nothing was changed:{}",
        blocker_list(set, blockers)
    )]
    Blocked {
        /// The set.
        set: String,
        /// Everything in the way, worst first.
        blockers: Vec<Blocker>,
    },
    /// A `down` would have to pass a migration that cannot be reverted.
    #[error(
        "cannot revert {seq} {name:?}: {}; nothing was changed. Restore a backup taken \
         before it instead (`migrate restore --before {seq}`)",
        if *missing_from_binary { "this binary does not have its code" } else { "it has no down step" }
    )]
    Irreversible {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// True when the binary lacks the migration altogether.
        missing_from_binary: bool,
    },
    /// A target seq that no migration has.
    #[error("set {set:?} has no migration {seq}; known: {}", seq_list(known))]
    UnknownTarget {
        /// The set.
        set: String,
        /// The requested seq.
        seq: u64,
        /// The seqs that exist.
        known: Vec<u64>,
    },
    /// A migrations folder could not be imported (`migrate import`); nothing was written.
    #[error("cannot import {}: {reason}", path.display())]
    Import {
        /// The folder or file at fault.
        path: std::path::PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
}

/// The message, not a struct dump (no variant has a source to add).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The blockers of `set`, one per line, their commands for that set.
fn blocker_list(set: &str, blockers: &[Blocker]) -> String {
    struct In<'a>(&'a Blocker, &'a str);
    impl fmt::Display for In<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.write_in(f, self.1)
        }
    }
    let items: Vec<In<'_>> = blockers.iter().map(|b| In(b, set)).collect();
    bullet_list(&items)
}

fn bullet_list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(|item| format!("\n  - {item}")).collect()
}

fn seq_list(seqs: &[u64]) -> String {
    if seqs.is_empty() {
        return "none".to_owned();
    }
    seqs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
