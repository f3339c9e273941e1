//! What the backends' test harnesses share: the whole-sequence check (its order of steps, its
//! report and the text of every problem it finds), seeds, and the schema snapshot file with
//! its diff. A backend supplies the database acts through [`CheckTarget`]; users reach all of
//! this through `migrate_sqlite::testing` and `migrate_postgres::testing`.
//!
//! ```
//! use migrate_core::harness::{Seed, Seeds};
//! let mut seeds: Seeds<fn()> = Seeds::default();
//! seeds.add(1, Seed::from("INSERT INTO users VALUES (1)"));
//! assert_eq!(seeds.at(1).count(), 1);
//! assert_eq!(seeds.at(2).count(), 0);
//! ```

mod check;
mod diff;
mod seed;
mod snapshot;

pub use check::{CheckFailure, CheckReport, CheckTarget, Checked, run_check};
pub use diff::line_diff;
pub use seed::{Seed, Seeds};
pub use snapshot::{UPDATE_SCHEMA_VAR, assert_snapshot, compare_snapshot};
