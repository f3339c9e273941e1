//! The digest of a set's applied migrations (seq and checksum of each, in order): what a backend
//! stores after each commit so that a start with nothing to do compares one stored value with
//! the registry's instead of reading every tracking row
//! ([`Backend::unchanged_since_last_run`](super::Backend::unchanged_since_last_run)).
//!
//! It covers each row's seq and checksum, not its name: a migration renamed in the code (same
//! checksum) changes nothing to apply, accept or refuse.

use crate::{ChecksumHasher, Registry};
use std::fmt::{self, Write};

/// A digest being computed, row by row, in seq order.
///
/// ```
/// use migrate_core::protocol::Digest;
/// let mut d = Digest::new();
/// d.row(1, &"v1:00000000000000aa");
/// assert_eq!(d.finish(), {
///     let mut e = Digest::new();
///     e.row(1, &"v1:00000000000000aa");
///     e.finish()
/// });
/// ```
#[derive(Default)]
pub struct Digest(ChecksumHasher);

impl Digest {
    /// A digest of no rows yet.
    pub fn new() -> Self {
        Digest(ChecksumHasher::new())
    }

    /// The digest the database holds when exactly the migrations of `registry` are applied.
    ///
    /// ```
    /// use migrate_core::protocol::Digest;
    /// use migrate_core::{Migration, Registry, Validation};
    /// let registry = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict())?;
    /// assert_eq!(Digest::of_registry(&registry).len(), Digest::new().finish().len());
    /// # Ok::<(), migrate_core::Error>(())
    /// ```
    pub fn of_registry<S>(registry: &Registry<S>) -> String {
        let mut digest = Digest::new();
        for m in registry.migrations() {
            digest.row(m.seq, &m.checksum);
        }
        digest.finish()
    }

    /// Adds one applied row (formatted straight into the hash: no allocation per row).
    pub fn row(&mut self, seq: u64, checksum: &dyn fmt::Display) {
        struct HashInto<'h>(&'h mut ChecksumHasher);
        impl fmt::Write for HashInto<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.write(s.as_bytes());
                Ok(())
            }
        }
        // Writing into a hasher cannot fail.
        let _ = writeln!(HashInto(&mut self.0), "{seq}\t{checksum}");
    }

    /// The digest, as text.
    pub fn finish(self) -> String {
        self.0.finish().to_string()
    }
}
