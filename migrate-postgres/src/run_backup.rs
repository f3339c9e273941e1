//! One pre-migration backup for a run over several sets (`migrate up --all-sets`): taken once,
//! before the first set, with writers held off ([`Session::back_up_for_run`]); each set's run
//! then uses it instead of taking its own ([`Migrator::with_run_backup`]). A `transaction =
//! false` failure in a later set restores the state before every set, under the same
//! written-since policy as a run's own backup (`restore_policy`): the baseline is the one read
//! at this backup, and the earlier sets' transactions count as the runner's own.
//!
//! [`Session::back_up_for_run`]: crate::Session::back_up_for_run
//! [`Migrator::with_run_backup`]: crate::Migrator::with_run_backup

use crate::BackupInfo;
use crate::restore_policy::Baseline;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The backup taken once for a run over several sets, shared by every set's run.
///
/// ```no_run
/// let url = "postgres://app@localhost/app";
/// let migrator = migrate_postgres::Migrator::new().backup_dir("/var/backups/app");
/// let taken = migrator.open(url)?.back_up_for_run()?;
/// println!("before every set: {}", taken.info().path.display());
/// for set in ["billing", "search"] {
///     migrator.clone().set(set).with_run_backup(taken.clone()).open(url)?.up()?;
/// }
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RunBackup {
    info: BackupInfo,
    baseline: Baseline,
    /// The txids of every set's runner transactions so far: their writes are not others'.
    own_txids: Arc<Mutex<Vec<i64>>>,
}

impl RunBackup {
    pub(crate) fn new(info: BackupInfo, baseline: Baseline) -> Self {
        RunBackup {
            info,
            baseline,
            own_txids: Arc::default(),
        }
    }

    /// The backup file and its listing entry.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/tmp/b").open("postgres://app@localhost/app")?;
    /// let taken = db.back_up_for_run()?;
    /// assert!(taken.info().path.is_file());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn info(&self) -> &BackupInfo {
        &self.info
    }

    pub(crate) fn path(&self) -> &Path {
        &self.info.path
    }

    pub(crate) fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// Adds a set's runner transactions.
    pub(crate) fn record_txids(&self, txids: &[i64]) {
        match self.own_txids.lock() {
            Ok(mut own) => own.extend_from_slice(txids),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(txids),
        }
    }

    /// Every set's runner transactions recorded so far.
    pub(crate) fn txids(&self) -> Vec<i64> {
        match self.own_txids.lock() {
            Ok(own) => own.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
