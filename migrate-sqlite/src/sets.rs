//! The migration sets linked into this binary (what `migrate sets` lists).

use crate::StepFnPtr;
use std::collections::BTreeMap;

/// Every set with at least one `#[migration]` for SQLite linked into this binary, with how many
/// migrations it has, sorted by name.
///
/// ```
/// use migrate_sqlite::{migration, Result, Tx};
///
/// #[migration(seq = 1, set = "sets_doc")]
/// fn create_t(tx: &Tx) -> Result<()> {
///     tx.execute_batch("CREATE TABLE t (x)")?;
///     Ok(())
/// }
///
/// # fn main() {
/// let sets = migrate_sqlite::registered_sets();
/// assert!(sets.contains(&("sets_doc".to_owned(), 1)));
/// # }
/// ```
pub fn registered_sets() -> Vec<(String, usize)> {
    let mut sets: BTreeMap<String, usize> = BTreeMap::new();
    for descriptor in inventory::iter::<migrate_core::Descriptor> {
        // Only the migrations written for this backend (their step is our fn pointer type).
        if descriptor.up.downcast_ref::<StepFnPtr>().is_some() {
            *sets.entry(descriptor.set.to_owned()).or_default() += 1;
        }
    }
    sets.into_iter().collect()
}
