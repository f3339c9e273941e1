//! The static record that `#[migration]` submits to `inventory`, and its conversion into a
//! [`Migration`].

use crate::{Checksum, Flags, Migration, Origin, TxMode};
use std::any::Any;

/// A step as the macro stores it: a backend's function pointer, type-erased so that this crate
/// needs no backend. The backend takes back the steps of its own type with
/// [`Descriptor::to_migration`].
pub type ErasedStep = &'static (dyn Any + Send + Sync);

/// What one `#[migration]` item registers. Generated code builds it; users do not.
#[doc(hidden)]
pub struct Descriptor {
    pub seq: u64,
    pub name: &'static str,
    pub set: &'static str,
    pub description: &'static str,
    pub checksum: Checksum,
    pub up: ErasedStep,
    pub down: Option<ErasedStep>,
    pub transactional: bool,
    pub flags: Flags,
    pub file: &'static str,
    pub line: u32,
}

inventory::collect!(Descriptor);

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Descriptor")
            .field("seq", &self.seq)
            .field("name", &self.name)
            .field("set", &self.set)
            .field("file", &self.file)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Descriptor {
    /// The migration, if its steps are of type `S` (a backend's step type); `None` for a
    /// migration written for another backend.
    pub fn to_migration<S: Any + Clone>(&self) -> Option<Migration<S>> {
        let up = self.up.downcast_ref::<S>()?.clone();
        let down = match self.down {
            Some(down) => Some(down.downcast_ref::<S>()?.clone()),
            None => None,
        };
        Some(Migration {
            seq: self.seq,
            name: self.name.to_owned(),
            set: self.set.to_owned(),
            description: self.description.to_owned(),
            checksum: self.checksum,
            up,
            down,
            mode: if self.transactional {
                TxMode::Transactional
            } else {
                TxMode::NonTransactional
            },
            flags: self.flags,
            origin: Origin::source(self.file, self.line),
        })
    }
}

/// Every migration of `set` registered with `#[migration]` in the linked crates whose steps
/// are of type `S`, in no particular order.
///
/// ```
/// let found: Vec<migrate_core::Migration<fn()>> = migrate_core::registered("nothing-here");
/// assert!(found.is_empty());
/// ```
pub fn registered<S: Any + Clone>(set: &str) -> Vec<Migration<S>> {
    let mut found = Vec::new();
    for descriptor in inventory::iter::<Descriptor> {
        if descriptor.set != set {
            continue;
        }
        match descriptor.to_migration::<S>() {
            Some(migration) => found.push(migration),
            None => log::debug!(
                "skipping migration {} {:?} of set {set:?}: it was written for another backend",
                descriptor.seq,
                descriptor.name
            ),
        }
    }
    found
}
