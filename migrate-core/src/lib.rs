//! Backend-agnostic core of the `migrate` framework.
//!
//! `#[migration]` items register [`Descriptor`]s with `inventory`; a [`Registry`] collects the
//! ones of one set, orders and validates them; a [`Plan`] diffs them against the rows a backend
//! read from its tracking table. Backends (`migrate-sqlite`) execute plans. Nothing here touches
//! a database.
//!
//! Published as the package `migrate-base` (the name `migrate-core` on crates.io belongs to an
//! unrelated crate); the library keeps the name `migrate_core`. Apps do not depend on it
//! directly: a backend crate re-exports what they need.
//!
//! ```
//! use migrate_core::*;
//! let registry = Registry::new(
//!     DEFAULT_SET,
//!     vec![Migration::new(1, "create_users", ()), Migration::new(2, "add_email", ())],
//!     Validation::strict(),
//! )?;
//! let plan = Plan::new(&registry, &[]);
//! assert_eq!(plan.to_apply(None, &Policy::default())?, [1, 2]);
//! # Ok::<(), migrate_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backups;
mod checksum;
#[cfg(feature = "cli")]
pub mod cli;
mod descriptor;
mod error;
mod failure_policy;
pub mod harness;
mod history;
mod hooks;
pub mod import;
mod migration;
mod plan;
mod problem;
pub mod protocol;
mod registry;
mod report;
mod schema;
#[cfg(feature = "serde")]
pub mod serialize;
pub mod sql_text;

pub use checksum::{CHECKSUM_VERSION, Checksum, ChecksumHasher, ChecksumParseError};
#[doc(hidden)]
pub use descriptor::Descriptor;
pub use descriptor::{ErasedStep, registered};
pub use error::{Blocker, Error};
pub use failure_policy::FailurePolicy;
pub use history::{HistoryEvent, HistoryRow, RecordedRow, RowCount, RowValues};
pub use hooks::{Event, HookFn, Hooks};
pub use migration::{DEFAULT_SET, Flags, Migration, Origin, TxMode};
pub use plan::{AppliedRow, DownTarget, Plan, PlanEntry, Policy, RowState, Status};
pub use problem::{MAX_SEQ, Problem, SeqGap, running_in_test_binary};
pub use protocol::Resolution;
pub use registry::{Registry, Validation};
pub use report::{Direction, RunReport, StatusLine, StatusReport, StepReport};
pub use schema::{SchemaDiff, SchemaObjects};

#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
