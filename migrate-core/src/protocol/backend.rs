//! What the protocol asks of a database: the list of primitives a backend implements. The
//! backend answers questions and performs acts; the order of acts and every decision (what to
//! refuse, what to keep after a failure, when to restore) live in [`run`](super::run).

use super::{Job, Refusal};
use crate::{AppliedRow, Direction, HistoryEvent, Migration, Registry, RowCount, SchemaDiff};
use std::fmt;
use std::path::{Path, PathBuf};

/// A tracking-row change of a completed step, queued until just before its transaction
/// commits (after the last schema change, so the backend can prepare its statements once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowChange {
    /// The migration is applied: insert its row (or turn its started row into an applied one).
    Applied {
        /// Its seq.
        seq: u64,
        /// Its name.
        name: String,
        /// Its checksum, as text.
        checksum: String,
        /// How long it took, in milliseconds.
        duration_ms: u64,
    },
    /// The migration was reverted: delete its row.
    Removed {
        /// Its seq.
        seq: u64,
    },
}

/// The primitives of one database, driven by [`run`](super::run). One value per run: it owns
/// (or borrows) the connection and whatever per-run state its checks need (a foreign key
/// baseline, row counts, the lock).
///
/// Every method is called by the protocol in a fixed order (see [`run`](super::run)):
/// `lock`, `open_session`, `begin`, `ensure_tracking`, `read_rows_locked`, `back_up`,
/// `start_batch`, then per migration `savepoint`/`run_step`/`check_step`/`release_savepoint`
/// (or, outside a transaction, `commit`, `begin`, `mark_started`, `run_step`, ...), then
/// `write_tracking`, `store_schema`, `write_history`, `commit`, `close_session`, `unlock`.
///
/// ```
/// // A backend is a type implementing this trait; see migrate-sqlite's `SqliteBackend` and
/// // migrate-postgres's `PgBackend` for the two real ones.
/// fn assert_backend<B: migrate_core::protocol::Backend>() {}
/// ```
pub trait Backend {
    /// What a migration's step is for this backend.
    type Step;
    /// The backend's error type; the protocol's own refusals convert into it.
    type Error: From<crate::Error> + From<Refusal> + fmt::Display;

    /// The database as messages name it (a path, or `host/dbname`).
    fn label(&self) -> String;

    /// The table holding the tracking rows, as messages name it (`_migrate_applied`).
    fn tracking_table(&self) -> String;

    /// The fast path of a start with nothing to do: true when the database records exactly
    /// this registry as applied (one read, no lock, no write). False when unsure.
    fn unchanged_since_last_run(
        &mut self,
        registry: &Registry<Self::Step>,
    ) -> Result<bool, Self::Error>;

    /// The tracking rows of `set`, read in one snapshot, outside the run's transaction (before
    /// the lock, and after a failure to tell what was kept).
    fn read_rows(&mut self, set: &str) -> Result<Vec<AppliedRow>, Self::Error>;

    /// An error met on the fast path (before the lock), said as such.
    fn explain_unlocked(&self, error: Self::Error) -> Self::Error {
        error
    }

    /// Takes the migration lock, waiting up to the busy timeout. Released by
    /// [`unlock`](Backend::unlock), which the protocol calls on every path.
    fn lock(&mut self) -> Result<(), Self::Error>;

    /// Releases the lock (and does what must follow a run, such as backup retention).
    fn unlock(&mut self);

    /// Sets the connection up for migrating (checks, session settings), under the lock.
    fn open_session(&mut self) -> Result<(), Self::Error>;

    /// Puts the connection's settings back; called after every `open_session` that succeeded.
    fn close_session(&mut self) -> Result<(), Self::Error>;

    /// Begins the run's write transaction.
    fn begin(&mut self) -> Result<(), Self::Error>;

    /// Commits the run's transaction; `doing` says which commit, for messages.
    fn commit(&mut self, doing: &str) -> Result<(), Self::Error>;

    /// Rolls the transaction back, if one is open; never fails (logs instead).
    fn rollback(&mut self);

    /// Whether the run's transaction is still open (a migration may have ended it).
    fn in_transaction(&mut self) -> bool;

    /// Creates the tracking tables when missing, in the run's transaction.
    fn ensure_tracking(&mut self) -> Result<(), Self::Error>;

    /// The tracking rows of `set`, in the run's transaction (under the lock).
    fn read_rows_locked(&mut self, set: &str) -> Result<Vec<AppliedRow>, Self::Error>;

    /// The highest recorded seq of `set`, after the commit.
    fn highest_seq(&mut self, set: &str) -> Result<Option<u64>, Self::Error>;

    /// Writes the queued tracking-row changes, in order.
    fn write_tracking(&mut self, set: &str, changes: &[RowChange]) -> Result<(), Self::Error>;

    /// Records a `transaction = false` migration as started (up) or reverting (down), in the
    /// transaction the protocol began; the protocol commits it before the step runs.
    fn mark_started(
        &mut self,
        set: &str,
        m: &Migration<Self::Step>,
        direction: Direction,
    ) -> Result<(), Self::Error>;

