//! SQLite backend of the `migrate` framework.
//!
//! ```
//! use migrate_sqlite::{migration, Result, Tx};
//!
//! /// Creates the users table.
//! #[migration(seq = 1, set = "doc_example")]
//! fn create_users(tx: &Tx) -> Result<()> {
//!     tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
//!     Ok(())
//! }
//!
//! /// Adds an email column (reversible).
//! #[migration(seq = 2, set = "doc_example")]
//! mod add_email {
//!     use migrate_sqlite::{Result, Tx};
//!     pub fn up(tx: &Tx) -> Result<()> {
//!         tx.execute_batch("ALTER TABLE users ADD COLUMN email TEXT")?;
//!         Ok(())
//!     }
//!     pub fn down(tx: &Tx) -> Result<()> {
//!         tx.execute_batch("ALTER TABLE users DROP COLUMN email")?;
//!         Ok(())
//!     }
//! }
//! # fn main() {
//! let found = migrate_sqlite::registered("doc_example");
//! assert_eq!(found.len(), 2);
//! # }
//! ```

#![warn(missing_docs)]

extern crate self as migrate_sqlite;

mod backup;
mod busy;
#[cfg(feature = "cli")]
pub mod cli;
mod digest;
mod dry_run;
mod error;
mod fingerprint;
mod foreign_keys;
#[cfg(feature = "cli")]
pub mod generate;
mod hooks;
mod lock;
mod migrator;
mod outcome;
mod pragmas;
mod rebuild;
mod rehearse;
mod report;
mod resolve;
mod restore_table;
mod row_counts;
mod runner;
mod sentry;
mod session;
mod sets;
mod sqlite_codes;
mod step;
mod step_call;
pub mod testing;
mod tracking;
mod tx;
mod verify;

pub use backup::{
    BackupInfo, BackupKind, BackupSettings, Progress, ProgressFn, RestoreFrom, RestoreReport,
    Retention, validate_snapshot_name,
};
pub use dry_run::{DryRun, DryRunOutcome, DryRunStep};
pub use error::{Error, FkViolation, Result};
pub use fingerprint::SchemaDiff;
pub use hooks::{Event, HookFn};
pub use lock::lock_path;
pub use migrate_core::Error as CoreError;
pub use migrate_core::{
    AppliedRow, Blocker, Checksum, DEFAULT_SET, DownTarget, Flags, Origin, Plan, PlanEntry, Policy,
    Registry, RowState, Status, TxMode, Validation,
};
/// Registers a function, or a module with `up` and `down`, as a migration.
///
/// Keys: `seq = N` (required, 1 or more), `name = "..."`, `set = "..."`, `down = path` (fn form),
/// `transaction = false`, `destructive`, `rebuild`, `crate = path`. Doc comments become the
/// migration's description. Mistakes are compile errors pointing at the token.
///
/// ```
/// use migrate_sqlite::{migration, Result, Tx};
///
/// /// Forward-only: the migration is named after the fn.
/// #[migration(seq = 1, set = "attr_doc")]
/// fn create_tags(tx: &Tx) -> Result<()> {
///     tx.execute_batch("CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")?;
///     Ok(())
/// }
///
/// /// Reversible, in the form that works in a file of its own: `down = path`.
/// #[migration(seq = 2, set = "attr_doc", down = drop_tag_color)]
/// pub fn add_tag_color(tx: &Tx) -> Result<()> {
///     tx.execute_batch("ALTER TABLE tags ADD COLUMN color TEXT")?;
///     Ok(())
/// }
///
/// pub fn drop_tag_color(tx: &Tx) -> Result<()> {
///     tx.execute_batch("ALTER TABLE tags DROP COLUMN color")?;
///     Ok(())
/// }
///
/// /// Outside any transaction (VACUUM refuses to run inside one).
/// #[migration(seq = 3, set = "attr_doc", transaction = false, name = "compact")]
/// fn vacuum(tx: &Tx) -> Result<()> {
///     tx.execute_batch("VACUUM")?;
///     Ok(())
/// }
///
/// # fn main() {
/// let found = migrate_sqlite::registered("attr_doc");
/// assert_eq!(found.len(), 3);
/// # }
/// ```
pub use migrate_macros::migration;
pub use migrator::{FailurePolicy, Migrator};
pub use rebuild::Rebuild;
pub use rehearse::{Rehearsal, RehearsalReport};
pub use report::{Direction, RunReport, StatusLine, StatusReport, StepReport};
pub use resolve::Resolution;
pub use restore_table::TableRestoreReport;
pub use row_counts::RowCount;
/// The rusqlite version this crate is built on, so apps need no second dependency.
pub use rusqlite;
pub use session::Session;
pub use sets::registered_sets;
pub use step::{Step, StepFnPtr};
pub use tracking::{HistoryEvent, HistoryRow};
pub use tx::Tx;
pub use verify::VerifyReport;

/// A migration whose steps run on SQLite.
pub type Migration = migrate_core::Migration<Step>;

/// The migrations of `set` registered with `#[migration]` in the linked crates, unvalidated and
/// unordered (use [`Registry`] to validate).
pub fn registered(set: &str) -> Vec<Migration> {
    migrate_core::registered::<StepFnPtr>(set)
        .into_iter()
        .map(|m| m.map_steps(Step::from))
        .collect()
}

#[doc(hidden)]
pub mod __private {
    pub use crate::StepFnPtr as Step;
    pub use inventory;
    pub use migrate_core::{Checksum, Descriptor, Flags};
}
