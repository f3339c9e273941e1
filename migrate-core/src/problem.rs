//! What can be wrong with a set of registered migrations, found before anything runs.

use crate::Origin;
use std::fmt;

/// The largest `seq` accepted: it must fit a signed 64-bit database integer.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// Sequence numbers missing between two migrations.
///
/// ```
/// use migrate_core::{Problem, SeqGap};
/// let gap = |before, after: u64| SeqGap { before, after, after_name: format!("m{after}") };
/// let text = Problem::Gaps { gaps: vec![gap(1, 3), gap(3, 9)] }.to_string();
/// assert!(text.starts_with("2 gaps in the numbering: seq 2 is missing before 3 \"m3\"; seqs 4 to 8 before 9 \"m9\""));
/// assert_eq!(text.matches("allow_gaps").count(), 1);
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SeqGap {
    /// Last seq before the gap.
    pub before: u64,
    /// First seq after the gap.
    pub after: u64,
    /// Name of the migration after the gap.
    pub after_name: String,
}

/// How many gaps are listed one by one; the rest are counted (a timestamp-numbered history
/// has a gap before every migration).
const GAPS_LISTED: usize = 3;

impl SeqGap {
    fn missing(&self) -> String {
        if self.after - self.before == 2 {
            format!("seq {}", self.before + 1)
        } else {
            format!("seqs {} to {}", self.before + 1, self.after - 1)
        }
    }
}

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
    /// Sequence numbers are missing: every gap of the set, in order, reported once.
    Gaps {
        /// The gaps, lowest first (never empty).
        gaps: Vec<SeqGap>,
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
            Problem::Gaps { gaps } => {
                let listed: Vec<String> = gaps
                    .iter()
                    .take(GAPS_LISTED)
                    .enumerate()
                    .map(|(i, gap)| {
                        let verb = match (i, gap.after - gap.before) {
                            (0, 2) => " is missing",
                            (0, _) => " are missing",
                            _ => "",
                        };
                        format!(
                            "{}{verb} before {} {:?}",
                            gap.missing(),
                            gap.after,
                            gap.after_name
                        )
                    })
                    .collect();
                let more = match (gaps.len().saturating_sub(GAPS_LISTED), gaps.last()) {
                    (0, _) | (_, None) => String::new(),
                    (n, Some(last)) => format!(
                        "; and {n} more, the last before {} {:?}",
                        last.after, last.after_name
                    ),
                };
                let count = match gaps.len() {
                    1 => "a gap".to_owned(),
                    n => format!("{n} gaps"),
                };
                write!(
                    f,
                    "{count} in the numbering: {}{more}. Number migrations without gaps, or, if \
                     you number them by timestamp, allow gaps: `Migrator::new().allow_gaps()` \
                     (command line: `migrate --allow-gaps up`)",
                    listed.join("; ")
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
