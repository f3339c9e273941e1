//! The fast path of a start with nothing to do: one read, no lock, no write. Anything else
//! (work to do, or something to refuse) is decided again under the lock.

use super::{Backend, Settings};
use crate::{Plan, Registry, RunReport, Status};
use std::time::Duration;

/// The report of a start with nothing to apply, or `None` when the locked path must decide.
pub(super) fn nothing_to_apply<B: Backend>(
    backend: &mut B,
    registry: &Registry<B::Step>,
    settings: Settings<'_>,
    target: Option<u64>,
) -> Result<Option<RunReport>, B::Error> {
    let known_target = target.is_none_or(|seq| registry.get(seq).is_some());
    if known_target && backend.unchanged_since_last_run(registry)? {
        // Exactly this registry is applied: nothing to apply, accept or refuse.
        let last = registry.migrations().last().map(|m| m.seq);
        return Ok(Some(empty_report(registry.set(), last)));
    }
    let rows = backend.read_rows(registry.set())?;
    let plan = Plan::new(registry, &rows);
    if accepts_something(&plan, settings) {
        return Ok(None);
    }
    match plan.to_apply(target, settings.policy) {
        Ok(seqs) if seqs.is_empty() => Ok(Some(empty_report(registry.set(), plan.current()))),
        _ => Ok(None),
    }
}

/// Whether the operator accepted the new checksum of a migration recorded as modified.
pub(super) fn accepts_something(plan: &Plan, settings: Settings<'_>) -> bool {
    settings.policy.accepted_checksums.iter().any(|seq| {
        matches!(
            plan.entry(*seq).map(|e| &e.status),
            Some(Status::Modified { .. })
        )
    })
}

/// A run that changed nothing, at `at`.
pub(super) fn empty_report(set: &str, at: Option<u64>) -> RunReport {
    RunReport {
        set: set.to_owned(),
        steps: Vec::new(),
        accepted_checksums: Vec::new(),
        before: at,
        after: at,
        duration: Duration::ZERO,
    }
}
