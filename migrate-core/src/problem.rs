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
        /// Whether this process is a test binary (`cargo test`), where migrations that live
        /// in a binary target are never linked; see [`running_in_test_binary`].
        in_test_binary: bool,
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
            Problem::Empty {
                set,
                in_test_binary: false,
            } => write!(
                f,
                "no migration is registered in set {set:?}. If the migrations live in another \
                 crate, that crate is probably not linked: a dependency that no code uses \
                 registers nothing. Add `use your_migrations_crate as _;` to your main.rs or lib.rs"
            ),
            Problem::Empty {
                set,
                in_test_binary: true,
            } => write!(
                f,
                "no migration is registered in set {set:?} in this test binary. Integration \
                 tests (`tests/*.rs`) link only the package's library target, never its binary: \
                 migrations defined in `src/main.rs` or its modules are invisible to them. Move \
                 the migrations into a library target (`src/lib.rs`, then \
                 `use your_crate as _;` in the test), or test them inside the binary with \
                 `#[cfg(test)]` tests. If they live in another crate, add \
                 `use your_migrations_crate as _;` to the test"
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

/// Whether the running executable looks like a test harness built by `cargo test`: cargo puts
/// test binaries in a `deps` directory and names them `<target>-<16 hex digits>`. Used only to
/// choose the advice of [`Problem::Empty`]; a wrong guess changes the advice, nothing else.
///
/// ```
/// use std::path::Path;
/// use migrate_core::running_in_test_binary;
/// assert!(running_in_test_binary(Path::new("target/debug/deps/cli-0123456789abcdef")));
/// assert!(!running_in_test_binary(Path::new("target/debug/notes")));
/// ```
pub fn running_in_test_binary(exe: &std::path::Path) -> bool {
    let in_deps = exe
        .parent()
        .and_then(|dir| dir.file_name())
        .is_some_and(|name| name == "deps");
    let stem = exe.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let hashed = stem
        .rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    in_deps && hashed
}
