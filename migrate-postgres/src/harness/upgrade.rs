//! A copy of a real database (a `pg_dump -Fc` file, e.g. of production) loaded into a fresh
//! database of the test server and migrated: what the next deploy will do to it.

use super::Harness;
use crate::backup::{preflight, tools};
use crate::testing::TestDatabase;
use crate::{Error, Result, RunReport, StatusReport};
use std::path::Path;

/// A migrated copy of a dump.
#[derive(Debug)]
pub struct UpgradeReport {
    /// What the run did.
    pub run: RunReport,
    /// Where every migration stands afterwards.
    pub status: StatusReport,
    /// The migrated copy on the test server (`copy.client()` for your own checks).
    pub copy: TestDatabase,
}

impl Harness {
    /// Loads the `pg_dump -Fc` archive at `dump` into a new database of the test server
    /// (`pg_restore --no-owner --no-privileges --single-transaction --exit-on-error`: roles of
    /// the source need not exist here) and runs the pending migrations on it, without
    /// backups; reports what ran and where every migration stands. The file is only read.
    ///
    /// ```no_run
    /// # use migrate_postgres::{Migrator, testing::Harness};
    /// let upgraded = Harness::new(Migrator::new()).upgrade_copy_of("prod-2026-12-01.dump".as_ref())?;
    /// println!("{}", upgraded.run);
    /// assert!(upgraded.status.is_clean(), "{}", upgraded.status);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn upgrade_copy_of(&self, dump: &Path) -> Result<UpgradeReport> {
        let copy = super::fresh_database()?;
        load(&copy, dump)?;
        let mut session = self.migrator.on(copy.connect())?;
        let run = session.up()?;
        let status = session.status()?;
        drop(session);
        Ok(UpgradeReport { run, status, copy })
    }
}

/// `pg_restore` of the server's major version into `copy`, all or nothing.
fn load(copy: &TestDatabase, dump: &Path) -> Result<()> {
    let config = copy.config();
    let mut client = copy.client();
    let major = tools::server_major(preflight::server_version_num(&mut client)?);
    drop(client);
    let found = tools::find(&tools::search_dirs(None, major), major)?;
    let output = tools::connected(&found.pg_restore, &config)
        .args([
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
        ])
        // The database name goes as an argument here: a test database's name (`tN`) holds
        // nothing a connection string parser would read.
        .arg("-d")
        .arg(&copy.name)
        .arg(dump)
        .output()
        .map_err(|source| Error::BackupIo {
            doing: "cannot run pg_restore to load",
            path: dump.to_owned(),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::UpgradeCopyFailed {
        dump: dump.to_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