    /// Replaces a recorded checksum (the operator accepted a modified migration).
    fn update_checksum(&mut self, set: &str, seq: u64, checksum: &str) -> Result<(), Self::Error>;

    /// Appends history rows.
    fn write_history(&mut self, events: &[HistoryEvent]) -> Result<(), Self::Error>;

    /// Stores the schema snapshot and fingerprint of `set` (and whatever the fast path reads),
    /// after the tracking rows, just before a commit.
    fn store_schema(&mut self, set: &str) -> Result<(), Self::Error>;

    /// Hand-made schema changes since the stored snapshot, if any.
    fn schema_drift(&mut self) -> Result<Option<SchemaDiff>, Self::Error>;

    /// Takes the pre-migration backup (`reason`: `pre-up`, `pre-down`, `pre-redo`) inside the
    /// write transaction, before anything is written. `None` when this backend or this
    /// configuration takes none.
    fn back_up(&mut self, reason: &str) -> Result<Option<PathBuf>, Self::Error>;

    /// Under `KeepApplied`, the backup taken just before a `transaction = false` migration
    /// once earlier steps were committed. `None` when none is taken.
    fn back_up_before_step(&mut self) -> Result<Option<PathBuf>, Self::Error>;

    /// Puts `from` back after a failure a rollback could not undo, keeping a copy of the
    /// failed state first; returns that copy's path.
    fn restore(&mut self, from: &Path) -> Result<PathBuf, Self::Error>;

    /// Why no backup exists to restore, as the end of "restore a backup of your own: ...".
    fn no_backup_reason(&self) -> String;

    /// Whether `backup` is the one taken once before every set of an `up --all-sets` (each
    /// set's run uses it): restoring it also rolls back what the sets before this one applied.
    /// Default: no.
    fn backup_shared_by_sets(&self, backup: &Path) -> bool {
        let _ = backup;
        false
    }

    /// Before the first step, in the run's transaction: the baselines the per-step checks
    /// compare against (foreign key violations, row counts).
    fn start_batch(&mut self) -> Result<(), Self::Error>;

    /// After a `transaction = false` step committed: baselines afresh (others may have written).
    fn restart_baselines(&mut self) -> Result<(), Self::Error>;

    /// Opens the savepoint of one transactional migration.
    fn savepoint(&mut self) -> Result<(), Self::Error>;

    /// Releases it after the step and its checks passed.
    fn release_savepoint(&mut self) -> Result<(), Self::Error>;

    /// Rolls back to it and releases it; an error means the transaction is gone.
    fn rollback_to_savepoint(&mut self) -> Result<(), Self::Error>;

    /// Runs one step of `m` (`job` says which direction) with the backend's guards, in the
    /// savepoint or, for `transaction = false`, outside any transaction.
    fn run_step(&mut self, m: &Migration<Self::Step>, job: Job) -> Result<(), Self::Error>;

    /// After a transactional step (more to come): whether the run's transaction has grown so
    /// large that it must commit now and go on in a new one (a chunk). Committed chunks stay
    /// if a later migration fails, as after a `transaction = false` step. Default: never.
    fn transaction_full(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }

    /// Puts back the connection settings a step changed (so they do not leak into the next),
    /// right after the step, before its checks.
    fn after_step(&mut self) -> Result<(), Self::Error>;

    /// The checks after a step, in its transaction: new foreign key violations, lost rows.
    /// Returns the row counts of the tables it touched (for its history row).
    fn check_step(
        &mut self,
        m: &Migration<Self::Step>,
        job: Job,
    ) -> Result<Vec<RowCount>, Self::Error>;

    /// The command-line switch that lets the refusal `error` pass for one run, when it is a
    /// guard the operator may override (`--allow-destructive`); the outcome then names the
    /// command with it. Default: none.
    fn override_flag(&self, error: &Self::Error) -> Option<&'static str> {
        let _ = error;
        None
    }

    /// Whether the database rolled the whole transaction back itself on `error` (a restore
    /// over that rollback could only do harm).
    fn rolled_back_itself(&self, error: &Self::Error) -> bool;

    /// A backend's own account of a failure whose cause is not the migration (a full disk, a
    /// read-only file), given what was kept; `rerun` is the command that finishes the run
    /// (`migrate down --to 3`); `None` for the protocol's usual text.
    fn explain_failure(
        &mut self,
        error: &Self::Error,
        before: &super::Recorded,
        after: &super::Recorded,
        rerun: &str,
        rolled_back_itself: bool,
        backup: Option<&Path>,
    ) -> Option<String>;

    /// The error of a failed migration, carrying the step's error and the outcome text.
    fn migration_failed(
        &self,
        set: &str,
        m: &Migration<Self::Step>,
        direction: Direction,
        error: Self::Error,
        outcome: String,
    ) -> Self::Error;

    /// The error of a failed commit; `kept` says what was kept, read back; `rerun` is the
    /// command that finishes the run once the cause is fixed (`migrate down --to 3`).
    fn commit_failed(&self, error: Self::Error, kept: String, rerun: &str) -> Self::Error;
}
