//! Data a harness puts in at a given point of the sequence: SQL text or the backend's own code.

use std::collections::BTreeMap;
use std::fmt;

/// Data to put in right after a migration: SQL, or code of type `C` (each backend names its
/// own, e.g. an `Arc<dyn Fn(&Connection) -> ...>`).
///
/// ```
/// use migrate_core::harness::Seed;
/// let seed: Seed<()> = "INSERT INTO t VALUES (1)".into();
/// assert!(matches!(seed, Seed::Sql(ref sql) if sql.starts_with("INSERT")));
/// ```
#[derive(Clone)]
pub enum Seed<C> {
    /// SQL run as one batch.
    Sql(String),
    /// Code.
    Code(C),
}

impl<C> From<&str> for Seed<C> {
    fn from(sql: &str) -> Self {
        Seed::Sql(sql.to_owned())
    }
}

impl<C> From<String> for Seed<C> {
    fn from(sql: String) -> Self {
        Seed::Sql(sql)
    }
}

impl<C> fmt::Debug for Seed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seed::Sql(sql) => f.debug_tuple("Sql").field(sql).finish(),
            Seed::Code(_) => f.write_str("Code(..)"),
        }
    }
}

/// The seeds of a check, by the seq after which they run (0: the empty database).
///
/// ```
/// use migrate_core::harness::{Seed, Seeds};
/// let mut seeds: Seeds<()> = Seeds::default();
/// seeds.add(0, Seed::from("CREATE TABLE legacy (x int)"));
/// seeds.add(0, Seed::from("INSERT INTO legacy VALUES (1)"));
/// assert_eq!(seeds.at(0).count(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Seeds<C>(BTreeMap<u64, Vec<Seed<C>>>);

impl<C> Default for Seeds<C> {
    fn default() -> Self {
        Seeds(BTreeMap::new())
    }
}

impl<C> Seeds<C> {
    /// Adds `seed` after migration `seq`, after the seeds already there.
    pub fn add(&mut self, seq: u64, seed: Seed<C>) {
        self.0.entry(seq).or_default().push(seed);
    }

    /// The seeds to run after migration `seq`, in the order they were added.
    pub fn at(&self, seq: u64) -> impl Iterator<Item = &Seed<C>> {
        self.0.get(&seq).into_iter().flatten()
    }
}
