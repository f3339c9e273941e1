//! An open PostgreSQL database with its migrations: the operations users call. `up`, `down` and
//! `redo` run the shared protocol (`migrate_core::protocol::run`) over [`PgBackend`]; the
//! same reports and refusals as the SQLite backend.

use crate::backend::PgBackend;
use crate::tracking::HistoryRow;
use crate::{
    BackupInfo, BackupKind, Backups, Connection, Error, Migrator, RestoreFrom, RestoreOptions,
    RestoreReport, Result, Step,
};
use migrate_core::protocol::{self, Backend, Operation, Settings};
use migrate_core::{DownTarget, Plan, Registry, Resolution, RunReport, SchemaDiff, StatusReport};

/// A PostgreSQL database opened by a [`Migrator`], with its validated migrations.
///
/// ```no_run
/// use migrate_postgres::{Migration, Migrator, Step};
/// let mut db = Migrator::new()
///     .with_migrations([
///         Migration::new(1, "create_notes", Step::sql("CREATE TABLE notes (id bigint PRIMARY KEY)"))
///             .with_down(Step::sql("DROP TABLE notes")),
///     ])
///     .open("postgres://app@localhost/app")?;
/// db.up()?;
/// db.redo()?;
/// db.down_to(0)?;
/// assert_eq!(db.status()?.current, None);
/// # Ok::<(), migrate_postgres::Error>(())
/// ```
pub struct Session {
    conn: Connection,
    registry: Registry<Step>,
    config: Migrator,
    label: String,
}

impl Session {
    pub(crate) fn new(
        conn: Connection,
        registry: Registry<Step>,
        config: Migrator,
    ) -> Result<Self> {
        let label = format!(
            "database {:?} (tracking schema {:?})",
            conn.database,
            conn.schema()
        );
        Ok(Session {
            conn,
            registry,
            config,
            label,
        })
    }

    /// Applies every pending migration.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let report = db.up()?;
    /// println!("{report}");
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn up(&mut self) -> Result<RunReport> {
        self.run(Operation::Up(None))
    }

    /// Applies pending migrations up to and including `seq`.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// assert_eq!(db.up_to(2)?.after, Some(2));
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn up_to(&mut self, seq: u64) -> Result<RunReport> {
        self.run(Operation::Up(Some(seq)))
    }

