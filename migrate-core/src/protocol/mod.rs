//! The run protocol, once for every backend: lock → read the tracking rows under the lock →
//! plan → refusals → backup when something will change → each migration in its own savepoint
//! with its checks and its tracking row → commit → failure policy and restore.
//!
//! A backend implements [`Backend`] (the database-specific acts: SQLite's file lock and
//! authorizer, PostgreSQL's advisory lock and commit guard); [`run`] decides their order and
//! every outcome. What a failure kept is read back from the tracking rows, never assumed
//! ([`Recorded`], and the outcome texts).
//!
//! ```
//! use migrate_core::protocol::{Job, Operation};
//! use migrate_core::Direction;
//! let job = Job { seq: 3, direction: Direction::Up };
//! assert!(matches!(Operation::Up(None), Operation::Up(_)));
//! assert_eq!(job.direction.to_string(), "up");
//! ```

mod backend;
mod batch;
mod digest;
mod failure;
mod fast_path;
mod jobs;
mod outcome;
mod refusal;
mod rerun;
mod resolve;

pub use backend::{Backend, RowChange};
pub use digest::Digest;
pub use jobs::jobs;
pub use outcome::{Recorded, kept_summary, shell_word};
pub use refusal::Refusal;
pub use resolve::{Resolution, resolution_event, resolvable};

use crate::{Direction, DownTarget, FailurePolicy, Hooks, Policy, Registry, RunReport};
use std::time::Instant;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Apply pending migrations (up to and including a seq).
    Up(Option<u64>),
    /// Revert applied migrations.
    Down(DownTarget),
    /// Revert the last applied migration and apply it again.
    Redo,
}

impl Operation {
    /// The reason an automatic backup before this operation is named after.
    ///
    /// ```
    /// assert_eq!(migrate_core::protocol::Operation::Redo.backup_reason(), "pre-redo");
    /// ```
    pub fn backup_reason(self) -> &'static str {
        match self {
            Operation::Up(_) => "pre-up",
            Operation::Down(_) => "pre-down",
            Operation::Redo => "pre-redo",
        }
    }
}

/// One migration to run in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The migration.
    pub seq: u64,
    /// Applying or reverting.
    pub direction: Direction,
}

impl Job {
    /// The command that runs this direction again: `migrate up` or `migrate down`.
    ///
    /// ```
    /// use migrate_core::{Direction, protocol::Job};
    /// assert_eq!(Job { seq: 1, direction: Direction::Down }.again(), "migrate down");
    /// ```
    pub fn again(self) -> &'static str {
        match self.direction {
            Direction::Up => "migrate up",
            Direction::Down => "migrate down",
        }
    }
}

/// What the protocol reads from a backend's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// What the plan accepts (out of order, modified checksums...).
    pub policy: &'a Policy,
    /// What a failure keeps.
    pub failure: FailurePolicy,
    /// Callbacks observing the run.
    pub hooks: &'a Hooks,
}

/// Runs `op` under the full protocol.
///
/// ```text
/// nothing to do?  (one read, no lock)         -> report
/// lock; open the session; begin
///   tracking rows, plan, refusals             -> refused, nothing written
///   nothing to do                              -> roll back, report
///   backup; accepted checksums; drift; baselines
///   each job: savepoint, step, checks, tracking row (or outside a transaction)
///     failure -> failure policy, restore if a rollback cannot undo it, history, outcome
///   tracking rows, schema snapshot, history; commit
/// close the session; unlock
/// ```
pub fn run<B: Backend>(
    backend: &mut B,
    registry: &Registry<B::Step>,
    settings: Settings<'_>,
    op: Operation,
) -> Result<RunReport, B::Error> {
    let started = Instant::now();
    if let Operation::Up(target) = op
        && let Some(report) = fast_path::nothing_to_apply(backend, registry, settings, target)
            .map_err(|e| backend.explain_unlocked(e))?
    {
        return Ok(report.took(started));
    }
    backend.lock()?;
    let result = run_locked(backend, registry, settings, op);
    backend.unlock();
    result.map(|report| report.took(started))
}

fn run_locked<B: Backend>(
    backend: &mut B,
    registry: &Registry<B::Step>,
    settings: Settings<'_>,
    op: Operation,
) -> Result<RunReport, B::Error> {
    backend.open_session()?;
    let result = batch::Batch::new(backend, registry, settings).run(op);
    let closed = backend.close_session();
    let report = result?;
    closed?;
    Ok(report)
}

impl RunReport {
    fn took(mut self, started: Instant) -> Self {
        self.duration = started.elapsed();
        self
    }
}
