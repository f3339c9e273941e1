//! Checksums of migration code: a stable hash, tagged with the version of the algorithm.
//!
//! The hash is 64-bit FNV-1a over a serialization that the producer defines (the macro hashes a
//! normalized token stream; hand-built SQL migrations hash their text with normalized line
//! endings). FNV-1a is fixed forever, unlike `DefaultHasher`, so a checksum written to a database
//! today still compares equal next year.

use std::fmt;
use std::str::FromStr;

/// The version of the checksum algorithm this build produces.
///
/// Bumped when the serialization changes; a stored checksum of an older version is reported as
/// "computed by an older algorithm" rather than as a modified migration.
pub const CHECKSUM_VERSION: u8 = 1;

/// A migration's checksum: algorithm version plus a 64-bit hash.
///
/// Displayed and stored as `v1:0123456789abcdef`.
///
/// ```
/// use migrate_core::Checksum;
/// let a = Checksum::of_text("CREATE TABLE t (id INTEGER)\n");
/// let b = Checksum::of_text("CREATE TABLE t (id INTEGER)\r\n");
/// assert_eq!(a, b); // line endings do not matter
/// assert_eq!(a.to_string().parse::<Checksum>().unwrap(), a);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Checksum {
    version: u8,
    value: u64,
}

impl Checksum {
    /// Builds a checksum from its parts (used by generated code).
    ///
    /// ```
    /// use migrate_core::Checksum;
    /// assert_eq!(Checksum::from_parts(1, 255).to_string(), "v1:00000000000000ff");
    /// ```
    pub const fn from_parts(version: u8, value: u64) -> Self {
        Checksum { version, value }
    }

    /// Checksum of a text, with `\r\n` and `\r` read as `\n`.
    ///
    /// ```
    /// use migrate_core::Checksum;
    /// assert_ne!(Checksum::of_text("a"), Checksum::of_text("b"));
    /// ```
    pub fn of_text(text: &str) -> Self {
        let mut hasher = ChecksumHasher::new();
        hasher.write_text(text);
        hasher.finish()
    }

    /// The algorithm version that produced this checksum.
    ///
    /// ```
    /// assert_eq!(migrate_core::Checksum::of_text("x").version(), migrate_core::CHECKSUM_VERSION);
    /// ```
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The 64-bit hash value.
    ///
    /// ```
    /// assert_eq!(migrate_core::Checksum::from_parts(1, 7).value(), 7);
    /// ```
    pub const fn value(&self) -> u64 {
        self.value
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}:{:016x}", self.version, self.value)
    }
}

/// The text was not a checksum of the form `v1:0123456789abcdef`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a checksum (expected the form v1:0123456789abcdef)")]
pub struct ChecksumParseError(pub String);

impl FromStr for Checksum {
    type Err = ChecksumParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ChecksumParseError(text.to_owned());
        let (version, value) = text
            .strip_prefix('v')
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(bad)?;
        let version = version.parse().map_err(|_| bad())?;
        if value.len() != 16 {
            return Err(bad());
        }
        let value = u64::from_str_radix(value, 16).map_err(|_| bad())?;
        Ok(Checksum { version, value })
    }
}

/// Incremental FNV-1a hasher producing a [`Checksum`] of the current algorithm version.
///
/// ```
/// use migrate_core::{Checksum, ChecksumHasher};
/// let mut h = ChecksumHasher::new();
/// h.write(b"abc");
/// assert_eq!(h.finish(), Checksum::of_text("abc"));
/// ```
#[derive(Clone, Debug)]
pub struct ChecksumHasher {
    state: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl ChecksumHasher {
    /// A hasher with nothing written yet.
    ///
    /// ```
    /// let _ = migrate_core::ChecksumHasher::new();
    /// ```
    pub const fn new() -> Self {
        ChecksumHasher { state: FNV_OFFSET }
    }

    /// Feeds raw bytes.
    ///
    /// ```
    /// migrate_core::ChecksumHasher::new().write(b"bytes");
    /// ```
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.state ^= u64::from(*byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    /// Feeds text with line endings normalized to `\n`.
    ///
    /// ```
    /// let mut h = migrate_core::ChecksumHasher::new();
    /// h.write_text("line\r\n");
    /// ```
    pub fn write_text(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                self.write(b"\n");
            } else {
                let mut buf = [0u8; 4];
                self.write(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }

    /// The checksum of everything written so far.
    ///
    /// ```
    /// let h = migrate_core::ChecksumHasher::new();
    /// assert_eq!(h.finish().version(), 1);
    /// ```
    pub fn finish(&self) -> Checksum {
        Checksum::from_parts(CHECKSUM_VERSION, self.state)
    }
}

impl Default for ChecksumHasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        // From the FNV reference: FNV-1a 64 of "" and "a".
        assert_eq!(ChecksumHasher::new().finish().value(), 0xcbf29ce484222325);
        assert_eq!(Checksum::of_text("a").value(), 0xaf63dc4c8601ec8c);
        assert_eq!(Checksum::of_text("foobar").value(), 0x85944171f73967e8);
    }

    #[test]
    fn carriage_returns_are_newlines() {
        assert_eq!(Checksum::of_text("a\r\nb\rc"), Checksum::of_text("a\nb\nc"));
    }

    #[test]
    fn parse_rejects_malformed_text() {
        for bad in ["", "v1", "1:00", "v1:xyz", "v1:00ff", "vx:0000000000000000"] {
            assert!(bad.parse::<Checksum>().is_err(), "{bad}");
        }
    }
}
