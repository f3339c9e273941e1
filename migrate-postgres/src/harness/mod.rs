//! Testing your own PostgreSQL migrations, on the test server of [`crate::testing`] (one
//! throwaway cluster per test binary): the same tools as `migrate_sqlite::testing`, with the
//! sequence of checks, the report, the problem texts and the snapshot file shared through
//! `migrate_core::harness`. Reached as `migrate_postgres::testing::{Harness, Template, ...}`.

mod check;
mod rows;
mod snapshot;
mod template;
mod upgrade;

pub use check::{CheckedDb, Harness, Seed, SeedFn};
pub use migrate_core::harness::{CheckFailure, CheckReport};
pub use snapshot::{assert_schema_snapshot, schema_snapshot};
pub use template::Template;
pub use upgrade::UpgradeReport;

use crate::testing::{TestDatabase, server};
use crate::{Error, Result};

/// A new empty database on the test server, or why there is none.
pub(crate) fn fresh_database() -> Result<TestDatabase> {
    server().ok_or(Error::NoTestServer)?.try_create_database("")
}
