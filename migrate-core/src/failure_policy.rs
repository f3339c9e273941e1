//! What a run does with the migrations that succeeded before one fails.

/// What happens to the migrations that succeeded before one fails, in the same run.
///
/// ```
/// assert_eq!(migrate_core::FailurePolicy::default(), migrate_core::FailurePolicy::AllOrNothing);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Roll back the whole run: the database is exactly as before it (the default).
    #[default]
    AllOrNothing,
    /// Keep the migrations that succeeded; roll back only the failing one.
    KeepApplied,
}
