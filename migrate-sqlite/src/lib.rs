//! Database migrations for SQLite, written as Rust functions and run under a safety protocol:
//! an OS lock, a verified backup, one savepoint per migration, foreign-key and row-count checks,
//! and the tracking row in the same transaction, so that no failure, crash or concurrent start
//! leaves the database half-migrated or silently loses rows. Every error says what was kept and
//! what to run next.
//!
//! # Quick start
//!
//! ```toml
//! [dependencies]
//! migrate-sqlite = "0.1"      # the only dependency you need (rusqlite is re-exported)
//! ```
//!
//! ```
//! use migrate_sqlite::{migration, Migrator, Result, Tx};
//!
//! /// Creates the users table. (Doc comments become the migration's description.)
//! #[migration(seq = 1, set = "doc_example")]
//! fn create_users(tx: &Tx) -> Result<()> {
//!     tx.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
//!     Ok(())
//! }
//!
//! /// Adds an email column (reversible: a module with `up` and `down`).
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
//!
//! fn main() -> Result<()> {
//!     # let dir = tempfile::tempdir().unwrap();
//!     # let app_db = dir.path().join("app.db");
//!     // Lock, back up, apply both, verify; a no-op when nothing is pending.
//!     let report = Migrator::new().set("doc_example").open(&app_db)?.up()?;
//!     println!("{report}");
//!     Ok(())
//! }
//! ```
//!
//! `fn main() -> Result<()>` prints a failure's message and its causes (its `Debug` is its
//! message, as with `anyhow`), not a struct dump.
//!
//! # Where to go next
//!
//! - [`macro@migration`]: the attribute and its keys (`seq`, `name`, `set`, `down`,
//!   `transaction = false`, `destructive`, `rebuild`), and what its checksum covers.
//! - [`Migrator`]: configuration (set, failure policy, backups, busy timeout), then
//!   [`Migrator::open`] a file or [`Migrator::on`] your own connection, giving a [`Session`]:
//!   `up`, `down`, `redo`, [`dry_run`](Session::dry_run), `status`, `history`, `backup`,
//!   `snapshot`, `restore`, `resolve`.
//! - [`Tx`]: what a migration receives; derefs to [`rusqlite::Connection`]. [`Rebuild`] does
//!   SQLite's 12-step table rebuild for you.
//! - [`Error`]: one enum; every message says what happened, what was kept and what to run.
//!   `?` works on rusqlite, I/O and boxed errors inside migrations; [`Error::other`] wraps any
//!   other error and keeps it as the `source()`.
//! - [`testing`]: [`Harness`](testing::Harness) checks every migration (up, down, up again,
//!   integrity, lost rows) in one call; [`Template`](testing::Template) hands each test a fresh
//!   migrated database.
//! - `cli` (feature): `migrate status | up | down | plan | verify | ...` inside your own binary,
//!   with `--json` on every command.
//!
//! # Async apps
//!
//! Migrations are synchronous (SQLite work is blocking I/O). Migrating before the async runtime
//! starts is simplest and fine; inside a runtime, run the whole migration on a blocking thread,
//! e.g. with tokio (compiled here against a stand-in with tokio's signature, so the workspace
//! does not depend on tokio):
//!
//! ```no_run
//! # mod tokio { pub mod task {
//! #     pub struct JoinError;
//! #     impl From<JoinError> for Box<dyn std::error::Error> { fn from(_: JoinError) -> Self { "join".into() } }
//! #     pub async fn spawn_blocking<F: FnOnce() -> R, R>(f: F) -> Result<R, JoinError> { Ok(f()) }
//! # } }
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! let report = tokio::task::spawn_blocking(|| {
//!     migrate_sqlite::Migrator::new().open("app.db")?.up()
//! })
//! .await??; // JoinError, then the migration's own error
//! # let _ = report; Ok(()) }
//! ```
//!
//! The same with a plain thread, which is what `spawn_blocking` does for you:
//!
//! ```
//! # use migrate_sqlite::{Migration, Migrator, Step};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.db");
//! let report = std::thread::spawn(move || {
//!     Migrator::new()
//!         .with_migrations([Migration::new(1, "t", Step::sql("CREATE TABLE t (x)"))])
//!         .open(&path)?
//!         .up()
//! })
//! .join()
//! .expect("the migration thread panicked")?;
//! assert_eq!(report.after, Some(1));
//! # Ok::<(), migrate_sqlite::Error>(())
//! ```
//!
//! # Features
//!
//! - `bundled` (default): SQLite compiled in, the same version everywhere. Turn default
//!   features off to link the system's SQLite or SQLCipher through `libsqlite3-sys`'s features.
//!   `libsqlite3-sys` is linked once per binary: this crate's rusqlite uses a version that
//!   sqlx's and diesel's SQLite drivers accept, so one app can use both.
//! - `serde`: `Serialize` for [`RunReport`], [`StatusReport`], [`HistoryRow`], [`BackupInfo`],
//!   [`DryRun`] and [`RestoreReport`], in the shape `--json` prints.
//! - `cli`: the embeddable command line (module `cli`); implies `serde`.

#![warn(missing_docs)]

extern crate self as migrate_sqlite;

mod adopt;
mod backend;
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
#[cfg(feature = "serde")]
mod serialize;
mod session;
mod sets;
mod sqlite_codes;
mod step;
mod step_call;
pub mod testing;
mod tracking;
mod tx;
mod verify;

pub use adopt::{AdoptReport, Tool};
pub use backup::{
    BackupInfo, BackupKind, BackupSettings, DamagedRestore, Progress, ProgressFn, RestoreFrom,
    RestoreOptions, RestoreReport, Retention, validate_snapshot_name,
};
pub use dry_run::{DroppedColumn, DryRun, DryRunOperation, DryRunOutcome, DryRunStep};
pub use error::{BoxedError, Error, FkViolation, Result};
pub use fingerprint::SchemaDiff;
pub use hooks::{Event, HookFn};
pub use lock::lock_path;
pub use migrate_core::Error as CoreError;
pub use migrate_core::import;
pub use migrate_core::{
    AppliedRow, Blocker, Checksum, DEFAULT_SET, DownTarget, Flags, Origin, Plan, PlanEntry, Policy,
    Registry, RowState, Status, TxMode, Validation,
};
/// Registers a function, or a module with `up` and `down`, as a migration.
///
/// Keys: `seq = N` (required, 1 or more), `name = "..."`, `set = "..."`, `down = path` (fn form),
/// `transaction = false`, `destructive`, `rebuild`, `legacy_alter_table` (run it with
/// `PRAGMA legacy_alter_table = ON`, put back afterwards), `crate = path`. Doc comments become the
/// migration's description. Mistakes are compile errors pointing at the token.
///
/// # The checksum
///
/// Computed at compile time from the `up` step's tokens (its parameters, return type and
/// body): formatting, comments and line endings do not change it. It also covers the contents
/// of every file the body names in `include_str!("...")` or `include_bytes!("...")` with a
/// string literal, resolved as the compiler resolves it (relative to the source file holding
/// the call); editing such a file makes cargo rebuild and the migration read as modified.
/// It cannot see code outside the body: SQL in a `const` or `static`, in a helper function
/// the body calls, in a file read at run time, or built by a macro (such as `concat!`) is not
/// covered, so editing it goes unnoticed. Keep a migration's SQL literally in its body or in
/// an `include_str!` file. If the compiler cannot tell which file holds the call (tokens made
/// by another macro), a relative `include_str!` path is covered only as text.
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
