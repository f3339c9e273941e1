//! The dry runs users call on a [`Session`].

use super::{DryRun, DryRunOperation, DryRunOptions};
use crate::{Result, Session};
use migrate_core::DownTarget;

impl Session {
    /// What `up` would do: every pending migration run in one transaction that is rolled back,
    /// under the migration lock, with its SQL, schema changes, rows, table locks, rewrites and
    /// warnings. Nothing is changed, not even the tracking tables. Refused as `up` refuses.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let dry = db.dry_run()?;
    /// print!("{dry}");
    /// assert!(dry.is_ok(), "up would fail: {:?}", dry.failure());
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run(&mut self) -> Result<DryRun> {
        self.dry_run_with(DryRunOperation::Up, &DryRunOptions::default())
    }

    /// What `up_to(seq)` would do: the pending migrations up to `seq`, as [`Session::dry_run`]
    /// shows them. Refused as `up_to` refuses (a seq no migration has); a seq already applied
    /// has nothing to do.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let dry = db.dry_run_to(3)?;
    /// assert!(dry.migrations.iter().all(|m| m.seq <= 3));
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run_to(&mut self, seq: u64) -> Result<DryRun> {
        self.dry_run_with(DryRunOperation::UpTo(seq), &DryRunOptions::default())
    }

    /// What `down(steps)` would do (refused, as `down` is, when fewer are applied): the tables
    /// and columns it would drop and the rows that would go.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// for m in db.dry_run_down(1)?.migrations {
    ///     for (table, rows) in m.rows_lost() {
    ///         println!("migration {} would delete {rows} rows of {table}", m.seq);
    ///     }
    /// }
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run_down(&mut self, steps: usize) -> Result<DryRun> {
        let op = DryRunOperation::Down(DownTarget::Steps(steps));
        self.dry_run_with(op, &DryRunOptions::default())
    }

    /// What `down_to(seq)` would do.
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// println!("{}", db.dry_run_down_to(0)?);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run_down_to(&mut self, seq: u64) -> Result<DryRun> {
        let op = DryRunOperation::Down(DownTarget::To(seq));
        self.dry_run_with(op, &DryRunOptions::default())
    }

    /// What `redo` would do: the last applied migration reverted, then applied again (refused
    /// when nothing is applied).
    ///
    /// ```no_run
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// assert_eq!(db.dry_run_redo()?.migrations.len(), 2);
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run_redo(&mut self) -> Result<DryRun> {
        self.dry_run_with(DryRunOperation::Redo, &DryRunOptions::default())
    }

    /// A dry run of `op` with your thresholds for "big table" warnings.
    ///
    /// ```no_run
    /// use migrate_postgres::{DryRunOperation, DryRunOptions};
    /// let mut db = migrate_postgres::Migrator::new().open("postgres://app@localhost/app")?;
    /// let options = DryRunOptions::default().big_table_bytes(100 * 1024 * 1024);
    /// let dry = db.dry_run_with(DryRunOperation::Up, &options)?;
    /// for (m, warning) in dry.warnings() {
    ///     println!("migration {}: {warning}", m.seq);
    /// }
    /// # Ok::<(), migrate_postgres::Error>(())
    /// ```
    pub fn dry_run_with(&mut self, op: DryRunOperation, options: &DryRunOptions) -> Result<DryRun> {
        let (mut backend, registry, config) = self.dry_run_parts();
        let registry = registry.clone();
        let policy = config.policy.clone();
        // The real run would take its exact backup first, and its locks with it.
        let backs_up = config.backups.for_connection(backend.conn).is_ok();
        super::run(&mut backend, &registry, &policy, op, options, backs_up)
    }
}