    /// Reverts the last `steps` applied migrations (refused, changing nothing, when fewer are
    /// applied).
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// db.down(1)?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn down(&mut self, steps: usize) -> Result<RunReport> {
        self.run(Operation::Down(DownTarget::Steps(steps)))
    }

    /// Reverts every applied migration above `seq` (0 reverts all).
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// assert_eq!(db.down_to(0)?.after, None);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn down_to(&mut self, seq: u64) -> Result<RunReport> {
        self.run(Operation::Down(DownTarget::To(seq)))
    }

    /// Reverts the last applied migration and applies it again, in one transaction.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// assert_eq!(db.redo()?.steps.len(), 2);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn redo(&mut self) -> Result<RunReport> {
        self.run(Operation::Redo)
    }

    /// A backend for a dry run, with the registry and configuration it needs.
    pub(crate) fn dry_run_parts(&mut self) -> (PgBackend<'_>, &Registry<Step>, &Migrator) {
        let backups = self.config.backups.for_connection(&self.conn);
        let backend = PgBackend::new(
            &mut self.conn,
            self.label.clone(),
            self.config.applied_by(),
            backups,
        )
        .judging(&self.config);
        (backend, &self.registry, &self.config)
    }

    fn backend(&mut self) -> PgBackend<'_> {
        let backups = self.config.backups.for_connection(&self.conn);
        PgBackend::new(
            &mut self.conn,
            self.label.clone(),
            self.config.applied_by(),
            backups,
        )
        .judging(&self.config)
    }

    /// Borrows the registry and the configuration (a start with nothing to do copies neither).
    fn run(&mut self, op: Operation) -> Result<RunReport> {
        let backups = self.config.backups.for_connection(&self.conn);
        let mut backend = PgBackend::new(
            &mut self.conn,
            self.label.clone(),
            self.config.applied_by(),
            backups,
        )
        .judging(&self.config);
        backend.run_backup = self.config.backups.run.clone();
        let settings = Settings {
            policy: &self.config.policy,
            failure: self.config.failure,
            hooks: &self.config.hooks,
        };
        let report = protocol::run(&mut backend, &self.registry, settings, op);
        if let Some(run) = &self.config.backups.run {
            // The next set's restore policy must not take this set's writes for others'.
            run.record_txids(backend.own_txids());
        }
        report
    }

    /// The plan: every migration's state against the database, without changing anything.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let plan = db.plan()?;
    /// # let _ = plan; Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn plan(&mut self) -> Result<Plan> {
        let rows = self.conn.tracking().read_plan_rows(self.registry.set())?;
        Ok(Plan::new(&self.registry, &rows))
    }

    /// Where every migration stands, with times, and any schema drift (objects changed by
    /// hand since the last run, from the catalog fingerprint).
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// println!("{}", db.status()?);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn status(&mut self) -> Result<StatusReport> {
        let recorded = self.conn.tracking().read_rows(self.registry.set())?;
        let drift = self.drift()?;
        Ok(StatusReport::assemble(&self.registry, &recorded, drift))
    }

    /// Differences between the live schema and the one recorded after the last run.
    fn drift(&mut self) -> Result<Option<SchemaDiff>> {
        if !self.conn.tracking().tables_exist()? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT type, name, sql FROM {}",
            self.conn.schema.qualify("_migrate_schema")
        );
        let stored: migrate_core::SchemaObjects = self
            .conn
            .client()
            .query(&sql, &[])?
            .iter()
            .map(|r| ((r.get(0), r.get(1)), r.get(2)))
            .collect();
        if stored.is_empty() {
            return Ok(None);
        }
        let diff = SchemaDiff::between(&stored, &self.conn.schema_objects()?);
        Ok((!diff.is_empty()).then_some(diff))
    }

    /// The history of this set, oldest first.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// for row in db.history()? {
    ///     println!("{} {} {}", row.at, row.event.action, row.event.outcome);
    /// }
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn history(&mut self) -> Result<Vec<HistoryRow>> {
        let set = self.registry.set().to_owned();
        self.conn.tracking().read_history(&set)
    }

    /// Settles a `transaction = false` migration that started and never finished, after you
    /// checked the database; recorded in the history. Under the migration lock, in one
    /// transaction.
    ///
    /// ```no_run
    /// use migrate_postgres::Resolution;
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// db.resolve(3, Resolution::NotApplied)?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn resolve(&mut self, seq: u64, resolution: Resolution) -> Result<()> {
        let set = self.registry.set().to_owned();
        let applied_by = self.config.applied_by();
        let mut backend = self.backend();
        backend.lock()?;
        let result = backend.begin().and_then(|()| {
            let resolved = resolve_in_transaction(&mut backend, &set, seq, resolution, &applied_by)
                .and_then(|()| backend.commit("resolving"));
            if resolved.is_err() {
                backend.rollback();
            }
            resolved
        });
        backend.unlock();
        result
    }

    /// The pre-migration backup of a run over several sets, taken once before the first
    /// (`migrate up --all-sets`): exact (every user table held `IN EXCLUSIVE MODE` while it is
    /// dumped, readers go on; the locks wait at most [`crate::Settings::lock_timeout`], then
    /// it fails with SQLSTATE 55P03 and nothing is written), with what the automatic restore
    /// policy compares against later.
    /// Nothing is written; pass it to each set's [`Migrator::with_run_backup`].
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/tmp/b").open("postgres://app@localhost/app")?;
    /// let taken = db.back_up_for_run()?;
    /// assert!(taken.info().path.is_file());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn back_up_for_run(&mut self) -> Result<crate::RunBackup> {
        let backups = self.store()?;
        let lock_timeout = crate::batch::millis(self.conn.settings.lock_timeout);
        let mut tx = self
            .conn
            .client
            .build_transaction()
            .read_only(false)
            .start()?;
        // The tables' locks wait as a run's own backup does, not behind an open transaction
        // for as long as it lasts (with every new writer queued behind them).
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {lock_timeout}"))?;
        let snapshot = crate::restore_policy::snapshot(&mut tx)?;
        let kind = BackupKind::Automatic {
            reason: Operation::Up(None).backup_reason().into(),
        };
        let info = backups.back_up_in(&mut tx, kind)?;
        let baseline = crate::restore_policy::baseline(&mut tx, snapshot)?;
        // Read only: ending it releases the table locks.
        tx.rollback()?;
        if let Err(e) = backups.prune(&[info.path.as_path()]) {
            log::warn!("old backups were not pruned: {e}");
        }
        Ok(crate::RunBackup::new(info, baseline))
    }

    /// Takes a verified backup now (`pg_dump -Fc`, read back completely) into the backup
    /// directory, kind [`BackupKind::Manual`]: never pruned (kept until you delete the file).
    /// Retention then runs over the automatic backups, as after a run.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// println!("{}", db.backup()?.path.display());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn backup(&mut self) -> Result<BackupInfo> {
        let backups = self.store()?;
        let info = backups.back_up(&mut self.conn, BackupKind::Manual)?;
        if let Err(e) = backups.prune(&[info.path.as_path()]) {
            log::warn!("old backups were not pruned: {e}");
        }
        Ok(info)
    }

    /// Takes a named snapshot (never pruned). Names are ASCII letters, digits, `-` and `_`.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// db.snapshot("before-import")?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn snapshot(&mut self, name: &str) -> Result<BackupInfo> {
        self.store()?.snapshot(&mut self.conn, name)
    }

    /// Every backup and snapshot of this database, oldest first (failed-state copies are
    /// listed apart, by [`failed_states`](Self::failed_states)).
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// for b in db.backups()? {
    ///     println!("{} {:?}", b.path.display(), b.kind);
    /// }
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn backups(&self) -> Result<Vec<BackupInfo>> {
        Ok(self
            .store()?
            .list()?
            .into_iter()
            .filter(|b| b.kind != BackupKind::FailedState)
            .collect())
    }

    /// The states failed `transaction = false` migrations left, kept before each automatic
    /// restore, oldest first. Never restored as "the newest backup".
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// assert!(db.failed_states()?.is_empty());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn failed_states(&self) -> Result<Vec<BackupInfo>> {
        Ok(self
            .store()?
            .list()?
            .into_iter()
            .filter(|b| b.kind == BackupKind::FailedState)
            .collect())
    }

    /// Restores a backup (a file, a snapshot, or the newest) under the migration lock: the
    /// dump is read back completely, an undo backup of the current state is taken, then one
    /// transaction replaces every user schema. `report.undo_backup` undoes it.
    ///
    /// ```no_run
    /// use migrate_postgres::RestoreFrom;
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// let report = db.restore(&RestoreFrom::Snapshot("before-import".into()))?;
    /// println!("undo: migrate restore {}", report.undo_backup.path.display());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn restore(&mut self, from: &RestoreFrom) -> Result<RestoreReport> {
        self.restore_with(from, RestoreOptions::default())
    }

    /// [`restore`](Self::restore) with options: e.g. a dump that is not one of this
    /// database's backups (`migrate restore FILE --allow-foreign-source`).
    ///
    /// ```no_run
    /// use migrate_postgres::{RestoreFrom, RestoreOptions};
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// let from = RestoreFrom::File("/tmp/other.dump".into());
    /// db.restore_with(&from, RestoreOptions::default().allow_foreign_source())?;
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn restore_with(
        &mut self,
        from: &RestoreFrom,
        options: RestoreOptions,
    ) -> Result<RestoreReport> {
        let backups = self.store()?;
        let mut lock = self.conn.lock()?;
        let report = backups.restore_with(&mut lock, from, options)?;
        drop(lock);
        // Neither the undo backup nor the one just restored (a second restore may need it).
        let keep = [
            report.undo_backup.path.as_path(),
            report.restored_from.as_path(),
        ];
        if let Err(e) = backups.prune(&keep) {
            log::warn!("old backups were not pruned: {e}");
        }
        Ok(report)
    }

    /// The backups of this database (directory, retention, tools), or why this migrator has
    /// none: [`Error::Unsupported`] without a `backup_dir` or with `without_backups()`.
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().backup_dir("/var/backups/app")
    /// #     .open("postgres://app@localhost/app")?;
    /// assert!(db.store()?.dir().ends_with("app"));
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn store(&self) -> Result<Backups> {
        self.config
            .backups
            .for_connection(&self.conn)
            .map_err(Error::Unsupported)
    }

    /// The connection (its schema, settings, and the client for your own queries).
    ///
    /// ```no_run
    /// # let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let n: i64 = db.connection().client().query_one("SELECT 1::bigint", &[])?.get(0);
    /// # let _ = n; Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn resolve_in_transaction(
    backend: &mut PgBackend<'_>,
    set: &str,
    seq: u64,
    resolution: Resolution,
    applied_by: &str,
) -> Result<()> {
    let rows = backend.read_rows_locked(set)?;
    let row = protocol::resolvable(&rows, set, seq)?;
    backend.settle(set, row, resolution == Resolution::Applied, applied_by)?;
    backend.write_history(&[protocol::resolution_event(set, row, resolution)])
}
