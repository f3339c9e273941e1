//! What can be wrong with a set of registered migrations, found before anything runs.

use crate::Origin;
use std::fmt;

/// The largest `seq` accepted: it must fit a signed 64-bit database integer.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// One problem with a set of migrations. [`crate::Error::Invalid`] lists all of them at once.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Problem {
    /// No migration is registered for the set.
    Empty {
        /// The set.
        set: String,
    },
    /// Two migrations share a `seq`.
    DuplicateSeq {
        /// The shared seq.
        seq: u64,
        /// Name and origin of the first.
        first: (String, Origin),
        /// Name and origin of the second.
        second: (String, Origin),
    },
    /// Sequence numbers are missing between two migrations.
    Gap {
        /// Last seq before the gap.
        before: u64,
        /// First seq after the gap.
        after: u64,
        /// Name of the migration after the gap.
        after_name: String,
    },
    /// A seq of 0 or beyond [`MAX_SEQ`] (only hand-built migrations can have one).
    SeqOutOfRange {
        /// The seq.
        seq: u64,
        /// The migration's name.
        name: String,
    },
    /// A migration handed to a registry of another set.
    WrongSet {
        /// The migration's seq.
        seq: u64,
        /// Its name.
        name: String,
        /// The set it declares.
        found: String,
        /// The registry's set.
        expected: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty { set } => write!(
                f,
                "no migration is registered in set {set:?}. If the migrations live in another \
                 crate, that crate is probably not linked: a dependency that no code uses \
                 registers nothing. Add `use your_migrations_crate as _;` to your main.rs or lib.rs"
            ),
            Problem::DuplicateSeq { seq, first, second } => write!(
                f,
                "seq {seq} is used twice: {:?} at {} and {:?} at {}; give one of them the next \
                 free seq",
                first.0, first.1, second.0, second.1
            ),
            Problem::Gap {
                before,
                after,
                after_name,
            } => {
                let missing = if after - before == 2 {
                    format!("seq {} is missing", before + 1)
                } else {
                    format!("seqs {} to {} are missing", before + 1, after - 1)
                };
                write!(
                    f,
                    "{missing} before {after} {after_name:?}; number migrations without gaps, \
                     or allow gaps explicitly (Validation::allow_gaps) if you number by timestamp"
                )
            }
            Problem::SeqOutOfRange { seq, name } => write!(
                f,
                "{name:?} has seq {seq}, outside 1..={MAX_SEQ}; seq starts at 1 and must fit a \
                 64-bit signed integer"
            ),
            Problem::WrongSet {
                seq,
                name,
                found,
                expected,
            } => write!(
                f,
                "{seq} {name:?} belongs to set {found:?}, not {expected:?}; each set is loaded \
                 separately: leave it out of this list, or move it with `.in_set({expected:?})`"
            ),
        }
    }
}
