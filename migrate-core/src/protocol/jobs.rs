//! Which migrations an operation runs, and the refusals decided before anything changes: the
//! one selection the runner and every dry run share.

use super::{Job, Operation, Recorded, Refusal, refusal};
use crate::{Direction, DownTarget, Plan, Registry};

/// The plan and the jobs of `op` against the tracking rows read under the lock (`before`),
/// refused as the runner refuses: a transactional migration recorded as started, `down N`
/// with fewer than N applied, `redo` with nothing applied, and the plan's own refusals
/// (blockers, missing or irreversible migrations). `database` and `table` name the database
/// and the tracking table in the started-row refusal.
///
/// ```
/// use migrate_core::protocol::{Operation, Recorded, Refusal, jobs};
/// use migrate_core::{Direction, Migration, Policy, Registry, Validation};
/// #[derive(Debug)]
/// enum MyError { Core(migrate_core::Error), Refused(Refusal) }
/// impl From<migrate_core::Error> for MyError { fn from(e: migrate_core::Error) -> Self { MyError::Core(e) } }
/// impl From<Refusal> for MyError { fn from(r: Refusal) -> Self { MyError::Refused(r) } }
///
/// let registry = Registry::new("default", vec![Migration::new(1, "a", ())], Validation::strict())
///     .unwrap();
/// let none = Recorded::new(Vec::new());
/// let policy = Policy::default();
/// let (plan, up) =
///     jobs::<(), MyError>(&registry, &none, &policy, Operation::Up(None), "db", "t").unwrap();
/// assert_eq!(plan.current(), None);
/// assert_eq!((up[0].seq, up[0].direction), (1, Direction::Up));
/// let redo = jobs::<(), MyError>(&registry, &none, &policy, Operation::Redo, "db", "t");
/// assert!(matches!(redo, Err(MyError::Refused(Refusal::NothingToRedo { .. }))));
/// ```
pub fn jobs<S, E>(
    registry: &Registry<S>,
    before: &Recorded,
    policy: &crate::Policy,
    op: Operation,
    database: &str,
    table: &str,
) -> Result<(Plan, Vec<Job>), E>
where
    E: From<crate::Error> + From<Refusal>,
{
    let set = registry.set();
    refusal::started_transactional(before, registry, database, table)?;
    let plan = Plan::new(registry, before.rows());
    let jobs_of = |seqs: Vec<u64>, direction| {
        seqs.into_iter()
            .map(move |seq| Job { seq, direction })
            .collect::<Vec<_>>()
    };
    let jobs = match op {
        Operation::Up(target) => jobs_of(plan.to_apply(target, policy)?, Direction::Up),
        Operation::Down(target) => {
            refusal::down_too_far(target, before, set)?;
            jobs_of(plan.to_revert(target, policy)?, Direction::Down)
        }
        Operation::Redo => {
            let last = plan.to_revert(DownTarget::Steps(1), policy)?;
            if last.is_empty() {
                return Err(Refusal::NothingToRedo {
                    set: set.to_owned(),
                }
                .into());
            }
            let mut jobs = jobs_of(last.clone(), Direction::Down);
            jobs.extend(jobs_of(last, Direction::Up));
            jobs
        }
    };
    Ok((plan, jobs))
}
