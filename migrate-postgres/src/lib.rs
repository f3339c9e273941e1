//! PostgreSQL backend of the `migrate` framework (in progress): the database-specific
//! primitives the shared run protocol will drive. A connection of its own, a session advisory
//! lock polled up to a busy timeout, one `BEGIN READ WRITE` per batch with a savepoint per
//! migration, a commit guard no migration can get past, schema-qualified tracking tables,
//! `transaction = false` migrations sent one statement at a time, and a catalog fingerprint.
//!
//! ```
//! use migrate_postgres::{migration, Result, Tx};
//!
//! /// Creates the users table.
//! #[migration(seq = 1, set = "doc_example")]
//! fn create_users(tx: &mut Tx) -> Result<()> {
//!     tx.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)")
//! }
//!
//! /// Adds an email column (reversible).
//! #[migration(seq = 2, set = "doc_example")]
//! mod add_email {
//!     use migrate_postgres::{Result, Tx};
//!     pub fn up(tx: &mut Tx) -> Result<()> {
//!         tx.batch_execute("ALTER TABLE users ADD COLUMN email text")
//!     }
//!     pub fn down(tx: &mut Tx) -> Result<()> {
//!         tx.batch_execute("ALTER TABLE users DROP COLUMN email")
//!     }
//! }
//! # fn main() {
//! assert_eq!(migrate_postgres::registered("doc_example").len(), 2);
//! # }
//! ```

#![warn(missing_docs)]

extern crate self as migrate_postgres;

mod backend;
mod backup;
mod batch;
mod chunk;
#[cfg(feature = "cli")]
pub mod cli;
mod commit_guard;
mod connection;
mod connection_target;
mod digest;
mod dry_run;
mod engine;
mod error;
mod fingerprint;
mod guard;
mod harness;
mod lock;
mod migrate_session;
mod migrator;
mod outside;
mod restore_policy;
mod run_backup;
#[cfg(feature = "serde")]
mod serialize;
mod session;
mod split;
mod step;
pub mod testing;
mod tracking;
mod tx;

pub use backup::Integrity;
pub use backup::{
    BackupInfo, BackupKind, Backups, RestoreFrom, RestoreOptions, RestoreReport, Retention,
    validate_snapshot_name,
};
pub use backup::{Progress, ProgressFn, ProgressStage};
pub use batch::Batch;
pub use connection::{APPLICATION_NAME, Connection, Settings};
pub use dry_run::{
    DroppedColumn, DryRun, DryRunOperation, DryRunOptions, DryRunOutcome, DryRunStep, LockMode,
    TableChange, TableLock, TableRewrite, Warning, WarningKind,
};
pub use engine::check_engine;
pub use error::{Error, LockHolder, Result};
pub use fingerprint::{SchemaDiff, SchemaObjects, fingerprint, schema_dump};
pub use lock::{LockGuard, lock_key};
pub use migrate_core::DownTarget;
pub use migrate_core::Error as CoreError;
pub use migrate_core::{
    AppliedRow, Blocker, Checksum, DEFAULT_SET, Direction, Event, FailurePolicy, Flags, Plan,
    Policy, Resolution, RowState, RunReport, Status, StatusLine, StatusReport, StepReport, TxMode,
};
pub use migrate_session::Session;
pub use migrator::Migrator;
/// The `postgres` version this crate is built on, so apps need no second dependency.
pub use postgres;
pub use run_backup::RunBackup;
pub use split::split_statements;
pub use step::{Step, StepFnPtr};
pub use tracking::{
    APPLIED_TABLE, HistoryEvent, HistoryRow, RecordedRow, RowCount, RowValues, Tracking,
};
pub use tx::Tx;

/// Registers a function, or a module with `up` and `down`, as a PostgreSQL migration.
///
/// The keys are the SQLite backend's: `seq = N` (required), `name`, `set`, `down = path` (fn
/// form), `transaction = false`, `destructive`, `rebuild`, `crate = path`. Steps take
/// `&mut Tx`. Mistakes are compile errors pointing at the token.
///
/// ```
/// use migrate_postgres::{migration, Result, Tx};
///
/// #[migration(seq = 1, set = "attr_doc")]
/// fn create_tags(tx: &mut Tx) -> Result<()> {
///     tx.batch_execute("CREATE TABLE tags (id bigint PRIMARY KEY, label text NOT NULL)")
/// }
///
/// /// Outside any transaction: each statement is sent alone.
/// #[migration(seq = 2, set = "attr_doc", transaction = false)]
/// fn index_tags(tx: &mut Tx) -> Result<()> {
///     tx.batch_execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_label ON tags (label)")
/// }
/// # fn main() {
/// assert_eq!(migrate_postgres::registered("attr_doc").len(), 2);
/// # }
/// ```
pub use migrate_macros::postgres_migration as migration;

/// A migration whose steps run on PostgreSQL.
pub type Migration = migrate_core::Migration<Step>;

/// The migrations of `set` registered with `#[migration]` in the linked crates, unvalidated and
/// unordered.
///
/// ```
/// assert!(migrate_postgres::registered("no-such-set").is_empty());
/// ```
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
