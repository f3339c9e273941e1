//! Servers that speak PostgreSQL's protocol without its semantics, refused from `version()`:
//! CockroachDB has no session advisory locks; YugabyteDB runs DDL outside transactions by
//! default; Redshift has neither.

use crate::{Connection, Error, Result};

/// Refuses a `version()` text that names an engine that only looks like PostgreSQL.
///
/// ```
/// use migrate_postgres::check_engine;
/// assert!(check_engine("PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu").is_ok());
/// assert!(check_engine("CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27)").is_err());
/// ```
pub fn check_engine(version: &str) -> Result<()> {
    let refuse = |engine, why| {
        Err(Error::UnsupportedEngine {
            engine,
            version: version.to_owned(),
            why,
        })
    };
    if version.contains("CockroachDB") {
        return refuse(
            "CockroachDB",
            "it has no session advisory locks, so concurrent runs cannot be kept apart",
        );
    }
    if version.contains("-YB-") || version.contains("YugabyteDB") {
        return refuse(
            "YugabyteDB",
            "its DDL is not transactional by default, so a failed migration cannot be rolled back",
        );
    }
    if version.contains("Redshift") {
        return refuse(
            "Amazon Redshift",
            "it has no advisory locks and no transactional DDL for every statement",
        );
    }
    Ok(())
}

impl Connection {
    /// The server's `version()` text, after refusing engines that only look like PostgreSQL.
    /// [`Connection::open`] calls it already.
    pub fn checked_version(&mut self) -> Result<String> {
        let version: String = self.client.query_one("SELECT version()", &[])?.get(0);
        check_engine(&version)?;
        Ok(version)
    }
}
