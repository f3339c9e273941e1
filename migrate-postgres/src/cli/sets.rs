//! `sets` on PostgreSQL: the sets of `#[migration]`s for this backend linked into the binary,
//! and where each stands in the database (read only: nothing is created).

use super::target::PgTarget;
use crate::{Migrator, Settings, StepFnPtr};
use migrate_core::cli::SetLine;
use std::collections::BTreeMap;

/// Every registered set (and the migrator's own, when its migrations were built by hand),
/// sorted by name, each with its standing or why it cannot be read.
pub(super) fn sets(migrator: &Migrator, url: &str, settings: &Settings) -> Vec<SetLine> {
    let mut sets: BTreeMap<String, usize> = BTreeMap::new();
    for descriptor in inventory::iter::<migrate_core::Descriptor> {
        // Only the migrations written for this backend (their step is our fn pointer type).
        if descriptor.up.downcast_ref::<StepFnPtr>().is_some() {
            *sets.entry(descriptor.set.to_owned()).or_default() += 1;
        }
    }
    if let Some(list) = &migrator.migrations {
        sets.insert(migrator.set.clone(), list.len());
    }
    sets.into_iter()
        .map(|(set, migrations)| SetLine {
            standing: Some(standing(migrator, &set, url, settings)),
            set,
            migrations,
        })
        .collect()
}

/// `applied 2, pending 1 (at seq 2)`, or the problem reading it.
fn standing(migrator: &Migrator, set: &str, url: &str, settings: &Settings) -> String {
    let mut for_set = migrator.clone().set(set);
    if set != migrator.set {
        // A hand-built list belongs to the migrator's own set only.
        for_set.migrations = None;
    }
    let status = PgTarget::connect(url, settings)
        .and_then(|conn| for_set.on(conn))
        .and_then(|mut session| session.status());
    match status {
        Ok(report) => migrate_core::cli::output::standing(&report),
        Err(e) => format!("cannot read it: {e}"),
    }
}
